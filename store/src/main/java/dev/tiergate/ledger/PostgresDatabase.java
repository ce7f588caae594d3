package dev.tiergate.ledger;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * PostgreSQL through a HikariCP pool, READ COMMITTED. Budget rows are locked by the statement that reads them
 * (an upsert or {@code UPDATE ... RETURNING}), always in {@link dev.tiergate.budget.AppliedBudget#ORDER}, so
 * concurrent reservations from any number of instances serialise per window and never deadlock.
 */
final class PostgresDatabase implements Database {
    private final HikariDataSource pool;
    private final PostgresSettings settings;

    private PostgresDatabase(HikariDataSource pool, PostgresSettings settings) {
        this.pool = pool;
        this.settings = settings;
    }

    static PostgresDatabase open(PostgresSettings settings) {
        try {
            createSchema(settings);
        } catch (SQLException e) {
            throw new LedgerException(
                    "cannot create schema " + settings.schema() + " in " + settings.jdbcUrl() + ": " + e.getMessage(),
                    e);
        }
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(settings.jdbcUrl());
        config.setUsername(settings.user());
        config.setPassword(settings.password());
        config.setSchema(settings.schema());
        config.setMaximumPoolSize(settings.maxPoolSize());
        config.setAutoCommit(false);
        config.setPoolName("tiergate-ledger");
        PostgresDatabase db = new PostgresDatabase(new HikariDataSource(config), settings);
        try {
            Migrations.apply(db);
        } catch (RuntimeException e) {
            db.close();
            throw e;
        }
        return db;
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
    public Dialect dialect() {
        return Dialect.POSTGRESQL;
    }

    @Override
    public <T> T write(Work<T> work) {
        return inTransaction(work);
    }

    @Override
    public <T> T read(Work<T> work) {
        return inTransaction(work);
    }

    private <T> T inTransaction(Work<T> work) {
        try (Connection c = pool.getConnection()) {
            Tx tx = new Tx(c, null);
            try {
                T result = work.run(tx);
                c.commit();
                return result;
            } catch (SQLException | RuntimeException e) {
                try {
                    c.rollback();
                } catch (SQLException ignored) {
                    // the connection is broken; the pool discards it and the original error is reported
                }
                throw e;
            } finally {
                tx.closeStatements();
            }
        } catch (SQLException e) {
            throw new LedgerException("PostgreSQL ledger " + settings + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        pool.close();
    }
}
