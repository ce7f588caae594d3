package dev.tiergate.ledger;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A SQLite file in WAL mode: all writes through one connection under a lock, reads through a second one.
 *
 * <p>SQLite allows one writer at a time anyway; serialising in the JVM avoids busy-waiting on the file lock, and
 * {@code BEGIN IMMEDIATE} still takes the file's write lock up front so that another process on the same file
 * can never interleave between our read of a budget and our update of it.
 *
 * <p>Checkpoints (copying the WAL back into the database file, with an fsync) run on a background platform thread
 * through a third connection, not inside a caller's commit: SQLite's automatic checkpoint would otherwise stall
 * every few hundred calls for as long as the fsync takes.
 */
final class SqliteDatabase implements Database {
    private final Path file;
    private final Connection writer;
    private final Connection reader;
    private final ReentrantLock writeLock = new ReentrantLock();
    private final ReentrantLock readLock = new ReentrantLock();
    private final Map<String, PreparedStatement> writeStatements = new HashMap<>();
    private final Map<String, PreparedStatement> readStatements = new HashMap<>();
    private final PreparedStatement begin;
    private final PreparedStatement commit;
    private final Connection checkpointer;
    private final Thread checkpoints;
    private volatile boolean closed;

    private SqliteDatabase(Path file, Connection writer, Connection reader, Connection checkpointer)
            throws SQLException {
        this.file = file;
        this.writer = writer;
        this.reader = reader;
        this.begin = writer.prepareStatement("BEGIN IMMEDIATE");
        this.commit = writer.prepareStatement("COMMIT");
        this.checkpointer = checkpointer;
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
            Connection writer = connect(file);
            try (Statement s = writer.createStatement()) {
                // WAL: readers never block the writer; persists in the file
                s.execute("PRAGMA journal_mode=WAL");
                // no checkpoint inside a commit; the checkpoint thread does them (see the class comment)
                s.execute("PRAGMA wal_autocheckpoint=0");
            }
            SqliteDatabase db = new SqliteDatabase(file, writer, connect(file), connect(file));
            Migrations.apply(db);
            db.checkpoints.start();
            return db;
        } catch (SQLException | java.io.IOException e) {
            throw new LedgerException("cannot open SQLite ledger " + file + ": " + e.getMessage(), e);
        }
    }

    private static Connection connect(Path file) throws SQLException {
        Connection c = DriverManager.getConnection("jdbc:sqlite:" + file.toAbsolutePath());
        try (Statement s = c.createStatement()) {
            // NORMAL in WAL mode: a commit survives a process crash; only an OS crash can lose the last ones
            s.execute("PRAGMA synchronous=NORMAL");
            s.execute("PRAGMA busy_timeout=10000");
        }
        return c;
    }

    @Override
    public Dialect dialect() {
        return Dialect.SQLITE;
    }

    private static final long CHECKPOINT_INTERVAL_MS = 100;

    private void checkpointLoop() {
        while (!closed) {
            try {
                Thread.sleep(CHECKPOINT_INTERVAL_MS);
                try (Statement s = checkpointer.createStatement()) {
                    // PASSIVE never waits for (or blocks) the writer; what it cannot copy now it copies next time
                    s.execute("PRAGMA wal_checkpoint(PASSIVE)");
                }
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

    @Override
    public <T> T write(Work<T> work) {
        writeLock.lock();
        try {
            begin.execute();
            try {
                T result = work.run(new Tx(writer, writeStatements));
                commit.execute();
                return result;
            } catch (SQLException | RuntimeException e) {
                rollback(writer);
                throw e;
            }
        } catch (SQLException e) {
            throw new LedgerException("SQLite ledger " + file + ": " + e.getMessage(), e);
        } finally {
            writeLock.unlock();
        }
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
            throw new LedgerException("SQLite ledger " + file + ": " + e.getMessage(), e);
        } finally {
            readLock.unlock();
        }
    }

    @Override
    public void close() {
        closed = true;
        checkpoints.interrupt();
        try {
            checkpoints.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        writeLock.lock();
        readLock.lock();
        try {
            begin.close();
            commit.close();
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
            writeLock.unlock();
        }
    }
}
