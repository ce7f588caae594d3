package dev.tiergate.ledger;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.FlywayException;
import org.flywaydb.core.api.MigrationInfo;
import org.flywaydb.core.api.MigrationState;
import org.flywaydb.core.api.configuration.FluentConfiguration;
import org.flywaydb.core.api.exception.FlywayValidateException;
import org.flywaydb.core.api.logging.Log;
import org.flywaydb.core.api.logging.LogCreator;

/**
 * Forward-only, versioned schema migrations with Flyway: {@code migrations/<dialect>/V<n>__<name>.sql}, applied in
 * order and recorded in Flyway's {@code flyway_schema_history} table. All pending scripts run in one transaction
 * (both dialects have transactional DDL), so an open that fails leaves the schema as it was.
 *
 * <p>A ledger made by Tiergate's earlier runner has a {@code schema_version} table and no Flyway history: it is
 * adopted by baselining Flyway at the version that table records, migrating the rest, then dropping it. (An older
 * Tiergate then refuses the ledger on open, its V1 finding the tables already there, instead of running on a schema
 * it does not know.)
 */
final class Migrations {
    /** Flyway's default name, spelled out: tests and the adoption check look for it. */
    static final String HISTORY = "flyway_schema_history";

    private static final String OLD_RUNNER_TABLE = "schema_version";

    /**
     * Arbitrary, fixed: the advisory lock that serialises migrations across instances ("tiergate" in ASCII); the
     * earlier runner took the same one, so that instances of both take turns during an upgrade.
     */
    private static final long POSTGRES_LOCK_KEY = 0x7469657267617465L;

    private Migrations() {}

    /**
     * Brings the schema up to date through connections from {@code dataSource}; returns how many migrations were
     * applied. {@code schema} is where the tables live ({@code main} on SQLite); {@code ledger} names the database
     * in error messages.
     */
    static int apply(Dialect dialect, DataSource dataSource, String schema, String ledger) {
        FluentConfiguration config = Flyway.configure(Migrations.class.getClassLoader())
                .dataSource(dataSource)
                .locations("classpath:dev/tiergate/ledger/migrations/" + dialect.migrationFolder())
                .schemas(schema)
                .defaultSchema(schema)
                .table(HISTORY)
                // the schema exists already (SQLite's main, or created by PostgresDatabase)
                .createSchemas(false)
                // every pending script in one transaction, as the earlier runner did
                .group(true)
                .validateMigrationNaming(true)
                .failOnMissingLocations(true)
                // no beforeMigrate.sql and the like: only our versioned scripts
                .skipDefaultCallbacks(true)
                // a schema migrated by a newer Tiergate fails validation instead of being used as if known
                .ignoreMigrationPatterns(new String[0])
                .loggers(FlywayLog.class.getName());
        try (Connection c = dataSource.getConnection()) {
            if (dialect == Dialect.POSTGRESQL) {
                lock(c);
            }
            boolean flywayHistory = tableExists(c, dialect, schema, HISTORY);
            boolean oldRunner = tableExists(c, dialect, schema, OLD_RUNNER_TABLE);
            if (oldRunner && !flywayHistory) {
                int version = oldRunnerVersion(c, schema);
                config.baselineOnMigrate(true)
                        .baselineVersion(Integer.toString(version))
                        .baselineDescription("adopted from " + OLD_RUNNER_TABLE);
            }
            Flyway flyway = config.load();
            int applied;
            try {
                applied = flyway.migrate().migrationsExecuted;
            } catch (FlywayValidateException e) {
                throw newerThanKnown(flyway, ledger).orElseThrow(() -> e);
            }
            if (oldRunner) {
                try (Statement s = c.createStatement()) {
                    s.execute("DROP TABLE IF EXISTS " + schema + "." + OLD_RUNNER_TABLE);
                }
            }
            // closing the connection releases the PostgreSQL lock
            return applied;
        } catch (SQLException e) {
            throw new LedgerException("cannot migrate " + ledger + ": " + e.getMessage(), e);
        } catch (FlywayException e) {
            throw new LedgerException("cannot migrate " + ledger + " with Flyway: " + e.getMessage(), e);
        }
    }

    /** The failure to report when {@code flyway} found migrations applied that this Tiergate does not have. */
    private static Optional<LedgerException> newerThanKnown(Flyway flyway, String ledger) {
        MigrationInfo[] all = flyway.info().all();
        List<String> newer = Arrays.stream(all)
                .filter(m ->
                        m.getState() == MigrationState.FUTURE_SUCCESS || m.getState() == MigrationState.FUTURE_FAILED)
                .map(m -> m.getVersion().getVersion())
                .toList();
        if (newer.isEmpty()) {
            return Optional.empty();
        }
        String known = Arrays.stream(all)
                .filter(m -> m.getState().isResolved() && m.getVersion() != null)
                .map(m -> m.getVersion().getVersion())
                .reduce((a, b) -> b)
                .orElse("none");
        return Optional.of(new LedgerException("cannot open " + ledger + ": it has migration "
                + String.join(", ", newer) + ", newer than this Tiergate knows (" + known + "); upgrade Tiergate"));
    }

    private static boolean tableExists(Connection c, Dialect dialect, String schema, String table) throws SQLException {
        // schema is a plain identifier: "main", or checked by PostgresSettings
        String sql = switch (dialect) {
            case SQLITE -> "SELECT COUNT(*) FROM " + schema + ".sqlite_master WHERE type = 'table' AND name = ?";
            case POSTGRESQL ->
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '" + schema
                        + "' AND table_name = ?";
        };
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setString(1, table);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getInt(1) > 0;
            }
        }
    }

    /**
     * Waits for the instances migrating before this one. Flyway locks too, but polls for its lock once a second and
     * only around its own steps; this lock is granted the moment the holder finishes, and also covers the check for
     * the earlier runner's table and its drop.
     */
    private static void lock(Connection c) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute("SELECT pg_advisory_lock(" + POSTGRES_LOCK_KEY + ")");
        }
    }

    /** The last version the earlier runner applied (it recorded one row per script). */
    private static int oldRunnerVersion(Connection c, String schema) throws SQLException {
        try (Statement s = c.createStatement();
                ResultSet rs =
                        s.executeQuery("SELECT COALESCE(MAX(version), 0) FROM " + schema + "." + OLD_RUNNER_TABLE)) {
            rs.next();
            return rs.getInt(1);
        }
    }

    /**
     * Flyway's log, through {@link System.Logger} under Flyway's class names. What it reports on every open (the
     * database, the versions, each script applied) goes out at DEBUG, as the earlier runner said nothing: a CLI
     * command's output stays as it was. Warnings and errors stay what they are. Public for Flyway, which creates it
     * by name.
     */
    public static final class FlywayLog implements LogCreator {
        /** Called by Flyway. */
        public FlywayLog() {}

        @Override
        public Log createLogger(Class<?> clazz) {
            System.Logger log = System.getLogger(clazz.getName());
            return new Log() {
                @Override
                public boolean isDebugEnabled() {
                    return log.isLoggable(System.Logger.Level.DEBUG);
                }

                @Override
                public void debug(String message) {
                    log.log(System.Logger.Level.TRACE, message);
                }

                @Override
                public void info(String message) {
                    log.log(System.Logger.Level.DEBUG, message);
                }

                @Override
                public void notice(String message) {
                    log.log(System.Logger.Level.DEBUG, message);
                }

                @Override
                public void warn(String message) {
                    log.log(System.Logger.Level.WARNING, message);
                }

                @Override
                public void error(String message) {
                    log.log(System.Logger.Level.ERROR, message);
                }

                @Override
                public void error(String message, Exception e) {
                    log.log(System.Logger.Level.ERROR, message, e);
                }
            };
        }
    }
}
