package dev.tiergate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tiergate.budget.BudgetStatus;
import dev.tiergate.ledger.CallQuery;
import dev.tiergate.ledger.CallStatus;
import dev.tiergate.ledger.Ledger;
import dev.tiergate.ledger.LedgerEvent;
import dev.tiergate.ledger.LedgerRow;
import dev.tiergate.pricing.Money;
import dev.tiergate.testing.FakeResponse;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Budgets and the ledger through the real gateway: reservation before the call, exact settlement after. */
class GatewayBudgetIT {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    final HttpClient http = HttpClient.newHttpClient();

    private HttpRequest post(GatewayHarness h, String body, String... headers) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(h.baseUrl() + "/v1/messages"))
                .header("x-api-key", GatewayHarness.KEY)
                .header("anthropic-version", "2023-06-01")
                .POST(HttpRequest.BodyPublishers.ofString(body));
        for (int i = 0; i < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        return b.build();
    }

    private static String body(String task, boolean stream) {
        return "{\"model\":\"task:" + task + "\",\"max_tokens\":300,\"stream\":" + stream
                + ",\"messages\":[{\"role\":\"user\",\"content\":\"hello there\"}]}";
    }

    private static List<LedgerRow> rows(Ledger ledger) {
        return ledger.calls(CallQuery.latest(1000)).rows();
    }

    @Test
    void hardBudgetDeniesBeforeTheUpstreamWithTheBudgetLimitSpentReservedAndEstimate() throws Exception {
        try (GatewayHarness h = new GatewayHarness(
                dir, "budgets:\n  - { name: tiny, scope: global, window: day, limit_usd: 0.001 }\n")) {
            HttpResponse<String> res =
                    http.send(post(h, body("extraction", false)), HttpResponse.BodyHandlers.ofString());
            assertThat(res.statusCode()).isEqualTo(429);
            assertThat(res.headers().firstValue("x-should-retry")).contains("false");
            var err = JSON.readTree(res.body()).path("error");
            assertThat(err.path("type").asText()).isEqualTo("rate_limit_error");
            assertThat(err.path("message").asText())
                    .contains("budget 'tiny'")
                    .contains("0.001000000")
                    .contains("spent 0.000000000")
                    .contains("estimate");
            assertThat(h.fake.requestCount()).isZero();
            assertThat(rows(h.gateway.ledger())).singleElement().satisfies(r -> {
                assertThat(r.outcome().status()).isEqualTo(CallStatus.DENIED);
                assertThat(r.outcome().cost()).isEqualTo(Money.ZERO);
            });
        }
    }

    @Test
    void settledCallsAreInTheLedgerAtTheirExactCost() throws Exception {
        try (GatewayHarness h = new GatewayHarness(
                dir, "budgets:\n  - { name: day, scope: team, team: team-a, window: day, limit_usd: 5 }\n")) {
            h.fake.setDefault(FakeResponse.message("ok").withUsage(1000, 200));
            for (int i = 0; i < 3; i++) {
                assertThat(http.send(
                                        post(
                                                h,
                                                body("extraction", false),
                                                "x-tiergate-run",
                                                "r1",
                                                "x-tiergate-agent",
                                                "a" + i),
                                        HttpResponse.BodyHandlers.ofString())
                                .statusCode())
                        .isEqualTo(200);
            }
            List<LedgerRow> rows = rows(h.gateway.ledger());
            assertThat(rows).hasSize(3).allSatisfy(r -> {
                assertThat(r.outcome().status()).isEqualTo(CallStatus.OK);
                // Haiku 4.5: 1,000 x $1 + 200 x $5 = $0.002
                assertThat(r.outcome().cost().toUsdString()).isEqualTo("0.002000000");
                assertThat(r.call().runId()).isEqualTo("r1");
                // a real (here: fake) upstream, not the simulator
                assertThat(r.call().requestId()).startsWith("tgreq_").doesNotStartWith("tgreq_sim_");
                assertThat(r.call().routedModel()).isEqualTo("claude-haiku-4-5-20251001");
            });
            BudgetStatus day = h.gateway.ledger().budgetStatus(Instant.now()).stream()
                    .filter(s -> s.budget().budget().equals("day"))
                    .findFirst()
                    .orElseThrow();
            assertThat(day.spent().toUsdString()).isEqualTo("0.006000000");
            assertThat(day.reserved()).isEqualTo(Money.ZERO);
        }
    }

    private static BudgetStatus budget(GatewayHarness h, String name) {
        return h.gateway.ledger().budgetStatus(Instant.now()).stream()
                .filter(s -> s.budget().budget().equals(name))
                .findFirst()
                .orElseThrow();
    }

    @Test
    void anAttemptSentAndNeverAnsweredIsChargedAtItsWorstCaseAndTheRetryIsReservedOnTopOfIt() throws Exception {
        try (GatewayHarness h = new GatewayHarness(
                dir, "budgets:\n  - { name: day, scope: team, team: team-a, window: day, limit_usd: 5 }\n")) {
            // the fake reads the request, then resets the connection: the upstream may have run it
            h.fake.enqueue(FakeResponse.reset());
            h.fake.enqueue(FakeResponse.message("ok").withUsage(1000, 200));

            HttpResponse<String> res =
                    http.send(post(h, body("extraction", false)), HttpResponse.BodyHandlers.ofString());

            assertThat(res.statusCode()).isEqualTo(200);
            assertThat(h.fake.requestCount()).isEqualTo(2);
            LedgerEvent grown = h.gateway.ledger().events(Instant.EPOCH).stream()
                    .filter(e -> e.kind() == LedgerEvent.Kind.RESERVATION_ENLARGED)
                    .findFirst()
                    .orElseThrow();
            Money charge = grown.amount();
            // the unanswered attempt's worst case on Haiku 4.5: 300 output tokens x $5/M, plus the input estimate
            assertThat(charge.nanos()).isBetween(1_500_000L, 1_600_000L);
            assertThat(grown.detail())
                    .contains("an attempt on claude-haiku-4-5-20251001 was sent and got no answer")
                    .contains(charge.toUsdString());
            // the answer's exact cost (1,000 x $1 + 200 x $5 = $0.002), plus the unanswered attempt
            Money total = Money.parseUsd("0.002").plus(charge);
            assertThat(res.headers().firstValue("x-tiergate-cost-usd")).contains(total.toUsdString());
            assertThat(rows(h.gateway.ledger())).singleElement().satisfies(r -> {
                assertThat(r.outcome().status()).isEqualTo(CallStatus.OK);
                assertThat(r.outcome().cost()).isEqualTo(total);
                assertThat(r.call().requestId()).isEqualTo(grown.requestId());
            });
            assertThat(h.awaitCalls(1)).singleElement().satisfies(c -> {
                assertThat(c.attempts()).isEqualTo(2);
                assertThat(c.unansweredAttempts()).isEqualTo(1);
                assertThat(c.cost()).isEqualTo(total);
            });
            assertThat(budget(h, "day").spent()).isEqualTo(total);
            assertThat(budget(h, "day").reserved()).isEqualTo(Money.ZERO);
        }
    }

    @Test
    void aHardBudgetWithoutRoomForAnotherWorstCaseEndsTheCallAtTheUnansweredAttempt() throws Exception {
        // room for one worst case of an extraction (about $0.0015), not two
        try (GatewayHarness h = new GatewayHarness(
                dir, "budgets:\n  - { name: tight, scope: global, window: day, limit_usd: 0.002 }\n")) {
            h.fake.enqueue(FakeResponse.reset());

            HttpResponse<String> res =
                    http.send(post(h, body("extraction", false)), HttpResponse.BodyHandlers.ofString());

            assertThat(res.statusCode()).isEqualTo(502);
            var err = JSON.readTree(res.body()).path("error");
            assertThat(err.path("type").asText()).isEqualTo("api_error");
            assertThat(err.path("message").asText())
                    .contains("upstream claude-haiku-4-5-20251001 sent no answer after 1 attempt(s)")
                    .contains("not tried again: budget 'tight' daily limit 0.002000000 USD");
            assertThat(h.fake.requestCount()).isEqualTo(1);
            LedgerRow row = rows(h.gateway.ledger()).get(0);
            assertThat(row.outcome().status()).isEqualTo(CallStatus.UPSTREAM_ERROR);
            // charged at its worst case: the upstream may have billed it
            assertThat(row.outcome().cost().nanos()).isBetween(1_500_000L, 1_600_000L);
            assertThat(budget(h, "tight").spent()).isEqualTo(row.outcome().cost());
            assertThat(budget(h, "tight").reserved()).isEqualTo(Money.ZERO);
            assertThat(h.gateway.ledger().events(Instant.EPOCH)).isEmpty();
            assertThat(h.awaitCalls(1).get(0).unansweredAttempts()).isEqualTo(1);
        }
    }

    @Test
    void aSoftBudgetCrossingIsCountedOnceInTheMetricsLoggedOnceAndRecordedOnceInTheLedger() throws Exception {
        // Accounting logs through System.Logger, which (no LoggerFinder on the class path) is java.util.logging;
        // the strong reference keeps this logger the one System.getLogger("tiergate.budget") writes to
        Logger budgetLog = Logger.getLogger("tiergate.budget");
        List<LogRecord> logged = new CopyOnWriteArrayList<>();
        Handler capture = new Handler() {
            @Override
            public void publish(LogRecord r) {
                logged.add(r);
            }

            @Override
            public void flush() {}

            @Override
            public void close() {}
        };
        budgetLog.addHandler(capture);
        // Haiku 4.5: 1,000 x $1 + 200 x $5 = $0.002 a call; the second call takes the soft $0.003 to $0.004
        try (GatewayHarness h = new GatewayHarness(
                dir,
                "budgets:\n  - { name: cheap, scope: task_type, task_type: extraction, window: day,"
                        + " limit_usd: 0.003, mode: soft }\n")) {
            h.fake.setDefault(FakeResponse.message("ok").withUsage(1000, 200));
            String series = "tiergate_budget_soft_limit_crossed_total{budget=\"cheap\",window=\"day\"}";
            assertThat(metrics(h)).contains(series + " 0.0");
            for (int i = 0; i < 4; i++) {
                assertThat(http.send(post(h, body("extraction", false)), HttpResponse.BodyHandlers.ofString())
                                .statusCode())
                        .as("a soft budget never denies")
                        .isEqualTo(200);
            }
            h.awaitCalls(4); // each call is settled, and its events logged, before it is recorded
            assertThat(metrics(h)).contains(series + " 1.0");
            List<LedgerEvent> events = h.gateway.ledger().events(Instant.EPOCH).stream()
                    .filter(e -> e.kind() == LedgerEvent.Kind.SOFT_LIMIT_CROSSED)
                    .toList();
            assertThat(events)
                    .singleElement()
                    .satisfies(e -> assertThat(e.budget()).isEqualTo("cheap"));
            LedgerEvent crossed = events.get(0);
            // the log line an operator alerts on names the budget and its window, and no key
            assertThat(logged)
                    .filteredOn(r -> r.getLevel().equals(Level.WARNING))
                    .extracting(r -> new SimpleFormatter().formatMessage(r))
                    .filteredOn(line -> line.contains("SOFT_LIMIT_CROSSED"))
                    .singleElement()
                    .satisfies(line -> assertThat(line)
                            .contains("budget=cheap")
                            .contains("windowStart=" + crossed.windowStart())
                            .contains("soft budget 'cheap' reached its limit")
                            .doesNotContain(GatewayHarness.KEY)
                            .doesNotContain(ApiKeys.sha256Hex(GatewayHarness.KEY))
                            .doesNotContain(GatewayHarness.UPSTREAM_SECRET));
        } finally {
            budgetLog.removeHandler(capture);
        }
    }

    private String metrics(GatewayHarness h) throws Exception {
        return http.send(
                        HttpRequest.newBuilder(URI.create(h.baseUrl() + "/metrics"))
                                .build(),
                        HttpResponse.BodyHandlers.ofString())
                .body();
    }

    @Test
    void runBudgetFromTheHeaderCapsTheRun() throws Exception {
        try (GatewayHarness h = new GatewayHarness(dir)) {
            h.fake.setDefault(FakeResponse.message("ok").withUsage(1000, 300));
            // worst case per call: ~10 input tokens x $2 + 300 x $5 = ~$0.0015; a $0.004 run fits two.
            int ok = 0;
            int denied = 0;
            for (int i = 0; i < 4; i++) {
                int status = http.send(
                                post(
                                        h,
                                        body("extraction", false),
                                        "x-tiergate-run",
                                        "run-7",
                                        "x-tiergate-run-budget-usd",
                                        "0.004"),
                                HttpResponse.BodyHandlers.ofString())
                        .statusCode();
                if (status == 200) {
                    ok++;
                } else if (status == 429) {
                    denied++;
                }
            }
            assertThat(ok).isEqualTo(1);
            assertThat(denied).isEqualTo(3);
            HttpResponse<String> bad = http.send(
                    post(h, body("extraction", false), "x-tiergate-run", "r", "x-tiergate-run-budget-usd", "lots"),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(bad.statusCode()).isEqualTo(400);
            assertThat(bad.body()).contains("x-tiergate-run-budget-usd");
        }
    }

    @Test
    void aRunCapFromTheHeaderDeniesEvenWhenTheRunsConfiguredBudgetIsSoft() throws Exception {
        try (GatewayHarness h = new GatewayHarness(
                dir,
                "budgets:\n  - { name: runs, scope: run, per_run: true, window: total, limit_usd: 5, mode: soft }\n")) {
            // Haiku 4.5: 10 x $1 + 290 x $5 = $0.00146 a call. The worst case of a call (300 output tokens, ~$0.0015)
            // fits a $0.002 cap once, not twice: after the first call, $0.00054 is left.
            h.fake.setDefault(FakeResponse.message("ok").withUsage(10, 290));
            String[] run = {"x-tiergate-run", "run-soft", "x-tiergate-run-budget-usd", "0.002"};
            HttpResponse<String> first =
                    http.send(post(h, body("extraction", false), run), HttpResponse.BodyHandlers.ofString());
            assertThat(first.statusCode()).as(first.body()).isEqualTo(200);

            HttpResponse<String> second =
                    http.send(post(h, body("extraction", false), run), HttpResponse.BodyHandlers.ofString());

            assertThat(second.statusCode()).as(second.body()).isEqualTo(429);
            assertThat(second.headers().firstValue("x-should-retry")).contains("false");
            var err = JSON.readTree(second.body()).path("error");
            assertThat(err.path("type").asText()).isEqualTo("rate_limit_error");
            assertThat(err.path("message").asText())
                    .startsWith("budget 'run-requested' for run 'run-soft' total limit 0.002")
                    .contains("spent 0.001460000");
            assertThat(h.fake.requestCount())
                    .as("the denied call never went upstream")
                    .isEqualTo(1);
            // the soft budget still alerts at its own limit, not at the caller's cap
            assertThat(h.gateway.ledger().budgetStatus(Instant.now()))
                    .filteredOn(st -> st.budget().budget().equals("runs"))
                    .singleElement()
                    .satisfies(st -> {
                        assertThat(st.budget().hard()).isFalse();
                        assertThat(st.limit()).isEqualTo(Money.parseUsd("5"));
                        assertThat(st.spent()).isEqualTo(Money.parseUsd("0.00146"));
                    });
        }
    }

    @Test
    void aRunCapSentAfterTheRunsFirstCallCoversWhatTheRunSpentBeforeIt() throws Exception {
        try (GatewayHarness h = new GatewayHarness(dir)) {
            // Haiku 4.5: 1,000 x $1 + 300 x $5 = $0.0025 a call; the worst case of the next is ~$0.0015
            h.fake.setDefault(FakeResponse.message("ok").withUsage(1000, 300));
            assertThat(http.send(
                                    post(h, body("extraction", false), "x-tiergate-run", "run-late"),
                                    HttpResponse.BodyHandlers.ofString())
                            .statusCode())
                    .isEqualTo(200);

            HttpResponse<String> capped = http.send(
                    post(
                            h,
                            body("extraction", false),
                            "x-tiergate-run",
                            "run-late",
                            "x-tiergate-run-budget-usd",
                            "0.003"),
                    HttpResponse.BodyHandlers.ofString());
            HttpResponse<String> withoutHeader = http.send(
                    post(h, body("extraction", false), "x-tiergate-run", "run-late"),
                    HttpResponse.BodyHandlers.ofString());

            assertThat(capped.statusCode()).isEqualTo(429);
            assertThat(JSON.readTree(capped.body())
                            .path("error")
                            .path("message")
                            .asText())
                    .startsWith("budget 'run-requested' for run 'run-late' total limit 0.003")
                    .contains("spent 0.002500000");
            assertThat(withoutHeader.statusCode())
                    .as("the run's later calls count against its cap without repeating the header")
                    .isEqualTo(429);
            assertThat(h.fake.requestCount()).isEqualTo(1);
        }
    }

    @Test
    void sixtyFourConcurrentCallersNeverOverspendAHardBudget() throws Exception {
        try (GatewayHarness h = new GatewayHarness(
                dir, "budgets:\n  - { name: shared, scope: global, window: total, limit_usd: 0.03 }\n")) {
            h.fake.setDefault(FakeResponse.stream()
                    .eventDelay(Duration.ofMillis(15))
                    .messageStart(FakeResponse.usage(100, 1))
                    .text("a", "b", "c")
                    .messageDelta("end_turn", "{\"output_tokens\":280}")
                    .messageStop()
                    .build());
            Money limit = Money.parseUsd("0.03");
            Ledger ledger = h.gateway.ledger();
            AtomicBoolean running = new AtomicBoolean(true);
            AtomicReference<String> violation = new AtomicReference<>("");
            Thread sampler = Thread.ofVirtual().start(() -> {
                while (running.get()) {
                    for (BudgetStatus s : ledger.budgetStatus(Instant.now())) {
                        Money used = s.spent().plus(s.reserved());
                        if (used.isGreaterThan(limit)) {
                            violation.set("spent " + s.spent() + " + reserved " + s.reserved() + " > " + limit);
                        }
                    }
                }
            });
            CountDownLatch go = new CountDownLatch(1);
            List<Future<Integer>> results = new ArrayList<>();
            try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
                for (int i = 0; i < 64; i++) {
                    results.add(pool.submit(() -> {
                        go.await();
                        HttpResponse<String> r =
                                http.send(post(h, body("extraction", true)), HttpResponse.BodyHandlers.ofString());
                        return r.statusCode();
                    }));
                }
                go.countDown();
                int ok = 0;
                int denied = 0;
                for (Future<Integer> f : results) {
                    int status = f.get(60, TimeUnit.SECONDS);
                    if (status == 200) {
                        ok++;
                    } else if (status == 429) {
                        denied++;
                    }
                }
                assertThat(ok + denied).isEqualTo(64);
                assertThat(ok).isPositive();
                assertThat(denied).isPositive();
            } finally {
                running.set(false);
                sampler.join();
            }
            assertThat(violation.get()).isEmpty();
            h.awaitCalls((int) rows(ledger).stream()
                    .filter(r -> r.outcome().status() == CallStatus.OK)
                    .count());
            BudgetStatus shared = ledger.budgetStatus(Instant.now()).get(0);
            Money ledgerSum = rows(ledger).stream().map(r -> r.outcome().cost()).reduce(Money.ZERO, Money::plus);
            assertThat(ledgerSum).isEqualTo(shared.spent());
            assertThat(shared.reserved()).isEqualTo(Money.ZERO);
            assertThat(shared.spent().isGreaterThan(limit)).isFalse();
        }
    }

    @Test
    void aGatewayKilledMidStreamIsRecoveredAsInterruptedWithItsWorstCaseCharged() throws Exception {
        CountDownLatch hold = new CountDownLatch(1);
        try (GatewayHarness h = new GatewayHarness(
                dir,
                "budgets:\n  - { name: g, scope: global, window: total, limit_usd: 10 }\nledger:\n  lease_seconds: 1\n")) {
            h.fake.setDefault(FakeResponse.message("done").withUsage(50, 50));
            // The crash victim runs in its own JVM on the same ledger file; this one only provides the fake upstream.
            h.stopGateway();
            h.fake.enqueue(FakeResponse.message("delivered").withUsage(1000, 100));
            h.fake.enqueue(FakeResponse.stream()
                    .messageStart(FakeResponse.usage(2000, 1))
                    .text("half")
                    .await(hold)
                    .messageStop()
                    .build());
            Process child = new ProcessBuilder(
                            ProcessHandle.current().info().command().orElse("java"),
                            "-cp",
                            System.getProperty("java.class.path"),
                            GatewayChildMain.class.getName(),
                            dir.resolve("tiergate.yaml").toString())
                    .redirectErrorStream(true)
                    .start();
            try {
                BufferedReader out =
                        new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
                int port = -1;
                for (String line; (line = out.readLine()) != null; ) {
                    if (line.startsWith("PORT ")) {
                        port = Integer.parseInt(line.substring(5).trim());
                        break;
                    }
                }
                assertThat(port).isPositive();
                String base = "http://127.0.0.1:" + port;
                HttpResponse<String> delivered = http.send(
                        HttpRequest.newBuilder(URI.create(base + "/v1/messages"))
                                .header("x-api-key", GatewayHarness.KEY)
                                .POST(HttpRequest.BodyPublishers.ofString(body("extraction", false)))
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
                assertThat(delivered.statusCode()).isEqualTo(200);
                HttpResponse<InputStream> streaming = http.send(
                        HttpRequest.newBuilder(URI.create(base + "/v1/messages"))
                                .header("x-api-key", GatewayHarness.KEY)
                                .POST(HttpRequest.BodyPublishers.ofString(body("synthesis", true)))
                                .build(),
                        HttpResponse.BodyHandlers.ofInputStream());
                BufferedReader events =
                        new BufferedReader(new InputStreamReader(streaming.body(), StandardCharsets.UTF_8));
                assertThat(events.readLine()).isEqualTo("event: message_start");
                // SIGKILL: no shutdown hook, no settlement.
                child.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            } finally {
                child.destroyForcibly();
                hold.countDown();
            }
            // A restarted gateway on the same ledger recovers the dead instance's reservation once its lease expires.
            GatewayConfig config = GatewayConfig.load(
                    dir.resolve("tiergate.yaml"),
                    Map.of("ANTHROPIC_API_KEY", GatewayHarness.UPSTREAM_SECRET),
                    java.time.LocalDate.of(2026, 11, 29));
            try (Gateway restarted = Gateway.start(config, c -> {}, Clock.systemUTC())) {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
                List<LedgerRow> rows = rows(restarted.ledger());
                while (rows.stream().noneMatch(r -> r.outcome().status() == CallStatus.INTERRUPTED)
                        && System.nanoTime() < deadline) {
                    java.util.concurrent.locks.LockSupport.parkNanos(
                            Duration.ofMillis(100).toNanos());
                    rows = rows(restarted.ledger());
                }
                assertThat(rows).anySatisfy(r -> {
                    assertThat(r.outcome().status()).isEqualTo(CallStatus.OK);
                    // Haiku 4.5: 1,000 x $1 + 100 x $5
                    assertThat(r.outcome().cost().toUsdString()).isEqualTo("0.001500000");
                });
                LedgerRow interrupted = rows.stream()
                        .filter(r -> r.outcome().status() == CallStatus.INTERRUPTED)
                        .findFirst()
                        .orElseThrow(() -> new AssertionError("no interrupted row: " + rows(restarted.ledger())));
                assertThat(interrupted.call().taskType()).isEqualTo("synthesis");
                // Charged at the worst case: more than its 300-token max_tokens at Opus 4.6's $25 alone (the input
                // estimate at the highest input price comes on top), far above what the stream had used.
                assertThat(interrupted.outcome().cost().isGreaterThan(Money.parseUsd("0.0075")))
                        .isTrue();
                assertThat(interrupted.outcome().cost().isGreaterThan(Money.parseUsd("0.0080")))
                        .isFalse();
                BudgetStatus g = restarted.ledger().budgetStatus(Instant.now()).get(0);
                assertThat(g.reserved()).isEqualTo(Money.ZERO);
                Money sum = rows.stream().map(r -> r.outcome().cost()).reduce(Money.ZERO, Money::plus);
                assertThat(g.spent()).isEqualTo(sum);
            }
        }
    }

    @Test
    void adminApiShowsBudgetsSpendAndPagedCallsToAdminKeysOnly() throws Exception {
        String adminKey = "tg-admin-key";
        try (GatewayHarness h = new GatewayHarness(
                dir,
                "budgets:\n  - { name: day, scope: global, window: day, limit_usd: 1 }\n"
                        + "admin_keys:\n  - { name: ops, sha256: " + ApiKeys.sha256Hex(adminKey) + " }\n")) {
            h.fake.setDefault(FakeResponse.message("ok").withUsage(1000, 200));
            for (int i = 0; i < 3; i++) {
                http.send(
                        post(h, body(i == 0 ? "synthesis" : "extraction", false)),
                        HttpResponse.BodyHandlers.ofString());
            }
            var budgets = JSON.readTree(admin(h, "/admin/budgets", adminKey).body());
            assertThat(budgets.path("budgets").get(0).path("budget").asText()).isEqualTo("day");
            assertThat(budgets.path("budgets").get(0).path("limit_usd").asText())
                    .isEqualTo("1.000000000");
            // synthesis on Opus 4.6: 1,000 x $5 + 200 x $25 = 0.01; two extractions on Haiku 4.5: 2 x 0.002
            assertThat(budgets.path("budgets").get(0).path("spent_usd").asText())
                    .isEqualTo("0.014000000");
            var spend = JSON.readTree(admin(h, "/admin/spend?by=task", adminKey).body());
            assertThat(spend.path("groups").toString())
                    .contains("\"group\":\"extraction\"")
                    .contains("0.004000000");
            var page1 = JSON.readTree(admin(h, "/admin/calls?limit=2", adminKey).body());
            assertThat(page1.path("calls")).hasSize(2);
            var page2 = JSON.readTree(
                    admin(h, page1.path("next").asText(), adminKey).body());
            assertThat(page2.path("calls")).hasSize(1);
            assertThat(page2.path("calls").get(0).path("task_type").asText()).isEqualTo("synthesis");
            assertThat(admin(h, "/admin/budgets", GatewayHarness.KEY).statusCode())
                    .isEqualTo(401);
            assertThat(admin(h, "/admin/spend?by=colour", adminKey).statusCode())
                    .isEqualTo(400);
        }
    }

    @Test
    void adminCallsNextLinksKeepEveryFilterSoEachMatchingCallComesOnceAndNoOtherDoes() throws Exception {
        String adminKey = "tg-admin-key";
        // a run id that needs encoding: '&' would end the parameter, '+' read as a space, ' ' is not allowed
        String run = "nightly run&1+2";
        try (GatewayHarness h = new GatewayHarness(
                dir, "admin_keys:\n  - { name: ops, sha256: " + ApiKeys.sha256Hex(adminKey) + " }\n")) {
            h.fake.setDefault(FakeResponse.message("ok").withUsage(1000, 200));
            for (int i = 0; i < 12; i++) {
                // matching: extraction calls of the run (6); the rest differ in task type or run
                String task = i % 3 == 2 ? "synthesis" : "extraction";
                String[] headers = i % 4 == 3 ? new String[] {} : new String[] {"x-tiergate-run", run};
                var res = http.send(post(h, body(task, false), headers), HttpResponse.BodyHandlers.ofString());
                assertThat(res.statusCode()).as(res.body()).isEqualTo(200);
            }
            List<String> expected = rows(h.gateway.ledger()).stream()
                    .filter(r -> r.call().taskType().equals("extraction")
                            && r.call().runId().equals(run))
                    .map(r -> r.call().requestId())
                    .toList();
            assertThat(expected).hasSize(6);

            var today = java.time.LocalDate.now(java.time.ZoneOffset.UTC);
            String next = "/admin/calls?limit=2&task=extraction&status=ok&status=denied&since=" + today + "&until="
                    + today.plusDays(1)
                    + "&key=agents&team=team-a&run=" + java.net.URLEncoder.encode(run, StandardCharsets.UTF_8);
            List<String> seen = new ArrayList<>();
            int pages = 0;
            while (!next.isEmpty()) {
                var res = admin(h, next, adminKey);
                assertThat(res.statusCode()).as(res.body()).isEqualTo(200);
                var page = JSON.readTree(res.body());
                for (var call : page.path("calls")) {
                    assertThat(call.path("task_type").asText()).isEqualTo("extraction");
                    assertThat(call.path("run").asText()).isEqualTo(run);
                    seen.add(call.path("request_id").asText());
                }
                next = page.path("next").asText();
                pages++;
                assertThat(pages).as("pages followed").isLessThanOrEqualTo(5);
            }
            // newest first, each once
            assertThat(seen).containsExactlyElementsOf(expected);
        }
    }

    @Test
    void adminBudgetsListsEveryConfiguredBudgetBeforeItsFirstCall() throws Exception {
        String adminKey = "tg-admin-key";
        try (GatewayHarness h = new GatewayHarness(dir, """
                budgets:
                  - { name: day, scope: global, window: day, limit_usd: 1 }
                  - { name: team-b, scope: team, team: b, window: month, limit_usd: 3 }
                  - { name: runs, scope: run, per_run: true, window: total, limit_usd: 2 }
                  - { name: nightly, scope: run, run: nightly-42, window: total, limit_usd: 20 }
                shadow:
                  budget_usd: 0.5
                  task_types:
                    synthesis: { sample_rate: 0 }
                admin_keys:
                  - { name: ops, sha256: %s }
                """.formatted(ApiKeys.sha256Hex(adminKey)))) {
            var before =
                    JSON.readTree(admin(h, "/admin/budgets", adminKey).body()).path("budgets");
            assertThat(before)
                    .extracting(b ->
                            b.path("budget").asText() + "/" + b.path("subject").asText())
                    .containsExactly("day/", "nightly/nightly-42", "shadow/", "team-b/");
            for (var b : before) {
                assertThat(b.path("spent_usd").asText()).isEqualTo("0.000000000");
                assertThat(b.path("reserved_usd").asText()).isEqualTo("0.000000000");
                assertThat(b.path("remaining_usd").asText())
                        .isEqualTo(b.path("limit_usd").asText());
            }
            var day = before.get(0);
            assertThat(day.path("limit_usd").asText()).isEqualTo("1.000000000");
            assertThat(day.path("window").asText()).isEqualTo("day");
            assertThat(day.path("mode").asText()).isEqualTo("hard");
            assertThat(day.path("window_start").asText())
                    .isEqualTo(java.time.LocalDate.now(java.time.ZoneOffset.UTC)
                            .atStartOfDay(java.time.ZoneOffset.UTC)
                            .toInstant()
                            .toString());
            assertThat(before.get(1).path("window_start").asText()).isEqualTo("1970-01-01T00:00:00Z");

            h.fake.setDefault(FakeResponse.message("ok").withUsage(1000, 200));
            http.send(
                    post(h, body("extraction", false), "x-tiergate-run", "r-1"), HttpResponse.BodyHandlers.ofString());
            var after =
                    JSON.readTree(admin(h, "/admin/budgets", adminKey).body()).path("budgets");
            // the used window comes from the ledger once, and the run's own window appears with its run
            assertThat(after)
                    .extracting(b ->
                            b.path("budget").asText() + "/" + b.path("subject").asText())
                    .containsExactly("day/", "nightly/nightly-42", "runs/r-1", "shadow/", "team-b/");
            // extraction on Haiku 4.5: 1,000 x $1 + 200 x $5
            assertThat(after.get(0).path("spent_usd").asText()).isEqualTo("0.002000000");
            assertThat(after.get(2).path("spent_usd").asText()).isEqualTo("0.002000000");
        }
    }

    private HttpResponse<String> admin(GatewayHarness h, String path, String key) throws Exception {
        return http.send(
                HttpRequest.newBuilder(URI.create(h.baseUrl() + path))
                        .header("x-api-key", key)
                        .build(),
                HttpResponse.BodyHandlers.ofString());
    }
}
