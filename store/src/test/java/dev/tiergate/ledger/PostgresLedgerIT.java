package dev.tiergate.ledger;

import org.junit.jupiter.api.BeforeEach;

/**
 * The ledger contract on PostgreSQL (embedded binaries, no Docker); every test in its own schema. Instances
 * opened by one test share its schema, each with its own connection pool, like gateway instances do.
 */
class PostgresLedgerIT extends LedgerContract {
    private PostgresSettings settings;

    @BeforeEach
    @Override
    void openFirstInstance() {
        settings = EmbeddedPostgresServer.freshSchema(8);
        super.openFirstInstance();
    }

    @Override
    Ledger open(String instanceId, TestClock clock) {
        return Ledger.postgres(settings, instanceId, clock);
    }
}
