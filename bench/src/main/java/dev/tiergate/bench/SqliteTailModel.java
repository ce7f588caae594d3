package dev.tiergate.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A stripped-down model of the SQLite ledger's threads, to find where its p99 tail at 1000 calls/s comes from
 * (docs/benchmarks.md, "The p99 tail"). Each pair is two transactions: three single-row UPDATEs, plus in the second
 * an INSERT into a table with one secondary index; optionally the ledger's reservation churn (insert a reservation
 * and three window rows, both WITHOUT ROWID, then delete them). Pairs start every 1 ms (open loop); the service time
 * of the last two thirds is reported.
 *
 * <pre>
 * java -cp bench/target/benchmarks.jar dev.tiergate.bench.SqliteTailModel --file /dev/shm/m.db --seconds 30 \
 *     [--virtual-threads] [--hand-off] [--checkpoint-thread] [--no-restart] [--reservations] [--window-rows N]
 *     [--ordered-ids] [--garbage-kb N]
 * </pre>
 *
 * <ul>
 *   <li>{@code --virtual-threads}: each pair on its own virtual thread (otherwise on the scheduling thread)
 *   <li>{@code --hand-off}: transactions run on one platform writer thread, callers wait on a future (as
 *       GroupCommit); otherwise the caller runs them under a lock
 *   <li>{@code --checkpoint-thread}: no automatic checkpoint; a second connection checkpoints PASSIVE every 250 ms
 *       and RESTART past 8,192 frames (as SqliteDatabase); {@code --no-restart} leaves out the RESTART
 *   <li>{@code --window-rows N}: with {@code --reservations}, how many reservation-window rows each reservation
 *       inserts and its settle deletes (default 3, one per budget as in the ledger's benchmark set-up)
 *   <li>{@code --ordered-ids}: reservation keys in time order instead of random UUIDs
 *   <li>{@code --garbage-kb N}: each pair also allocates N KB that it drops at once
 * </ul>
 */
public final class SqliteTailModel {
    private static final String PAD = "x".repeat(200);
    /** Keeps {@code --garbage-kb} allocations from being optimised away. */
    @SuppressWarnings("unused")
    private static volatile byte[] SINK;

    private final Connection db;
    private final boolean reservations;
    private final int windowRows;
    private final boolean orderedIds;
    private final PreparedStatement begin;
    private final PreparedStatement commit;
    private final PreparedStatement charge;
    private final PreparedStatement insertRow;
    private final PreparedStatement insertReservation;
    private final PreparedStatement insertWindow;
    private final PreparedStatement deleteReservation;
    private final PreparedStatement deleteWindows;
    private final String[] reservationIds;

    private SqliteTailModel(Connection db, boolean reservations, int windowRows, boolean orderedIds, int pairs)
            throws SQLException {
        this.db = db;
        this.reservations = reservations;
        this.windowRows = windowRows;
        this.orderedIds = orderedIds;
        this.reservationIds = new String[pairs];
        try (Statement s = db.createStatement()) {
            s.execute("CREATE TABLE IF NOT EXISTS w (id INTEGER PRIMARY KEY, spent INTEGER)");
            s.execute("INSERT OR IGNORE INTO w VALUES (1, 0), (2, 0), (3, 0)");
            s.execute("CREATE TABLE IF NOT EXISTS l (id TEXT PRIMARY KEY, t INTEGER, k TEXT, cost INTEGER, pad TEXT)");
            s.execute("CREATE INDEX IF NOT EXISTS lt ON l (t)");
            s.execute("CREATE TABLE IF NOT EXISTS r (id TEXT PRIMARY KEY, request TEXT, owner TEXT, amount INTEGER,"
                    + " created INTEGER, lease INTEGER, attributes TEXT) WITHOUT ROWID");
            s.execute("CREATE TABLE IF NOT EXISTS rw (reservation TEXT, budget TEXT, subject TEXT, start INTEGER,"
                    + " PRIMARY KEY (reservation, budget, subject, start)) WITHOUT ROWID");
        }
        begin = db.prepareStatement("BEGIN IMMEDIATE");
        commit = db.prepareStatement("COMMIT");
        charge = db.prepareStatement("UPDATE w SET spent = spent + ? WHERE id = ?");
        insertRow = db.prepareStatement("INSERT INTO l VALUES (?, ?, ?, ?, ?)");
        insertReservation = db.prepareStatement("INSERT INTO r VALUES (?, ?, ?, ?, ?, ?, ?)");
        insertWindow = db.prepareStatement("INSERT INTO rw VALUES (?, ?, ?, ?)");
        deleteReservation = db.prepareStatement("DELETE FROM r WHERE id = ?");
        deleteWindows = db.prepareStatement("DELETE FROM rw WHERE reservation = ?");
    }

    /** One transaction of pair {@code i}: the reserve ({@code settle} false) or the settle. */
    private void transaction(int i, boolean settle) throws SQLException {
        begin.execute();
        for (int w = 1; w <= 3; w++) {
            charge.setLong(1, 5);
            charge.setInt(2, w);
            charge.executeUpdate();
        }
        if (reservations) {
            if (settle) {
                deleteReservation.setString(1, reservationIds[i]);
                deleteReservation.executeUpdate();
                if (windowRows > 0) {
                    deleteWindows.setString(1, reservationIds[i]);
                    deleteWindows.executeUpdate();
                }
            } else {
                // ordered: each new key sorts after every earlier one, as RequestIds does for request ids
                String id = orderedIds
                        ? String.format(Locale.ROOT, "%016x-%08d", System.currentTimeMillis(), i)
                        : UUID.randomUUID().toString();
                reservationIds[i] = id;
                long now = System.currentTimeMillis();
                insertReservation.setString(1, id);
                insertReservation.setString(2, "tgreq_" + i);
                insertReservation.setString(3, "model");
                insertReservation.setLong(4, 5_000_000);
                insertReservation.setLong(5, now);
                insertReservation.setLong(6, now + 120_000);
                insertReservation.setString(7, PAD);
                insertReservation.executeUpdate();
                for (int w = 0; w < windowRows; w++) {
                    insertWindow.setString(1, id);
                    insertWindow.setString(2, "budget-" + w);
                    insertWindow.setString(3, "");
                    insertWindow.setLong(4, 1_795_900_000_000L);
                    insertWindow.executeUpdate();
                }
            }
        }
        if (settle) {
            insertRow.setString(1, "tgreq_" + i + "_" + System.nanoTime());
            insertRow.setLong(2, System.currentTimeMillis());
            insertRow.setString(3, "key");
            insertRow.setLong(4, 5);
            insertRow.setString(5, PAD);
            insertRow.executeUpdate();
        }
        commit.execute();
    }

    /** A transaction waiting for the writer thread. */
    private record Job(int pair, boolean settle, CompletableFuture<Void> done) {}

    public static void main(String[] args) throws Exception {
        Map<String, String> o = LedgerLoad.options(args);
        int seconds = Integer.parseInt(o.getOrDefault("seconds", "30"));
        Path file = Path.of(o.getOrDefault(
                "file", Files.createTempDirectory("tailmodel").resolve("m.db").toString()));
        boolean virtual = o.containsKey("virtual-threads");
        boolean handOff = o.containsKey("hand-off");
        boolean checkpointThread = o.containsKey("checkpoint-thread");
        boolean restart = !o.containsKey("no-restart");
        int garbageBytes = 1024 * Integer.parseInt(o.getOrDefault("garbage-kb", "0"));
        int pairs = 1000 * seconds;

        Connection c = DriverManager.getConnection("jdbc:sqlite:" + file.toAbsolutePath());
        try (Statement s = c.createStatement()) {
            s.execute("PRAGMA journal_mode=WAL");
            s.execute("PRAGMA synchronous=NORMAL");
            s.execute("PRAGMA busy_timeout=10000");
            if (checkpointThread) {
                s.execute("PRAGMA wal_autocheckpoint=0");
            }
        }
        SqliteTailModel model = new SqliteTailModel(
                c,
                o.containsKey("reservations"),
                Integer.parseInt(o.getOrDefault("window-rows", "3")),
                o.containsKey("ordered-ids"),
                pairs);
        if (checkpointThread) {
            Connection checkpointer = DriverManager.getConnection("jdbc:sqlite:" + file.toAbsolutePath());
            try (Statement s = checkpointer.createStatement()) {
                s.execute("PRAGMA busy_timeout=0");
                s.execute("PRAGMA synchronous=NORMAL");
            }
            Thread.ofPlatform().daemon().start(() -> checkpoints(checkpointer, restart));
        }
        LinkedBlockingQueue<Job> queue = new LinkedBlockingQueue<>();
        if (handOff) {
            Thread.ofPlatform().daemon().start(() -> {
                while (true) {
                    Job job;
                    try {
                        job = queue.take();
                    } catch (InterruptedException e) {
                        return;
                    }
                    try {
                        model.transaction(job.pair(), job.settle());
                        job.done().complete(null);
                    } catch (SQLException | RuntimeException e) {
                        job.done().completeExceptionally(e);
                    }
                }
            });
        }
        ReentrantLock lock = new ReentrantLock();
        long[] service = new long[pairs];
        long t0 = System.nanoTime() + 20_000_000;
        ExecutorService pool = virtual ? Executors.newVirtualThreadPerTaskExecutor() : null;
        for (int i = 0; i < pairs; i++) {
            long due = t0 + i * 1_000_000L;
            long wait;
            while ((wait = due - System.nanoTime()) > 0) {
                LockSupport.parkNanos(wait);
            }
            int k = i;
            Runnable pair = () -> {
                long start = System.nanoTime();
                if (garbageBytes > 0) {
                    // what a virtual thread's stack chunks and a request's objects would allocate
                    SINK = new byte[garbageBytes];
                }
                for (boolean settle : new boolean[] {false, true}) {
                    if (handOff) {
                        Job job = new Job(k, settle, new CompletableFuture<>());
                        queue.add(job);
                        job.done().join();
                    } else {
                        lock.lock();
                        try {
                            model.transaction(k, settle);
                        } catch (SQLException e) {
                            throw new IllegalStateException(e);
                        } finally {
                            lock.unlock();
                        }
                    }
                }
                service[k] = System.nanoTime() - start;
            };
            if (pool != null) {
                pool.execute(pair);
            } else {
                pair.run();
            }
        }
        if (pool != null) {
            pool.close();
        }
        long[] measured = Arrays.copyOfRange(service, pairs / 3, pairs);
        Arrays.sort(measured);
        System.out.printf(
                Locale.ROOT,
                "%s: service p50 %d µs  p90 %d µs  p99 %d µs  p99.9 %d µs  max %d µs (n=%d)%n",
                String.join(" ", args),
                measured[measured.length / 2] / 1000,
                measured[(int) (measured.length * 0.9)] / 1000,
                measured[(int) (measured.length * 0.99)] / 1000,
                measured[(int) (measured.length * 0.999)] / 1000,
                measured[measured.length - 1] / 1000,
                measured.length);
        model.db.close();
    }

    private static void checkpoints(Connection checkpointer, boolean restart) {
        while (true) {
            try {
                Thread.sleep(250);
                try (Statement s = checkpointer.createStatement()) {
                    int frames;
                    try (ResultSet rs = s.executeQuery("PRAGMA wal_checkpoint(PASSIVE)")) {
                        frames = rs.next() ? rs.getInt(2) : 0;
                    }
                    if (restart && frames >= 8192) {
                        try (ResultSet rs = s.executeQuery("PRAGMA wal_checkpoint(RESTART)")) {
                            rs.next();
                        }
                    }
                }
            } catch (InterruptedException e) {
                return;
            } catch (SQLException e) {
                // busy: the next round tries again, as SqliteDatabase's checkpoint thread does
            }
        }
    }
}
