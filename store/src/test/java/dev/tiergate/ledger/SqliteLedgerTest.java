package dev.tiergate.ledger;

import static org.assertj.core.api.Assertions.assertThat;

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

        java.util.Set<String> sql = databases.get(0).writeSql();
        assertThat(sql).anyMatch(s -> s.startsWith("UPDATE budget_window SET reserved_nanos = reserved_nanos +"));
        List<String> scans = new ArrayList<>();
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("tiergate.db"));
                Statement s = c.createStatement()) {
            java.util.Set<String> tables = new java.util.HashSet<>();
            try (ResultSet rs = s.executeQuery("SELECT name FROM sqlite_master WHERE type = 'table'")) {
                while (rs.next()) {
                    tables.add(rs.getString(1));
                }
            }
            assertThat(tables).contains("budget_window", "reservation", "reservation_budget", "ledger");
            for (String statement : sql) {
                try (ResultSet plan = s.executeQuery("EXPLAIN QUERY PLAN " + statement)) {
                    while (plan.next()) {
                        Matcher m = SCAN.matcher(plan.getString("detail"));
                        if (m.find() && tables.contains(m.group(1))) {
                            scans.add(m.group(1) + " in: " + statement);
                        }
                    }
                }
            }
        }
        // a scan costs more as the table grows: budget windows (one per workflow run) and the ledger only grow
        assertThat(scans).isEmpty();
    }
}
