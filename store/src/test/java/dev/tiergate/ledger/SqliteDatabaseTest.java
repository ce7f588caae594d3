package dev.tiergate.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tiergate.budget.Admission;
import dev.tiergate.budget.AppliedBudget;
import dev.tiergate.budget.BudgetStatus;
import dev.tiergate.budget.Window;
import dev.tiergate.pricing.Money;
import dev.tiergate.pricing.Usage;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What is particular to the SQLite file: its WAL stays bounded, and older schemas upgrade with their data. */
class SqliteDatabaseTest {
    static final Instant T0 = Instant.parse("2026-11-29T10:00:00Z");
    static final AppliedBudget DAY = new AppliedBudget(
            "global",
            "",
            Window.DAY,
            T0.minusSeconds(36_000),
            T0.plusSeconds(50_400),
            Money.parseUsd("1000"),
            true,
            false);

    @TempDir
    Path dir;

    @Test
    void theWalStartsOverInsteadOfGrowingWhileCallsKeepComing() throws Exception {
        Path file = dir.resolve("wal.db");
        SqliteDatabase db = SqliteDatabase.open(file);
        try (Ledger ledger = new JdbcLedger(db, "gw-1", new TestClock(T0))) {
            int pairs = 0;
            // keep the calls coming until the WAL is long enough to be started over, and the checkpointer (a round
            // every 250 ms) has done it twice
            long deadline = System.nanoTime() + 120_000_000_000L;
            while (db.walRestarts() < 2 && System.nanoTime() < deadline) {
                pair(ledger, "r-" + pairs++);
            }
            assertThat(db.walRestarts()).as("WAL restarts within two minutes").isGreaterThanOrEqualTo(2);
            // every pair commits twice, so at least 2 x pairs frames were appended in all; a WAL that never
            // starts over still holds every one of them, one that does holds only those since the last restart
            assertThat(walFrames(file))
                    .as("frames in the WAL after %d pairs", pairs)
                    .isLessThan(pairs);
        }
    }

    /** How many frames the WAL holds now (the "log" column of a checkpoint, which then copies nothing new). */
    private static int walFrames(Path file) throws Exception {
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + file);
                Statement s = c.createStatement();
                var rs = s.executeQuery("PRAGMA wal_checkpoint(PASSIVE)")) {
            rs.next();
            return rs.getInt(2);
        }
    }

    private static void pair(Ledger ledger, String requestId) {
        Call call = new Call(
                requestId, T0, "k", "a", "extraction", "small", "task:extraction", "claude-haiku-4-5", "", "", 100);
        Admission a = ledger.reserve(call, List.of(DAY), Money.parseUsd("0.01"), T0.plusSeconds(60));
        ledger.settle(
                ((Admission.Admitted) a).reservation(),
                Outcome.ok("claude-haiku-4-5", Usage.of(10, 5), Money.parseUsd("0.001"), 5, 2, "end_turn"));
    }

    @Test
    void aVersionTwoLedgerUpgradesKeepingItsBudgetsAndOpenReservations() throws Exception {
        Path file = dir.resolve("v2.db");
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + file);
                Statement s = c.createStatement()) {
            for (int v = 1; v <= 2; v++) {
                for (String sql : Migrations.statements(Dialect.SQLITE, Migrations.ALL.get(v - 1))) {
                    s.execute(sql);
                }
            }
            s.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                    + " applied_at BIGINT NOT NULL)");
            s.execute("INSERT INTO schema_version VALUES (1, 'V1__ledger', 0), (2, 'V2__shadow_evidence', 0)");
            long start = DAY.windowStart().toEpochMilli();
            long end = DAY.windowEnd().toEpochMilli();
            // 3 USD spent, 0.5 USD reserved by a call of an instance that died (lease already expired)
            s.execute("INSERT INTO budget_window VALUES ('global', '', " + start + ", " + end
                    + ", 'day', 1000000000000, 1, 0, 3000000000, 500000000)");
            s.execute("INSERT INTO reservation VALUES ('res-1', 'req-1', 'gw-dead', 500000000, 0, 1, 0, 'k', 'a',"
                    + " 'extraction', 'small', 'task:extraction', 'claude-haiku-4-5', '', '', 100)");
            s.execute("INSERT INTO reservation_budget VALUES ('res-1', 'global', '', " + start + ")");
        }

        try (Ledger ledger = Ledger.sqlite(file, "gw-1", new TestClock(T0))) {
            BudgetStatus before = ledger.status(List.of(DAY)).get(0);
            assertThat(before.spent()).isEqualTo(Money.parseUsd("3"));
            assertThat(before.reserved()).isEqualTo(Money.parseUsd("0.5"));

            Recovery r = ledger.recoverExpired(T0);

            assertThat(r.requestIds()).containsExactly("req-1");
            BudgetStatus after = ledger.status(List.of(DAY)).get(0);
            assertThat(after.spent()).isEqualTo(Money.parseUsd("3.5"));
            assertThat(after.reserved()).isEqualTo(Money.ZERO);
            assertThat(ledger.call("req-1").orElseThrow().outcome().status()).isEqualTo(CallStatus.INTERRUPTED);
        }
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + file);
                Statement s = c.createStatement();
                var rs = s.executeQuery("SELECT COUNT(*) FROM sqlite_master WHERE name LIKE '%_v3'"
                        + " OR sql LIKE '%WITHOUT ROWID%'")) {
            rs.next();
            // the per-call tables were rebuilt without rowids and renamed back, no _v3 table left behind; V4 then
            // dropped reservation_budget, after copying the open reservation's window into its row (charged above)
            assertThat(rs.getInt(1)).isEqualTo(2);
        }
    }
}
