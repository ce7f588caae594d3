package dev.tiergate.ledger;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HashMap;
import java.util.Map;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * PostgreSQL through a HikariCP pool, READ COMMITTED. Writes go through {@link GroupCommit} on one connection
 * kept by the writer thread (with its prepared statements, so that the driver switches them to server-side
 * prepared statements instead of having the server parse and plan every statement of every call); reads use the
 * pool, which has one more connection than configured to make room for the writer's.
 *
 * <p>Budget rows are locked by the statement that reads them: a call alone locks them with an upsert in {@link
 * dev.tiergate.budget.AppliedBudget#ORDER}, or a settlement's {@code UPDATE}; a batch written together ({@link
 * PostgresBatch}) first locks every window it touches in that order. Calls alone can still take the locks of
 * different windows in an order another instance's batch does not, so two instances can deadlock; PostgreSQL
 * detects it and aborts one transaction, whose works are then retried alone ({@code 40P01} and {@code 40001} are
 * retried up to {@link GroupCommit#RETRIES} times).
 */
final class PostgresDatabase implements Database {
    private final HikariDataSource pool;
    private final PostgresSettings settings;
    private final GroupCommit writes;
    private @Nullable Connection writer; // the writer thread's only
    private final Map<String, PreparedStatement> writerStatements = new HashMap<>(); // the writer thread's only

    private PostgresDatabase(HikariDataSource pool, PostgresSettings settings) {
        this.pool = pool;
        this.settings = settings;
        this.writes = new GroupCommit(
                "tiergate-postgres-writer",
                this::inWriterTransaction,
                this::failure,
                e -> "40P01".equals(e.getSQLState()) || "40001".equals(e.getSQLState()),
                // off: measured only on SQLite; PostgreSQL's target is throughput with many calls in flight
                false);
    }

    private void inWriterTransaction(GroupCommit.Body body) throws SQLException {
        Connection c = writer;
        if (c == null) {
            c = pool.getConnection();
            try (Statement s = c.createStatement()) {
                // Every write finds its rows by key. The budget and reservation tables are tiny but churn (each
                // call updates its windows twice and inserts then deletes its reservation), so a plan cached while
                // they were small scans ever more dead row versions; measured, sequential scans of them were the
                // server's largest cost under load. Index lookups stay flat.
                s.execute("SET enable_seqscan = off");
            }
            c.commit();
            writer = c;
        }
        try {
            body.run(new Tx(c, writerStatements));
            c.commit();
        } catch (SQLException | RuntimeException | Error e) {
            rollback(c);
            if (!isUsable(c)) {
                // a broken connection (server restart, network): the next transaction gets a fresh one
                discardWriter();
            }
            throw e;
        }
    }

    private static boolean isUsable(Connection c) {
        try {
            return c.isValid(2);
        } catch (SQLException e) {
            return false;
        }
    }

    private void discardWriter() {
        for (PreparedStatement ps : writerStatements.values()) {
            try {
                ps.close();
            } catch (SQLException ignored) {
                // the connection is going away with it
            }
        }
        writerStatements.clear();
        Connection c = writer;
        writer = null;
        if (c != null) {
            try {
                c.close(); // back to the pool, which drops it if broken
            } catch (SQLException ignored) {
                // nothing more to release
            }
        }
    }

    static PostgresDatabase open(PostgresSettings settings) {
        try {
            createSchema(settings);
        } catch (SQLException e) {
            throw new LedgerException(
                    "cannot create schema " + settings.schema() + " in " + settings.jdbcUrl() + ": " + e.getMessage(),
                    e);
        }
        // before the pool starts: Flyway works through its own connections, closed when it is done
        Migrations.apply(
                Dialect.POSTGRESQL, migrationSource(settings), settings.schema(), "PostgreSQL ledger " + settings);
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(settings.jdbcUrl());
        config.setUsername(settings.user());
        config.setPassword(settings.password());
        config.setSchema(settings.schema());
        // one more than configured: the writer thread keeps one for itself
        config.setMaximumPoolSize(settings.maxPoolSize() + 1);
        config.setAutoCommit(false);
        config.setPoolName("tiergate-ledger");
        return new PostgresDatabase(new HikariDataSource(config), settings);
    }

    private static DataSource migrationSource(PostgresSettings settings) {
        PGSimpleDataSource source = new PGSimpleDataSource();
        source.setURL(settings.jdbcUrl());
        source.setUser(settings.user());
        source.setPassword(settings.password());
        return source;
    }

    private static void createSchema(PostgresSettings settings) throws SQLException {
        try (Connection c =
                        java.sql.DriverManager.getConnection(settings.jdbcUrl(), settings.user(), settings.password());
                Statement s = c.createStatement()) {
            // the schema name is checked to be a plain identifier by PostgresSettings
            s.execute("CREATE SCHEMA IF NOT EXISTS " + settings.schema());
        } catch (SQLException e) {
            // IF NOT EXISTS is not atomic: an instance starting at the same moment may have created it
            if (!"23505".equals(e.getSQLState()) && !"42P06".equals(e.getSQLState())) {
                throw e;
            }
        }
    }

    @Override
    public WriteStats writeStats() {
        return writes.stats();
    }

    @Override
    public Dialect dialect() {
        return Dialect.POSTGRESQL;
    }

    @Override
    public <T> T write(Work<T> work) {
        return writes.write(work);
    }

    @Override
    public <T> T read(Work<T> work) {
        try (Connection c = pool.getConnection()) {
            Tx tx = new Tx(c, null);
            try {
                T result = work.run(tx);
                c.commit();
                return result;
            } catch (SQLException | RuntimeException e) {
                rollback(c);
                throw e;
            } finally {
                tx.closeStatements();
            }
        } catch (SQLException e) {
            throw failure(e);
        }
    }

    /** A database error as the caller sees it, naming the database (never its password). */
    private LedgerException failure(SQLException e) {
        return new LedgerException("PostgreSQL ledger " + settings + ": " + e.getMessage(), e);
    }

    private static void rollback(Connection c) {
        try {
            c.rollback();
        } catch (SQLException ignored) {
            // the connection is broken; the pool discards it and the original error is reported
        }
    }

    @Override
    public void close() {
        writes.close(); // runs every write already queued, then stops the writer
        discardWriter(); // the writer thread has stopped: its connection is ours to close
        pool.close();
    }
}
