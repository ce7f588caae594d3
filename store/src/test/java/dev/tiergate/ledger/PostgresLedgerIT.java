package dev.tiergate.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

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

    @Test
    void instancesStartingAtOnceOnAnEmptySchemaMigrateItOnce() throws Exception {
        PostgresSettings empty = EmbeddedPostgresServer.freshSchema(2);
        List<Future<Ledger>> started = new ArrayList<>();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int i = 0; i < 4; i++) {
                String id = "gw-" + i;
                started.add(pool.submit(() -> Ledger.postgres(empty, id, clock)));
            }
        }
        for (Future<Ledger> f : started) {
            track(f.get(30, TimeUnit.SECONDS));
        }
        assertThat(opened).hasSize(5);
        try (var c = java.sql.DriverManager.getConnection(empty.jdbcUrl(), empty.user(), empty.password());
                var s = c.createStatement();
                var rs = s.executeQuery("SELECT COUNT(*) FROM " + empty.schema() + ".schema_version")) {
            rs.next();
            assertThat(rs.getInt(1)).isEqualTo(Migrations.ALL.size());
        }
    }
}
