package dev.tiergate.gateway;

import dev.tiergate.ledger.Ledger;
import dev.tiergate.ledger.PostgresSettings;
import java.nio.file.Path;
import java.time.Clock;

/** Where the spend ledger and budget state live: one SQLite file, or a PostgreSQL shared by many gateways. */
public sealed interface LedgerSettings {

    /** Opens (and migrates) the ledger. */
    Ledger open(String instanceId, Clock clock);

    /** One SQLite file: the embedded default for a single gateway. */
    record Sqlite(Path file) implements LedgerSettings {
        @Override
        public Ledger open(String instanceId, Clock clock) {
            return Ledger.sqlite(file, instanceId, clock);
        }
    }

    /** PostgreSQL: any number of gateway instances share budgets and ledger. */
    record Postgres(PostgresSettings settings) implements LedgerSettings {
        @Override
        public Ledger open(String instanceId, Clock clock) {
            return Ledger.postgres(settings, instanceId, clock);
        }
    }
}
