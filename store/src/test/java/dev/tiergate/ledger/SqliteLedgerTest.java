package dev.tiergate.ledger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tiergate.budget.Admission;
import dev.tiergate.budget.CallAttributes;
import dev.tiergate.budget.ReservationId;
import dev.tiergate.pricing.Money;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The ledger contract on a SQLite file in a temp folder, plus SQLite's query plans. */
class SqliteLedgerTest extends LedgerContract {
    @TempDir
    Path dir;

    private final List<SqliteDatabase> databases = new ArrayList<>();

    @Override
    Ledger open(String instanceId, TestClock clock) {
        SqliteDatabase db = SqliteDatabase.open(dir.resolve("tiergate.db"));
        databases.add(db);
        return new JdbcLedger(db, instanceId, clock);
    }

    @Override
    Connection connect() throws SQLException {
        return DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("tiergate.db"));
    }

    @Override
    String schema() {
        return "main";
    }

    /** A plan step that reads all of something: a table if the name is one (not a VALUES list or a subquery). */
    private static final Pattern SCAN = Pattern.compile("^SCAN (\\w+)");

    @Test
    void everyWriteFindsItsRowsByKeyInsteadOfScanningATable() throws SQLException {
        // the writes of every path a call can take: admitted and settled, released, denied, renewed, recovered
        CallAttributes run = CallAttributes.of("k1", "a", "x", "run-1");
        ledger.settle(admitted(reserve(ledger, run, usd("0.30"))), ok(usd("0.01")));
        ledger.release(admitted(reserve(ledger, TEAM_A, usd("0.20"))), ok(Money.ZERO));
        CallAttributes tight = CallAttributes.of("tight-key", "a", "y", "");
        assertThat(reserve(ledger, tight, usd("5"))).isInstanceOf(Admission.Denied.class);
        ReservationId open = admitted(reserve(ledger, TEAM_A, usd("0.10")));
        assertThat(ledger.renew(List.of(open), clock.instant().plus(LEASE))).isEqualTo(1);
        clock.advance(LEASE.multipliedBy(2));
        assertThat(ledger.recoverExpired(clock.instant()).requestIds()).hasSize(1);
        assertThat(ledger.calls(CallQuery.latest(10)).rows()).hasSize(4); // reading folds the settled calls

        java.util.Set<String> sql = databases.get(0).writeSql();
        // the fold charges the windows it lists, each found by key
        assertThat(sql).anyMatch(s -> s.startsWith("UPDATE budget_window AS w SET spent_nanos"));
        // admission writes the reservation alone; the windows' reserved lives in the writer's memory (BudgetBook)
        assertThat(sql).anyMatch(s -> s.startsWith("INSERT INTO reservation"));
        assertThat(sql).noneMatch(s -> s.contains("reserved_nanos") || s.contains("reservation_budget"));
        List<String> scans = new ArrayList<>();
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("tiergate.db"));
                Statement s = c.createStatement()) {
            java.util.Set<String> tables = new java.util.HashSet<>();
            try (ResultSet rs = s.executeQuery("SELECT name FROM sqlite_master WHERE type = 'table'")) {
                while (rs.next()) {
                    tables.add(rs.getString(1));
                }
            }
            assertThat(tables)
                    .contains("budget_window", "reservation", "ledger")
                    .doesNotContain("reservation_budget");
            for (String statement : sql) {
                try (ResultSet plan = s.executeQuery("EXPLAIN QUERY PLAN " + statement)) {
                    while (plan.next()) {
                        Matcher m = SCAN.matcher(plan.getString("detail"));
                        // reservation holds only the calls in flight and those settled since the last fold: the
                        // fold reads all of it, and recovery the open ones
                        if (m.find()
                                && tables.contains(m.group(1))
                                && !m.group(1).equals("reservation")) {
                            scans.add(m.group(1) + " in: " + statement);
                        }
                    }
                }
            }
        }
        // a scan costs more as the table grows: budget windows (one per workflow run) and the ledger only grow
        assertThat(scans).isEmpty();
    }

    @Test
    void settlingACallItAdmittedUpdatesTheRowAndReadsNothingBack() {
        CallAttributes x = CallAttributes.of("k1", "", "x", "");
        ledger.settle(admitted(reserve(ledger, x, usd("0.90"))), ok(usd("0.50")));

        // the row's columns and windows come back only for a reservation this ledger does not hold in memory
        assertThat(databases.get(0).writeSql())
                .anyMatch(s -> s.startsWith("UPDATE reservation SET recorded_at"))
                .noneMatch(s -> s.contains("RETURNING") || s.contains("json_each(?)"));

        // another ledger on the file settles a reservation it did not admit from what the row says: the same
        // windows charged, the same events raised
        Ledger other = track(open("gw-2", clock));
        Settlement s = other.settle(admitted(reserve(ledger, x, usd("0.90"))), ok(usd("0.70")));
        assertThat(databases.get(1).writeSql()).anyMatch(sql -> sql.contains("RETURNING"));
        assertThat(s).isInstanceOf(Settlement.Settled.class);
        assertThat(((Settlement.Settled) s).events())
                .extracting(e -> e.kind() + " " + e.budget())
                .containsExactly("SOFT_LIMIT_CROSSED soft-x");
        assertThat(status("soft-x", x).spent()).isEqualTo(usd("1.20"));
        assertThat(status("global", x).spent()).isEqualTo(usd("1.20"));
        assertThat(status("global", x).reserved()).isEqualTo(Money.ZERO);
    }

    @Test
    void admissionReadsEachWindowFromTheFileOnceAndThenFromMemory() throws SQLException {
        for (int i = 0; i < 20; i++) {
            ledger.settle(admitted(reserve(ledger, TEAM_A, usd("0.20"))), ok(usd("0.01")));
            if (i == 10 || i == 15) {
                // checkpoints from another connection, the two kinds the checkpoint thread runs, change no data:
                // no reload (a TRUNCATE, which it never runs, would make the writer read the windows again)
                try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("tiergate.db"));
                        Statement s = c.createStatement()) {
                    s.execute(i == 10 ? "PRAGMA wal_checkpoint(PASSIVE)" : "PRAGMA wal_checkpoint(RESTART)");
                }
            }
        }

        // TEAM_A's calls fall in two windows: team-a's day and global's month
        assertThat(databases.get(0).book().loads()).isEqualTo(2);
        assertThat(status("team-a", TEAM_A).spent()).isEqualTo(usd("0.20"));
        assertThat(status("team-a", TEAM_A).reserved()).isEqualTo(Money.ZERO);
    }

    @Test
    void aWriterOnAnotherConnectionIsSeenBeforeTheNextAdmission() {
        Ledger other = track(open("gw-2", clock));
        admitted(reserve(ledger, TEAM_A, usd("2.00")));
        // the other ledger reads team-a's window with this one's open reservation on it
        admitted(reserve(other, TEAM_A, usd("2.00")));
        assertThat(reserve(other, TEAM_A, usd("1.00"))).isInstanceOf(Admission.Denied.class);

        // this ledger's memory says 2.00 reserved; the file says 4.00, and 4.00 + 1.00 is over team-a's 4.50
        Admission third = reserve(ledger, TEAM_A, usd("1.00"));

        assertThat(third).isInstanceOf(Admission.Denied.class);
        assertThat(((Admission.Denied) third).reserved()).isEqualTo(usd("4.00"));
        assertThat(databases.get(0).book().loads()).isEqualTo(4);
    }

    @Test
    void aTransactionThatRollsBackLeavesNothingOfItsAdmissionBehind() {
        SqliteDatabase db = databases.get(0);
        List<dev.tiergate.budget.AppliedBudget> windows = RULES.applicable(TEAM_A, clock.instant()).stream()
                .sorted(dev.tiergate.budget.AppliedBudget.ORDER)
                .toList();
        admitted(reserve(ledger, TEAM_A, usd("0.50")));

        assertThatThrownBy(() -> db.write(tx -> {
                    assertThat(db.book().admit(tx, windows, usd("3.50"))).isNull();
                    throw new SQLException("the transaction fails after the admission");
                }))
                .hasMessageContaining("the transaction fails after the admission");

        // 0.50 + 3.50 fits team-a's 4.50 only if the failed admission's 3.50 is not still held in memory
        admitted(reserve(ledger, TEAM_A, usd("3.50")));
        assertThat(reserve(ledger, TEAM_A, usd("0.60"))).isInstanceOf(Admission.Denied.class);
        assertThat(status("team-a", TEAM_A).reserved()).isEqualTo(usd("4.00"));
    }

    @Test
    void theListingOfAllWindowsFindsEachHeldWindowByKey() throws SQLException {
        admitted(reserve(ledger, TEAM_A, usd("0.20")));
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("tiergate.db"));
                Statement s = c.createStatement();
                ResultSet plan =
                        s.executeQuery("EXPLAIN QUERY PLAN SELECT * FROM budget_window_status WHERE window_end > 0")) {
            List<String> steps = new ArrayList<>();
            while (plan.next()) {
                steps.add(plan.getString("detail"));
            }
            // each held window looked up by key, not the held windows scanned for every window (a LEFT JOIN's
            // "SCAN w", "SCAN h LEFT-JOIN"), which grew as windows x open reservations
            assertThat(steps).contains("SEARCH w USING PRIMARY KEY (budget=? AND subject=? AND window_start=?)");
            assertThat(steps).noneMatch(step -> step.contains("LEFT-JOIN"));
        }
        assertThat(ledger.budgetStatus(clock.instant()))
                .extracting(st -> st.budget().budget() + "=" + st.reserved().toUsdString())
                .containsExactly("global=0.200000000", "team-a=0.200000000");
    }

    /** A ledger on this test's file whose settled calls are folded only when it is read, opened or closed. */
    private Ledger openFoldingOnlyOnRead(String instanceId) {
        SqliteDatabase db = SqliteDatabase.open(dir.resolve("tiergate.db"));
        databases.add(db);
        return track(new JdbcLedger(db, instanceId, clock, Duration.ofDays(1)));
    }

    /** The first column of the first row of {@code sql}, read from the file through a connection of its own. */
    private String raw(String sql) throws SQLException {
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("tiergate.db"));
                Statement s = c.createStatement();
                ResultSet rs = s.executeQuery(sql)) {
            return rs.next() ? String.valueOf(rs.getString(1)) : "no row";
        }
    }

    @Test
    void aSettledCallIsOneRowUpdatedThatEveryReaderCountsBeforeItIsFolded() throws SQLException {
        Ledger first = openFoldingOnlyOnRead("gw-2");
        Ledger second = openFoldingOnlyOnRead("gw-3");

        first.settle(admitted(reserve(first, TEAM_A, usd("4.20"))), ok(usd("4.20")));

        // the file: the reservation's own row, now settled; no ledger row, the windows' rows not charged yet
        assertThat(raw("SELECT status || ' ' || cost_nanos FROM reservation")).isEqualTo("ok 4200000000");
        assertThat(raw("SELECT COUNT(*) FROM ledger")).isEqualTo("0");
        assertThat(raw("SELECT spent_nanos FROM budget_window WHERE budget = 'team-a'"))
                .isEqualTo("0");
        // every reader counts it: the status view, and another writer reading team-a's window for its book
        assertThat(first.budgetStatus(clock.instant()))
                .extracting(st -> st.budget().budget() + " " + st.spent().toUsdString() + " " + st.reserved())
                .containsExactly("global 4.200000000 0.000000000 USD", "team-a 4.200000000 0.000000000 USD");
        ReservationId last = admitted(reserve(second, TEAM_A, usd("0.30")));
        assertThat(second.status(RULES.applicable(TEAM_A, clock.instant())))
                .extracting(st -> st.budget().budget() + " " + st.spent().toUsdString() + " " + st.reserved())
                .containsExactlyInAnyOrder("team-a 4.200000000 0.300000000 USD", "global 4.200000000 0.300000000 USD");

        // reading the ledger folds: the row moves, its cost goes into its windows' rows, totals unchanged
        assertThat(first.calls(CallQuery.latest(10)).rows())
                .extracting(row ->
                        row.call().requestId() + " " + row.outcome().cost().toUsdString())
                .containsExactly("req-1 4.200000000");
        assertThat(raw("SELECT COUNT(*) FROM reservation WHERE status IS NOT NULL"))
                .isEqualTo("0");
        assertThat(raw("SELECT spent_nanos FROM budget_window WHERE budget = 'team-a'"))
                .isEqualTo("4200000000");
        assertThat(raw("SELECT spent_nanos FROM budget_window WHERE budget = 'global'"))
                .isEqualTo("4200000000");
        // the other writer re-reads the window after the fold (another connection committed) and still finds 4.20
        Admission over = reserve(second, TEAM_A, usd("0.01"));
        assertThat(over).isInstanceOf(Admission.Denied.class);
        assertThat(((Admission.Denied) over).spent()).isEqualTo(usd("4.20"));
        second.settle(last, ok(usd("0.05")));
        assertThat(status("team-a", TEAM_A).spent()).isEqualTo(usd("4.25"));
        assertThat(status("team-a", TEAM_A).reserved()).isEqualTo(Money.ZERO);
    }

    @Test
    void callsSettledButNotFoldedWhenAWriterDiesAreFoldedByTheNextOneAndNeverRecovered() throws SQLException {
        Ledger dying = openFoldingOnlyOnRead("gw-2");
        dying.settle(admitted(reserve(dying, TEAM_A, usd("0.40"))), ok(usd("0.15")));
        ReservationId inFlight = admitted(reserve(dying, TEAM_A, usd("0.25")));
        assertThat(raw("SELECT COUNT(*) FROM reservation")).isEqualTo("2");
        // (never closed: a closing ledger folds first)

        clock.advance(LEASE.multipliedBy(2));
        Ledger next = track(open("gw-3", clock));
        assertThat(raw("SELECT COUNT(*) FROM ledger")).isEqualTo("1");

        // opening folded the settled call at its exact cost; recovery charges only the one still in flight
        assertThat(next.call("req-1").orElseThrow().outcome().cost()).isEqualTo(usd("0.15"));
        assertThat(next.recoverExpired(clock.instant()).requestIds()).containsExactly("req-2");
        assertThat(next.calls(CallQuery.latest(10)).rows())
                .extracting(row ->
                        row.call().requestId() + " " + row.outcome().status().wireName() + " "
                                + row.outcome().cost().toUsdString())
                .containsExactly("req-2 interrupted 0.250000000", "req-1 ok 0.150000000");
        assertThat(next.budgetStatus(clock.instant()))
                .extracting(st -> st.budget().budget() + " " + st.spent().toUsdString() + " " + st.reserved())
                .containsExactly("global 0.400000000 0.000000000 USD", "team-a 0.400000000 0.000000000 USD");
        assertThat(dying.settle(inFlight, ok(usd("0.01")))).isInstanceOf(Settlement.AlreadyRecovered.class);
    }

    @Test
    void aFoldThatFindsAWindowMissingMovesNothing() throws SQLException {
        Ledger l = openFoldingOnlyOnRead("gw-2");
        l.settle(admitted(reserve(l, TEAM_A, usd("0.40"))), ok(usd("0.15")));
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("tiergate.db"));
                Statement s = c.createStatement()) {
            s.execute("DELETE FROM budget_window WHERE budget = 'team-a'");
        }

        assertThatThrownBy(() -> l.calls(CallQuery.latest(10)))
                .hasMessageContaining("settled calls list 2 budget windows but only 1 exist; nothing was folded");
        assertThat(raw("SELECT status FROM reservation")).isEqualTo("ok");
        assertThat(raw("SELECT spent_nanos FROM budget_window WHERE budget = 'global'"))
                .isEqualTo("0");
    }
}
