package dev.tiergate.ledger;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import javax.sql.DataSource;
import org.sqlite.SQLiteConfig;
import org.sqlite.SQLiteDataSource;
import org.sqlite.SQLiteErrorCode;
import org.sqlite.SQLiteException;

/**
 * A SQLite file in WAL mode: all writes through one connection, with group commit on a writer thread (see
 * {@link GroupCommit}; at light load a caller runs its own transaction on that connection instead), reads through
 * a second connection.
 *
 * <p>SQLite allows one writer at a time anyway; serialising in the JVM avoids busy-waiting on the file lock, and
 * {@code BEGIN IMMEDIATE} still takes the file's write lock up front so that another process on the same file
 * can never interleave between our read of a budget and our update of it. The writer keeps the budget windows in
 * memory ({@link BudgetBook}); each transaction first asks SQLite ({@code PRAGMA data_version}) whether another
 * connection has committed since, and drops the book if so.
 *
 * <p>Checkpoints (copying the WAL back into the database file, with an fsync) run on a background platform thread
 * through a third connection, not inside a caller's commit: SQLite's automatic checkpoint would otherwise stall
 * every few hundred calls for as long as the fsync takes. Each round is a PASSIVE checkpoint, which copies
 * without blocking the writer; once the WAL is longer than {@link #RESTART_AFTER_FRAMES}, a RESTART follows, which
 * copies only what was committed meanwhile and makes the next commit write the WAL from its start again, while
 * this process's writes wait for it in Java ({@link #restartWal}). PASSIVE alone never let the WAL start over while
 * commits kept coming (measured: 35 MB/s of WAL growth at 1,000 calls/s, without bound), and appending to an ever
 * longer file costs the kernel a fresh zeroed block on every frame.
 */
final class SqliteDatabase implements Database {
    private final Path file;
    private final Connection writer;
    private final Connection reader;
    private final GroupCommit writes;
    private final ReentrantLock readLock = new ReentrantLock();
    private final Map<String, PreparedStatement> writeStatements = new HashMap<>();
    private final Map<String, PreparedStatement> readStatements = new HashMap<>();
    private final PreparedStatement begin;
    private final PreparedStatement commit;
    private final PreparedStatement dataVersion;
    private long lastDataVersion = -1;
    private final BudgetBook book = new BudgetBook(BudgetBook.MAX_WINDOWS);
    private final Connection checkpointer;
    /** Held while the checkpointer connection is in use: one checkpoint at a time, whoever asks for it. */
    private final ReentrantLock checkpointing = new ReentrantLock();

    private final Thread checkpoints;
    private volatile boolean closed;
    private final AtomicLong restarts = new AtomicLong();

    private SqliteDatabase(Path file, Connection writer, Connection reader, Connection checkpointer)
            throws SQLException {
        this.file = file;
        this.writer = writer;
        this.reader = reader;
        this.begin = writer.prepareStatement("BEGIN IMMEDIATE");
        this.commit = writer.prepareStatement("COMMIT");
        this.dataVersion = writer.prepareStatement("PRAGMA data_version");
        this.checkpointer = checkpointer;
        Database.Tx writeTx = new Tx(writer, writeStatements);
        this.writes = new GroupCommit(
                "tiergate-sqlite-writer",
                body -> {
                    begin.execute();
                    try {
                        book.beginTransaction(othersCommitted());
                        body.run(writeTx);
                        commit.execute();
                    } catch (SQLException | RuntimeException | Error e) {
                        rollback(writer);
                        book.forget();
                        throw e;
                    }
                },
                this::failure,
                // one writer in this process; another process's lock is waited for by busy_timeout
                e -> false,
                // at light load a caller runs its own transaction (GroupCommit): two thread wake-ups fewer. If
                // another process holds the write lock, that caller's carrier waits in busy_timeout, pinned.
                true);
        // a platform thread: SQLite calls are JNI and would pin a virtual thread's carrier for the whole fsync
        this.checkpoints =
                Thread.ofPlatform().daemon().name("tiergate-sqlite-checkpoint").unstarted(this::checkpointLoop);
    }

    static SqliteDatabase open(Path file) {
        try {
            Path parent = file.toAbsolutePath().getParent();
            if (parent != null) {
                java.nio.file.Files.createDirectories(parent);
            }
            // first, through Flyway's own connection, closed when it is done: none of ours is open yet to hold a
            // lock or to see the schema change under it
            migrate(file);
            Connection writer = connect(file);
            try (Statement s = writer.createStatement()) {
                // WAL: readers never block the writer; persists in the file
                s.execute("PRAGMA journal_mode=WAL");
                // no checkpoint inside a commit; the checkpoint thread does them (see the class comment)
                s.execute("PRAGMA wal_autocheckpoint=0");
            }
            Connection checkpointer = connect(file);
            try (Statement s = checkpointer.createStatement()) {
                // never wait: a RESTART that waited for a reader would hold every writer back meanwhile; one that
                // cannot restart now checkpoints what it can (as PASSIVE does) and the next round tries again
                s.execute("PRAGMA busy_timeout=0");
            }
            SqliteDatabase db = new SqliteDatabase(file, writer, connect(file), checkpointer);
            db.checkpoints.start();
            return db;
        } catch (SQLException | java.io.IOException e) {
            throw new LedgerException("cannot open SQLite ledger " + file + ": " + e.getMessage(), e);
        }
    }

    /** How long opening keeps retrying a migration that SQLite refused as busy without waiting (see below). */
    static final Duration MIGRATION_BUSY_RETRY = Duration.ofSeconds(20);

    /**
     * Brings the file's schema up to date, trying again while SQLite answers SQLITE_BUSY. busy_timeout waits out
     * an ordinary lock, but not a lock SQLite refuses at once to avoid a deadlock: processes opening a new file at
     * the same moment all switch it to WAL mode, which each does by taking a shared lock and then asking for an
     * exclusive one, and all but one are refused straight away. A refused attempt changed nothing (the scripts run in
     * one transaction), so trying again is safe; the retry then finds the file migrated or migrates it.
     */
    private static void migrate(Path file) {
        long deadline = System.nanoTime() + MIGRATION_BUSY_RETRY.toNanos();
        for (int attempt = 1; ; attempt++) {
            try {
                Migrations.apply(Dialect.SQLITE, migrationSource(file), "main", "SQLite ledger " + file);
                return;
            } catch (LedgerException e) {
                if (!busy(e) || System.nanoTime() - deadline > 0) {
                    throw e;
                }
            }
            // 2, 4, 8 ... up to 100 ms, with jitter so that the racing processes do not collide again in step
            long pause = Math.min(2L << Math.min(attempt, 6), 100);
            try {
                Thread.sleep(pause / 2 + ThreadLocalRandom.current().nextLong(pause / 2 + 1));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new LedgerException("interrupted while waiting to migrate SQLite ledger " + file, e);
            }
        }
    }

    /** Whether SQLite answered SQLITE_BUSY (or one of its extended forms) somewhere in {@code e}'s causes. */
    static boolean busy(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLiteException s && (s.getResultCode().code & 0xff) == SQLiteErrorCode.SQLITE_BUSY.code) {
                return true;
            }
        }
        return false;
    }

    private static Connection connect(Path file) throws SQLException {
        return settings().createConnection(url(file));
    }

    /**
     * Connections for Flyway: the same settings as ours, and each transaction begins IMMEDIATE, taking the file's
     * write lock before it reads the schema history. Otherwise two processes opening a new file at once would both
     * read "nothing applied", and the second one's first write would fail (SQLITE_BUSY, which busy_timeout does not
     * wait out for a transaction whose snapshot is stale) instead of waiting and then finding nothing to do.
     */
    static DataSource migrationSource(Path file) {
        SQLiteConfig settings = settings();
        // as the writer sets it below; a no-op once the file is in WAL mode
        settings.setJournalMode(SQLiteConfig.JournalMode.WAL);
        settings.setTransactionMode(SQLiteConfig.TransactionMode.IMMEDIATE);
        SQLiteDataSource source = new SQLiteDataSource(settings);
        source.setUrl(url(file));
        return source;
    }

    private static SQLiteConfig settings() {
        SQLiteConfig settings = new SQLiteConfig();
        // the driver otherwise queries last_insert_rowid() after every INSERT, for getGeneratedKeys() we never call
        settings.setGetGeneratedKeys(false);
        // NORMAL in WAL mode: a commit survives a process crash; only an OS crash can lose the last ones
        settings.setSynchronous(SQLiteConfig.SynchronousMode.NORMAL);
        settings.setBusyTimeout(10_000);
        return settings;
    }

    private static String url(Path file) {
        return "jdbc:sqlite:" + file.toAbsolutePath();
    }

    /**
     * Whether another connection (of this process or another) has committed to the file since this writer last
     * looked; asked inside a transaction, so nothing else can commit before it ends.
     */
    private boolean othersCommitted() throws SQLException {
        long v;
        try (ResultSet rs = dataVersion.executeQuery()) {
            rs.next();
            v = rs.getLong(1);
        }
        boolean changed = v != lastDataVersion;
        lastDataVersion = v;
        return changed;
    }

    /** The budget windows as this writer last saw them; to be used only inside {@link #write} work. */
    BudgetBook book() {
        return book;
    }

    @Override
    public WriteStats writeStats() {
        return writes.stats();
    }

    @Override
    public Dialect dialect() {
        return Dialect.SQLITE;
    }

    private static final long CHECKPOINT_INTERVAL_MS = 250;
    /** WAL length (4 KiB frames, about 32 MiB) after which a checkpoint round also starts the WAL over. */
    static final int RESTART_AFTER_FRAMES = 8192;

    private void checkpointLoop() {
        while (!closed) {
            try {
                Thread.sleep(CHECKPOINT_INTERVAL_MS);
                checkpointRound();
            } catch (InterruptedException e) {
                return;
            } catch (SQLException e) {
                if (!closed) {
                    // the next attempt may succeed; meanwhile the WAL grows but no commit is affected
                    System.getLogger(SqliteDatabase.class.getName())
                            .log(System.Logger.Level.WARNING, "SQLite checkpoint of " + file + " failed", e);
                }
            }
        }
    }

    /** One round of the checkpoint thread: PASSIVE, then RESTART if the WAL has grown long. */
    private void checkpointRound() throws SQLException {
        checkpointing.lock();
        try (Statement s = checkpointer.createStatement()) {
            // PASSIVE never waits for (or blocks) the writer: it does the bulk of the copying and the fsync
            int frames;
            try (ResultSet rs = s.executeQuery("PRAGMA wal_checkpoint(PASSIVE)")) {
                frames = rs.next() ? rs.getInt(2) : 0;
            }
            // RESTART holds the writer back while it copies (and fsyncs) what was committed since: worth it only
            // once the WAL is long. Measured at 1,000 calls/s (docs/benchmarks.md, Gateway overhead, sixteenth
            // round): a hold of 5-7 ms every 3 s, most of it the two fsyncs; a WAL four times longer held a quarter
            // as often but twice as long each time, with no fewer slow calls
            if (frames >= RESTART_AFTER_FRAMES) {
                restartWal();
            }
        } finally {
            checkpointing.unlock();
        }
    }

    /**
     * Copies what is left of the WAL into the database file and makes the next commit write the WAL from its start
     * (RESTART); returns whether it did (not if a reader was still using the WAL). Runs while no write of this
     * process does ({@link GroupCommit#exclusively}): RESTART holds SQLite's write lock through its fsyncs, and a
     * writer of ours meeting that lock would sleep in SQLite's busy handler, pinning its carrier.
     */
    boolean restartWal() throws SQLException {
        checkpointing.lock();
        try {
            boolean restarted = writes.exclusively(() -> {
                try (Statement s = checkpointer.createStatement();
                        ResultSet rs = s.executeQuery("PRAGMA wal_checkpoint(RESTART)")) {
                    return rs.next() && rs.getInt(1) == 0;
                }
            });
            if (restarted) {
                restarts.incrementAndGet();
            }
            return restarted;
        } finally {
            checkpointing.unlock();
        }
    }

    /** Checkpoint rounds after which the WAL started over from its beginning. */
    long walRestarts() {
        return restarts.get();
    }

    @Override
    public <T> T write(Work<T> work) {
        return writes.write(work);
    }

    /** The SQL of every statement prepared for writes so far (to check their query plans in tests). */
    java.util.Set<String> writeSql() {
        return write(tx -> java.util.Set.copyOf(writeStatements.keySet()));
    }

    /** A database error as the caller sees it, naming the file. */
    private LedgerException failure(SQLException e) {
        return new LedgerException("SQLite ledger " + file + ": " + e.getMessage(), e);
    }

    private static void rollback(Connection c) {
        try (Statement s = c.createStatement()) {
            s.execute("ROLLBACK");
        } catch (SQLException ignored) {
            // SQLite already rolled back (e.g. on SQLITE_FULL); the original error is the one to report
        }
    }

    @Override
    public <T> T read(Work<T> work) {
        readLock.lock();
        try {
            return work.run(new Tx(reader, readStatements));
        } catch (SQLException e) {
            throw failure(e);
        } finally {
            readLock.unlock();
        }
    }

    @Override
    public void close() {
        writes.close(); // runs every write already queued, then stops the writer
        closed = true;
        checkpoints.interrupt();
        try {
            checkpoints.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        readLock.lock();
        try {
            begin.close();
            commit.close();
            dataVersion.close();
            checkpointer.close();
            for (PreparedStatement ps : writeStatements.values()) {
                ps.close();
            }
            for (PreparedStatement ps : readStatements.values()) {
                ps.close();
            }
            writer.close();
            reader.close();
        } catch (SQLException e) {
            throw new LedgerException("cannot close SQLite ledger " + file + ": " + e.getMessage(), e);
        } finally {
            readLock.unlock();
        }
    }
}
