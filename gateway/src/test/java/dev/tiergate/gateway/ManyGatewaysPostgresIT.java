package dev.tiergate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tiergate.budget.BudgetStatus;
import dev.tiergate.ledger.CallQuery;
import dev.tiergate.ledger.CallStatus;
import dev.tiergate.ledger.Ledger;
import dev.tiergate.ledger.LedgerRow;
import dev.tiergate.ledger.PostgresSettings;
import dev.tiergate.pricing.Money;
import dev.tiergate.testing.FakeAnthropic;
import dev.tiergate.testing.FakeResponse;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Two gateway processes on one PostgreSQL hammer one hard budget: no overspend, and the ledger adds up. */
class ManyGatewaysPostgresIT {
    @TempDir
    Path dir;

    @Test
    void twoGatewayProcessesShareOneHardBudgetWithoutOverspending() throws Exception {
        try (EmbeddedPostgres pg = EmbeddedPostgres.builder().start();
                FakeAnthropic fake = FakeAnthropic.start()) {
            fake.setDefault(FakeResponse.stream()
                    .eventDelay(Duration.ofMillis(10))
                    .messageStart(FakeResponse.usage(100, 1))
                    .text("x", "y")
                    .messageDelta("end_turn", "{\"output_tokens\":250}")
                    .messageStop()
                    .build());
            String url = pg.getJdbcUrl("postgres", "postgres");
            Files.writeString(dir.resolve("policy.yaml"), GatewayHarness.POLICY);
            List<Process> gateways = new ArrayList<>();
            List<String> bases = new ArrayList<>();
            try {
                for (String id : List.of("gw-a", "gw-b")) {
                    Path config = dir.resolve(id + ".yaml");
                    Files.writeString(
                            config, """
                            listen: { host: 127.0.0.1, port: 0 }
                            policy: policy.yaml
                            upstream: { base_url: %s, retry_base_ms: 1 }
                            keys:
                              - { name: agents, sha256: %s }
                            ledger:
                              instance_id: %s
                              postgres: { url: "%s", user: postgres, schema: shared, pool_size: 4 }
                            budgets:
                              - { name: shared, scope: global, window: total, limit_usd: 0.04 }
                            """.formatted(fake.baseUrl(), ApiKeys.sha256Hex(GatewayHarness.KEY), id, url));
                    Process p = new ProcessBuilder(
                                    ProcessHandle.current().info().command().orElse("java"),
                                    "-cp",
                                    System.getProperty("java.class.path"),
                                    GatewayChildMain.class.getName(),
                                    config.toString())
                            .redirectErrorStream(true)
                            .start();
                    gateways.add(p);
                    BufferedReader out =
                            new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
                    for (String line; (line = out.readLine()) != null; ) {
                        if (line.startsWith("PORT ")) {
                            bases.add("http://127.0.0.1:" + line.substring(5).trim());
                            break;
                        }
                    }
                    // Keep draining the child's log so it never blocks on a full pipe.
                    Thread.ofVirtual().start(() -> out.lines().forEach(l -> {}));
                }
                assertThat(bases).hasSize(2);
                Money limit = Money.parseUsd("0.04");
                try (Ledger observer = Ledger.postgres(
                        new PostgresSettings(url, "postgres", "", "shared", 2), "observer", Clock.systemUTC())) {
                    AtomicBoolean running = new AtomicBoolean(true);
                    AtomicReference<String> violation = new AtomicReference<>("");
                    Thread sampler = Thread.ofVirtual().start(() -> {
                        while (running.get()) {
                            for (BudgetStatus s : observer.budgetStatus(Instant.now())) {
                                if (s.spent().plus(s.reserved()).isGreaterThan(limit)) {
                                    violation.set(s.toString());
                                }
                            }
                        }
                    });
                    HttpClient http = HttpClient.newHttpClient();
                    CountDownLatch go = new CountDownLatch(1);
                    List<Future<Integer>> results = new ArrayList<>();
                    int ok = 0;
                    int denied = 0;
                    try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
                        for (int i = 0; i < 64; i++) {
                            String base = bases.get(i % 2);
                            results.add(pool.submit(() -> {
                                go.await();
                                return http.send(
                                                HttpRequest.newBuilder(URI.create(base + "/v1/messages"))
                                                        .header("x-api-key", GatewayHarness.KEY)
                                                        .POST(
                                                                HttpRequest.BodyPublishers.ofString(
                                                                        "{\"model\":\"task:extraction\",\"max_tokens\":300,\"stream\":true,"
                                                                                + "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"))
                                                        .build(),
                                                HttpResponse.BodyHandlers.ofString())
                                        .statusCode();
                            }));
                        }
                        go.countDown();
                        for (Future<Integer> f : results) {
                            int status = f.get(60, TimeUnit.SECONDS);
                            ok += status == 200 ? 1 : 0;
                            denied += status == 429 ? 1 : 0;
                        }
                    } finally {
                        running.set(false);
                        sampler.join();
                    }
                    assertThat(ok + denied).isEqualTo(64);
                    assertThat(ok).isPositive();
                    assertThat(denied).isPositive();
                    assertThat(violation.get()).isEmpty();
                    // Streams settle just after their last byte: wait until nothing is reserved any more.
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                    BudgetStatus shared = observer.budgetStatus(Instant.now()).get(0);
                    while (!shared.reserved().equals(Money.ZERO) && System.nanoTime() < deadline) {
                        java.util.concurrent.locks.LockSupport.parkNanos(
                                Duration.ofMillis(50).toNanos());
                        shared = observer.budgetStatus(Instant.now()).get(0);
                    }
                    List<LedgerRow> rows =
                            observer.calls(CallQuery.latest(1000)).rows();
                    assertThat(rows.stream()
                                    .filter(r -> r.outcome().status() == CallStatus.OK)
                                    .count())
                            .isEqualTo(ok);
                    assertThat(rows.stream()
                                    .map(r -> r.call().requestId())
                                    .distinct()
                                    .count())
                            .isEqualTo(64);
                    Money sum = rows.stream().map(r -> r.outcome().cost()).reduce(Money.ZERO, Money::plus);
                    assertThat(shared.reserved()).isEqualTo(Money.ZERO);
                    assertThat(shared.spent()).isEqualTo(sum);
                    assertThat(shared.spent().isGreaterThan(limit)).isFalse();
                }
            } finally {
                gateways.forEach(Process::destroyForcibly);
            }
        }
    }
}
