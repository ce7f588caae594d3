package dev.tiergate.ledger;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/** How the ledger gets a connection and runs a transaction: one writer for SQLite, a pool for PostgreSQL. */
sealed interface Database extends AutoCloseable permits SqliteDatabase, PostgresDatabase {

    Dialect dialect();

    /** Runs {@code work} in one write transaction; rolls back if it throws. */
    <T> T write(Work<T> work);

    /** How the writes have been committed so far. */
    WriteStats writeStats();

    /** Runs {@code work} for reading (one consistent statement at least). */
    <T> T read(Work<T> work);

    @Override
    void close();

    /** Work on a connection. */
    @FunctionalInterface
    interface Work<T> {
        T run(Tx tx) throws SQLException;
    }

    /**
     * A work that {@link GroupCommit} may run together with the other works of its batch that name the same {@link
     * Combiner}: fewer, bigger statements for many callers instead of one set per caller. Run alone it is an ordinary
     * {@link Work}.
     */
    interface Combinable<T> extends Work<T> {
        Combiner combiner();
    }

    /** Runs several {@link Combinable} works as one. */
    @FunctionalInterface
    interface Combiner {
        /**
         * Runs every one of {@code works} (all naming this combiner) in {@code tx}, with the effects they would have
         * had run alone one after another, in some order; returns their results in the list's order. Throwing rolls
         * the whole batch back, after which {@link GroupCommit} runs each work alone.
         */
        List<@Nullable Object> runTogether(Tx tx, List<Combinable<?>> works) throws SQLException;
    }

    /** A connection in use, handing out prepared statements. */
    final class Tx {
        private final Connection connection;
        private final @Nullable Map<String, PreparedStatement> cache;
        private final List<PreparedStatement> opened = new ArrayList<>();

        /** {@code cache}: statements kept for the connection's life (SQLite writer), or null to close after. */
        Tx(Connection connection, @Nullable Map<String, PreparedStatement> cache) {
            this.connection = connection;
            this.cache = cache;
        }

        PreparedStatement prepare(String sql) throws SQLException {
            if (cache != null) {
                PreparedStatement ps = cache.get(sql);
                if (ps == null) {
                    ps = connection.prepareStatement(sql);
                    cache.put(sql, ps);
                }
                ps.clearParameters();
                return ps;
            }
            PreparedStatement ps = connection.prepareStatement(sql);
            opened.add(ps);
            return ps;
        }

        Connection connection() {
            return connection;
        }

        void closeStatements() {
            for (PreparedStatement ps : opened) {
                try {
                    ps.close();
                } catch (SQLException e) {
                    // closing a statement of a finished transaction: nothing left to lose
                }
            }
            opened.clear();
        }
    }
}
