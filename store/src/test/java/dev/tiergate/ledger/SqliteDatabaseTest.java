package dev.tiergate.ledger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tiergate.budget.Admission;
import dev.tiergate.budget.AppliedBudget;
import dev.tiergate.budget.BudgetStatus;
import dev.tiergate.budget.Window;
import dev.tiergate.pricing.Money;
import dev.tiergate.pricing.Usage;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sqlite.SQLiteErrorCode;
import org.sqlite.SQLiteException;

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
            // each restart held this process's writes back, and the ledger says so (tiergate_ledger_write_holds)
            WriteStats stats = db.writeStats();
            assertThat(stats.holds()).isGreaterThanOrEqualTo(db.walRestarts());
            assertThat(stats.heldNanos()).isPositive();
            // every pair commits twice, so at least 2 x pairs frames were appended in all; a WAL that never
            // starts over still holds every one of them, one that does holds only those since the last restart
            assertThat(walFrames(file))
                    .as("frames in the WAL after %d pairs", pairs)
                    .isLessThan(pairs);
        }
    }

    /**
     * A RESTART checkpoint holds SQLite's write lock through its fsyncs; a writer of this process that met it would
     * wait inside its JNI call, in SQLite's busy handler (sleeps of 1, 2, 5 ms...), pinning its virtual thread's
     * carrier. So the restart waits for this process's writes to let it in, and they wait in Java for it.
     */
    @Test
    void aWalRestartWaitsForTheWriteInProgressInsteadOfFailingOrMakingItWaitInsideSqlite() throws Exception {
        Path file = dir.resolve("restart.db");
        SqliteDatabase db = SqliteDatabase.open(file);
        try (Ledger ledger = new JdbcLedger(db, "gw-1", new TestClock(T0));
                ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            pair(ledger, "r-0");
            CountDownLatch inside = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            // a write transaction in progress: SQLite's write lock is held by the writer's connection
            Future<Integer> write = pool.submit(() -> db.write(tx -> {
                inside.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
                return tx.prepare("DELETE FROM ledger WHERE request_id = 'none'")
                        .executeUpdate();
            }));
            assertThat(inside.await(10, TimeUnit.SECONDS)).isTrue();
            CompletableFuture<Boolean> restart = new CompletableFuture<>();
            Thread restarter;
            try {
                restarter = Thread.ofPlatform().start(() -> {
                    try {
                        restart.complete(db.restartWal());
                    } catch (SQLException | RuntimeException e) {
                        restart.completeExceptionally(e);
                    }
                });
                // the checkpointer never waits inside SQLite (busy_timeout 0): had it gone ahead, it would have
                // found the write lock taken and given up at once
                Polling.await(
                        () -> restart.isDone() || connectionLock(db).hasQueuedThread(restarter),
                        () -> "the restart neither finished nor waited for the connection");
                assertThat(restart)
                        .as("a restart that did not wait for the write in progress")
                        .isNotDone();
            } finally {
                release.countDown();
            }

            assertThat(write.get(10, TimeUnit.SECONDS)).isZero();
            assertThat(restart.get(10, TimeUnit.SECONDS))
                    .as("the WAL started over")
                    .isTrue();
            assertThat(db.walRestarts()).isGreaterThanOrEqualTo(1);
            restarter.join();
        }
    }

    /** The group commit's connection lock, held by whoever runs a write transaction. */
    private static ReentrantLock connectionLock(SqliteDatabase db) throws Exception {
        var writes = SqliteDatabase.class.getDeclaredField("writes");
        writes.setAccessible(true);
        var connection = GroupCommit.class.getDeclaredField("connection");
        connection.setAccessible(true);
        return (ReentrantLock) connection.get(writes.get(db));
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
    void aVersionTwoLedgerOfTheEarlierRunnerUpgradesKeepingItsBudgetsAndOpenReservations() throws Exception {
        Path file = dir.resolve("v2.db");
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + file);
                Statement s = c.createStatement()) {
            OldRunner.migrate(c, Dialect.SQLITE, "main", 2);
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
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + file)) {
            // adopted at the earlier runner's version, the later scripts applied by Flyway
            assertThat(OldRunner.history(c, "main"))
                    .containsExactly("2 BASELINE true", "3 SQL true", "4 SQL true", "5 SQL true");
            assertThat(OldRunner.hasItsTable(c, "main")).isFalse();
        }
    }

    @Test
    void processesOpeningANewFileAtOnceMigrateItOnce() throws Exception {
        // each database has connections of its own: to SQLite, as good as another process
        for (int round = 0; round < ROUNDS; round++) {
            Path file = dir.resolve("race-" + round + ".db");
            CyclicBarrier start = new CyclicBarrier(OPENERS);
            List<Future<SqliteDatabase>> opening = new ArrayList<>();
            try (ExecutorService pool = Executors.newFixedThreadPool(OPENERS)) {
                for (int i = 0; i < OPENERS; i++) {
                    opening.add(pool.submit(() -> {
                        start.await();
                        return SqliteDatabase.open(file);
                    }));
                }
            }
            for (Future<SqliteDatabase> f : opening) {
                f.get(30, TimeUnit.SECONDS).close();
            }
            try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + file)) {
                assertThat(OldRunner.history(c, "main"))
                        .containsExactly("1 SQL true", "2 SQL true", "3 SQL true", "4 SQL true", "5 SQL true");
            }
        }
    }

    // SQLite refuses some of the racing openers at once (not waiting out busy_timeout) in about one round in 20-40;
    // 60 rounds (about 6 s) caught that in every run before opening retried it
    private static final int ROUNDS = 60;
    private static final int OPENERS = 6;

    @Test
    void aBusyAnswerIsRecognisedThroughWrappingsAndInItsExtendedForms() {
        assertThat(SqliteDatabase.busy(new LedgerException(
                        "cannot migrate", new SQLiteException("locked", SQLiteErrorCode.SQLITE_BUSY))))
                .isTrue();
        assertThat(SqliteDatabase.busy(new SQLiteException("stale", SQLiteErrorCode.SQLITE_BUSY_SNAPSHOT)))
                .isTrue();
        assertThat(SqliteDatabase.busy(new LedgerException(
                        "cannot migrate", new SQLiteException("bad", SQLiteErrorCode.SQLITE_CONSTRAINT))))
                .isFalse();
        assertThat(SqliteDatabase.busy(new LedgerException("no cause"))).isFalse();
    }

    @Test
    void flywaysConnectionsHaveOurSettingsAndNoneHoldsTheWriteLockOnceOpen() throws Exception {
        Path file = dir.resolve("locks.db");
        try (Connection c = SqliteDatabase.migrationSource(file).getConnection();
                Statement s = c.createStatement()) {
            assertThat(pragma(s, "busy_timeout")).isEqualTo("10000");
            assertThat(pragma(s, "synchronous")).isEqualTo("1"); // NORMAL
            assertThat(pragma(s, "journal_mode")).isEqualTo("wal");
        }
        try (SqliteDatabase db = SqliteDatabase.open(file);
                Connection other = DriverManager.getConnection("jdbc:sqlite:" + file);
                Statement s = other.createStatement()) {
            // another writer gets the lock at once: Flyway's connection is closed, the ledger's writer idle
            s.execute("PRAGMA busy_timeout=0");
            s.execute("BEGIN IMMEDIATE");
            s.execute("COMMIT");
            // and the ledger's own writer after it
            String written = db.write(tx -> "written");
            assertThat(written).isEqualTo("written");
            // the ledger's connections have the same settings as Flyway's
            String readerSettings = db.read(tx -> {
                try (Statement rs = tx.connection().createStatement()) {
                    return pragma(rs, "busy_timeout") + " " + pragma(rs, "synchronous");
                }
            });
            assertThat(readerSettings).isEqualTo("10000 1");
        }
    }

    @Test
    void aLedgerMigratedByANewerTiergateIsRefused() throws Exception {
        Path file = dir.resolve("newer.db");
        SqliteDatabase.open(file).close();
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + file);
                Statement s = c.createStatement()) {
            s.execute("INSERT INTO flyway_schema_history (installed_rank, version, description, type, script,"
                    + " checksum, installed_by, execution_time, success) VALUES (6, '6', 'from the future', 'SQL',"
                    + " 'V6__from_the_future.sql', 0, '', 0, 1)");
        }

        assertThatThrownBy(() -> SqliteDatabase.open(file))
                .isInstanceOf(LedgerException.class)
                .hasMessage("cannot open SQLite ledger " + file + ": it has migration 6, newer than this Tiergate"
                        + " knows (5); upgrade Tiergate");
    }

    private static String pragma(Statement s, String name) throws SQLException {
        try (var rs = s.executeQuery("PRAGMA " + name)) {
            rs.next();
            return rs.getString(1);
        }
    }
}
