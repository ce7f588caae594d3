package dev.tiergate.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tiergate.budget.Admission;
import dev.tiergate.budget.CallAttributes;
import dev.tiergate.budget.ReservationId;
import dev.tiergate.pricing.Money;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
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

    /** Calls of task {@code x}: budgets global (hard), soft-x (soft, 1 USD a day) and team-a (hard, 4.50 a day). */
    private static final CallAttributes TASK_X = CallAttributes.of("k1", "a", "x", "");

    @Test
    void aBatchWrittenTogetherDecidesChargesAndRaisesEventsAsItsCallsOneByOneWould() throws Exception {
        Batching it = batching();
        PostgresDatabase db = it.db();
        JdbcLedger batched = it.ledger();
        ReservationId a = admitted(reserve(batched, TASK_X, usd("0.50")));
        ReservationId a2 = admitted(reserve(batched, TASK_X, usd("0.50")));
        Call b = call(TASK_X);
        Call c = call(TASK_X);

        List<Object> results = inOneBatch(
                db,
                () -> batched.settle(a, ok(usd("0.60"))), // above its reservation
                () -> batched.settle(a2, ok(usd("0.45"))), // takes soft-x from 0.60 to 1.05, past its 1 USD
                () -> batched.reserve(b, RULES.applicable(TASK_X, clock.instant()), usd("2"), clock.instant()),
                // team-a: 1.05 spent + 2 reserved + 2 would pass 4.50
                () -> batched.reserve(c, RULES.applicable(TASK_X, clock.instant()), usd("2"), clock.instant()));

        assertThat(batched.combinedWrites())
                .as("calls written by the combined statements")
                .isEqualTo(4);
        assertThat(((Settlement.Settled) results.get(0)).events())
                .extracting(LedgerEvent::kind, LedgerEvent::amount)
                .containsExactly(
                        org.assertj.core.groups.Tuple.tuple(LedgerEvent.Kind.COST_ABOVE_RESERVATION, usd("0.10")));
        assertThat(((Settlement.Settled) results.get(1)).events())
                .extracting(LedgerEvent::kind, LedgerEvent::budget, LedgerEvent::amount)
                .containsExactly(org.assertj.core.groups.Tuple.tuple(
                        LedgerEvent.Kind.SOFT_LIMIT_CROSSED, "soft-x", usd("1.05")));
        ReservationId bReservation = admitted((Admission) results.get(2));
        assertThat(results.get(3)).isInstanceOfSatisfying(Admission.Denied.class, d -> {
            assertThat(d.budget().budget()).isEqualTo("team-a");
            assertThat(d.spent()).isEqualTo(usd("1.05"));
            assertThat(d.reserved()).isEqualTo(usd("2"));
            assertThat(d.estimate()).isEqualTo(usd("2"));
        });
        for (String budget : List.of("global", "soft-x", "team-a")) {
            assertThat(status(budget, TASK_X).spent()).as(budget).isEqualTo(usd("1.05"));
            assertThat(status(budget, TASK_X).reserved()).as(budget).isEqualTo(usd("2"));
        }
        assertThat(ledger.call(c.requestId()).orElseThrow().outcome().status()).isEqualTo(CallStatus.DENIED);
        LedgerRow first = ledger.calls(CallQuery.latest(10)).rows().stream()
                .filter(r -> r.reservationId().equals(a.value()))
                .findFirst()
                .orElseThrow();
        assertThat(first.outcome()).isEqualTo(ok(usd("0.60")));
        assertThat(first.call().taskType()).isEqualTo("x");
        assertThat(ledger.events(T0)).hasSize(2);

        // the reservation the batch admitted is an ordinary one: settled alone, it releases what it held
        batched.settle(bReservation, ok(usd("1")));
        assertThat(status("team-a", TASK_X).spent()).isEqualTo(usd("2.05"));
        assertThat(status("team-a", TASK_X).reserved()).isEqualTo(Money.ZERO);
    }

    @Test
    void aBatchWhoseCallsDefineARunsCapDifferentlyAppliesEachDefinitionInTurn() throws Exception {
        Batching it = batching();
        PostgresDatabase db = it.db();
        JdbcLedger batched = it.ledger();
        CallAttributes run = CallAttributes.of("k1", "", "y", "run-8");
        CallAttributes higher = run.withRequestedRunBudget(usd("0.5"));
        CallAttributes lower = run.withRequestedRunBudget(usd("0.25"));

        List<Object> results = inOneBatch(
                db,
                () -> batched.reserve(
                        call(higher), RULES.applicable(higher, clock.instant()), usd("0.15"), clock.instant()),
                // the cap goes down to 0.25 with this call, which 0.15 + 0.15 passes
                () -> batched.reserve(
                        call(lower), RULES.applicable(lower, clock.instant()), usd("0.15"), clock.instant()));

        admitted((Admission) results.get(0));
        assertThat(results.get(1))
                .isInstanceOfSatisfying(
                        Admission.Denied.class, d -> assertThat(d.limit()).isEqualTo(usd("0.25")));
    }

    @Test
    void aReservationSettledTwiceInOneBatchFailsOnlyTheSecondSettlement() throws Exception {
        Batching it = batching();
        PostgresDatabase db = it.db();
        JdbcLedger batched = it.ledger();
        ReservationId once = admitted(reserve(batched, TEAM_A, usd("0.20")));
        ReservationId other = admitted(reserve(batched, TEAM_A, usd("0.20")));

        List<Object> results = inOneBatch(
                db,
                () -> batched.settle(once, ok(usd("0.10"))),
                () -> batched.settle(once, ok(usd("0.10"))),
                () -> batched.settle(other, ok(usd("0.05"))));

        assertThat(results.get(0)).isInstanceOf(Settlement.Settled.class);
        assertThat(results.get(1))
                .isInstanceOfSatisfying(
                        LedgerException.class, e -> assertThat(e).hasMessageContaining("already settled"));
        assertThat(results.get(2)).isInstanceOf(Settlement.Settled.class);
        assertThat(status("team-a", TEAM_A).spent()).isEqualTo(usd("0.15"));
        assertThat(status("team-a", TEAM_A).reserved()).isEqualTo(Money.ZERO);
        assertThat(ledger.calls(CallQuery.latest(10)).rows()).hasSize(2);
    }

    /** An instance on this test's schema whose database the test holds, to form batches with {@link #inOneBatch}. */
    private record Batching(PostgresDatabase db, JdbcLedger ledger) {}

    private Batching batching() {
        PostgresDatabase db = PostgresDatabase.open(settings);
        return new Batching(db, (JdbcLedger) track(new JdbcLedger(db, "gw-batch", clock)));
    }

    /**
     * Runs {@code writes} as one group-commit batch of {@code db}: holds its writer in a transaction, queues the
     * writes one after another behind it, then lets it go; returns each write's result or the exception it threw.
     */
    @SafeVarargs
    private static List<Object> inOneBatch(PostgresDatabase db, Callable<?>... writes) throws Exception {
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            CountDownLatch inside = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            Future<Integer> holder = pool.submit(() -> db.write(tx -> {
                inside.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
                return 0;
            }));
            assertThat(inside.await(10, TimeUnit.SECONDS)).isTrue();
            List<Future<?>> futures = new ArrayList<>();
            for (Callable<?> w : writes) {
                futures.add(pool.submit(w));
                awaitQueued(db, futures.size());
            }
            release.countDown();
            holder.get(10, TimeUnit.SECONDS);
            List<Object> results = new ArrayList<>();
            for (Future<?> f : futures) {
                try {
                    results.add(f.get(30, TimeUnit.SECONDS));
                } catch (ExecutionException e) {
                    results.add(e.getCause());
                }
            }
            return results;
        }
    }

    /** Waits (at most 10 s) until {@code n} writes wait in {@code db}'s group-commit queue. */
    private static void awaitQueued(PostgresDatabase db, int n) throws Exception {
        var writes = PostgresDatabase.class.getDeclaredField("writes");
        writes.setAccessible(true);
        var queue = GroupCommit.class.getDeclaredField("queue");
        queue.setAccessible(true);
        var q = (java.util.Collection<?>) queue.get(writes.get(db));
        Polling.await(() -> q.size() >= n, () -> "expected " + n + " queued writes, got " + q.size());
    }
}
