package dev.tiergate.cli;

import dev.tiergate.gateway.LedgerSettings;
import dev.tiergate.ledger.Ledger;
import dev.tiergate.ledger.PostgresSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Optional;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Option;

/** Where the ledger is: a SQLite file (default) or a PostgreSQL database; the password comes from the environment. */
final class LedgerOption {
    /** The instance id of the CLI; it reads and never reserves, so it owns no leases. */
    static final String INSTANCE = "cli";

    /** The SQLite file when neither --db nor --postgres (nor, where a command takes it, --config) says otherwise. */
    static final Path DEFAULT_DB = Path.of("tiergate.db");

    @Option(names = "--db", paramLabel = "FILE", description = "SQLite ledger file (default: tiergate.db).")
    @Nullable
    Path db;

    @Option(
            names = "--postgres",
            paramLabel = "JDBC_URL",
            description = "Read a PostgreSQL ledger instead, e.g. jdbc:postgresql://db:5432/tiergate.")
    @Nullable
    String postgresUrl;

    @Option(names = "--postgres-user", paramLabel = "USER", description = "Default: ${DEFAULT-VALUE}.")
    String postgresUser = "tiergate";

    @Option(
            names = "--postgres-password-env",
            paramLabel = "VAR",
            description = "Environment variable holding the password (default: ${DEFAULT-VALUE}); never pass it"
                    + " on the command line.")
    String passwordVariable = "TIERGATE_DB_PASSWORD";

    @Option(names = "--postgres-schema", paramLabel = "SCHEMA", description = "Default: ${DEFAULT-VALUE}.")
    String postgresSchema = "tiergate";

    /** The SQLite file to read: --db, or the default. */
    Path dbFile() {
        return db != null ? db : DEFAULT_DB;
    }

    Ledger open(Clock clock) {
        return open(clock, Optional.empty());
    }

    /** The ledger --db or --postgres names; else {@code configured} (a gateway config's ledger); else the default. */
    Ledger open(Clock clock, Optional<LedgerSettings> configured) {
        try {
            if (postgresUrl != null) {
                String password = System.getenv().getOrDefault(passwordVariable, "");
                return Ledger.postgres(
                        new PostgresSettings(postgresUrl, postgresUser, password, postgresSchema, 1), INSTANCE, clock);
            }
            if (db != null || configured.isEmpty()) {
                return sqlite(dbFile(), "; give the gateway's --db FILE (or --postgres URL)", clock);
            }
            if (configured.get() instanceof LedgerSettings.Sqlite s) {
                return sqlite(
                        s.file(),
                        " (the ledger the --config file names); has the gateway run yet? Or give --db FILE /"
                                + " --postgres URL",
                        clock);
            }
            return configured.get().open(INSTANCE, clock);
        } catch (IllegalArgumentException e) {
            throw new CliException(String.valueOf(e.getMessage()));
        }
    }

    /** Opens an existing SQLite ledger: a read must not create an empty one where no gateway has written yet. */
    private static Ledger sqlite(Path file, String hint, Clock clock) {
        if (!Files.isRegularFile(file)) {
            throw new CliException("no ledger at " + file + hint);
        }
        return Ledger.sqlite(file, INSTANCE, clock);
    }
}
