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
 */
final class SqliteDatabase implements Database {
    private final Path file;
    private final Connection writer;
    private final Connection reader;
    private final ReentrantLock writeLock = new ReentrantLock();
    private final ReentrantLock readLock = new ReentrantLock();
    private final Map<String, PreparedStatement> writeStatements = new HashMap<>();
    private final Map<String, PreparedStatement> readStatements = new HashMap<>();

    private SqliteDatabase(Path file, Connection writer, Connection reader) {
        this.file = file;
        this.writer = writer;
        this.reader = reader;
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
            }
            SqliteDatabase db = new SqliteDatabase(file, writer, connect(file));
            Migrations.apply(db);
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

    @Override
    public <T> T write(Work<T> work) {
        writeLock.lock();
        try (Statement s = writer.createStatement()) {
            s.execute("BEGIN IMMEDIATE");
            try {
                T result = work.run(new Tx(writer, writeStatements));
                s.execute("COMMIT");
                return result;
            } catch (SQLException | RuntimeException e) {
                rollback(s);
                throw e;
            }
        } catch (SQLException e) {
            throw new LedgerException("SQLite ledger " + file + ": " + e.getMessage(), e);
        } finally {
            writeLock.unlock();
        }
    }

    private static void rollback(Statement s) {
        try {
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
        writeLock.lock();
        readLock.lock();
        try {
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
