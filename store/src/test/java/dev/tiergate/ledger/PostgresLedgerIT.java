package dev.tiergate.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tiergate.budget.ReservationId;
import dev.tiergate.pricing.Money;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
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

    @Override
    Connection connect() throws SQLException {
        return DriverManager.getConnection(settings.jdbcUrl(), settings.user(), settings.password());
    }

    @Override
    String schema() {
        return settings.schema();
    }

    @Test
    void instancesStartingAtOnceOnAnEmptySchemaMigrateItOnce() throws Exception {
        PostgresSettings empty = EmbeddedPostgresServer.freshSchema(2);
        startAtOnce(empty, 4);
        assertThat(opened).hasSize(5);
        try (Connection c = DriverManager.getConnection(empty.jdbcUrl(), empty.user(), empty.password())) {
            assertThat(OldRunner.history(c, empty.schema()))
                    .containsExactly("1 SQL true", "2 SQL true", "3 SQL true", "4 SQL true", "5 SQL true");
        }
    }

    @Test
    void instancesStartingAtOnceOnTheEarlierRunnersVersionFourAdoptItOnceAndApplyVersionFive() throws Exception {
        ledger.settle(admitted(reserve(ledger, TEAM_A, usd("1"))), ok(usd("0.5")));
        closeAll();
        opened.clear();
        try (Connection c = connect()) {
            // V5 changed nothing on PostgreSQL: these tables are those of version 4
            OldRunner.pretendOld(c, schema(), 4);
        }

        startAtOnce(settings, 4);

        try (Connection c = connect()) {
            assertThat(OldRunner.history(c, schema())).containsExactly("4 BASELINE true", "5 SQL true");
            assertThat(OldRunner.hasItsTable(c, schema())).isFalse();
        }
        ledger = opened.get(0);
        assertThat(status("team-a", TEAM_A).spent()).isEqualTo(usd("0.5"));
        assertThat(ledger.calls(CallQuery.latest(10)).rows()).hasSize(1);
    }

    /** Opens {@code instances} ledgers on {@code schema} at the same moment, as gateways starting together do. */
    private void startAtOnce(PostgresSettings schema, int instances) throws Exception {
        List<Future<Ledger>> started = new ArrayList<>();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int i = 0; i < instances; i++) {
                String id = "gw-" + i;
                started.add(pool.submit(() -> Ledger.postgres(schema, id, clock)));
            }
        }
        for (Future<Ledger> f : started) {
            track(f.get(30, TimeUnit.SECONDS));
        }
    }

    @Test
    void aWriterConnectionKilledByTheServerIsReplacedAndNoCallIsLost() throws Exception {
        ReservationId first = admitted(reserve(ledger, TEAM_A, usd("0.10")));
        try (var c = java.sql.DriverManager.getConnection(settings.jdbcUrl(), settings.user(), settings.password());
                var s = c.createStatement()) {
            // every other session of this schema's pools, the writer's kept connection among them
            s.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
                    + " AND datname = current_database() AND backend_type = 'client backend'"
                    + " AND application_name NOT LIKE 'pg_%'");
        }
        // the write on the dead connection fails and names the database; the next gets a fresh connection
        Settlement settled = null;
        int failed = 0;
        for (int attempt = 0; attempt < 3 && settled == null; attempt++) {
            try {
                settled = ledger.settle(first, ok(usd("0.05")));
            } catch (LedgerException e) {
                assertThat(e).hasMessageContaining("PostgreSQL ledger");
                failed++;
            }
        }
        assertThat(failed).as("writes that found the killed connection").isEqualTo(1);
        assertThat(settled).isInstanceOf(Settlement.Settled.class);
        ReservationId second = admitted(reserve(ledger, TEAM_A, usd("0.10")));
        ledger.settle(second, ok(usd("0.02")));
        assertThat(status("team-a", TEAM_A).spent()).isEqualTo(usd("0.07"));
        assertThat(status("team-a", TEAM_A).reserved()).isEqualTo(Money.ZERO);
    }
}
