package dev.tiergate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tiergate.budget.BudgetStatus;
import dev.tiergate.ledger.CallQuery;
import dev.tiergate.ledger.CallStatus;
import dev.tiergate.ledger.Ledger;
import dev.tiergate.ledger.LedgerRow;
import dev.tiergate.ledger.ShadowEvidence;
import dev.tiergate.pricing.CatalogLoader;
import dev.tiergate.pricing.Money;
import dev.tiergate.testing.FakeResponse;
import dev.tiergate.testing.RecordedRequest;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Shadow evaluation through the real gateway, with a fake upstream that answers each model differently. */
class GatewayShadowIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String SERVED = "claude-opus-4-6";
    private static final String JUDGE =
            CatalogLoader.bundled().require("claude-opus-4-5").id();
    private static final String ADMIN_KEY = "tg-admin-key";

    @TempDir
    Path dir;

    final HttpClient http = HttpClient.newHttpClient();

    private static String shadowConfig(String rate, String budgetUsd) {
        return """
                shadow:
                  budget_usd: %s
                  window: day
                  judge: claude-opus-4-5
                  seed: 7
                  task_types:
                    synthesis: { sample_rate: %s }
                admin_keys:
                  - { name: ops, sha256: %s }
                """.formatted(budgetUsd, rate, ApiKeys.sha256Hex(ADMIN_KEY));
    }

    private GatewayHarness harness(Path where, String extra) throws Exception {
        Files.createDirectories(where);
        GatewayHarness h = new GatewayHarness(where, extra);
        h.fake.setDefault(SERVED, FakeResponse.message("SERVED-ANSWER").withUsage(1000, 200));
        h.fake.setDefault(FakeResponse.message("CANDIDATE-ANSWER").withUsage(1000, 180));
        h.fake.setDefault(JUDGE, FakeResponse.message("{\"winner\": \"tie\"}").withUsage(300, 10));
        return h;
    }

    private HttpResponse<String> post(GatewayHarness h, String task, boolean stream) throws Exception {
        return http.send(request(h, task, stream), HttpResponse.BodyHandlers.ofString());
    }

    private static HttpRequest request(GatewayHarness h, String task, boolean stream) {
        return HttpRequest.newBuilder(URI.create(h.baseUrl() + "/v1/messages"))
                .header("x-api-key", GatewayHarness.KEY)
                .header("anthropic-version", "2023-06-01")
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"task:" + task
                        + "\",\"max_tokens\":3000,\"stream\":" + stream
                        + ",\"messages\":[{\"role\":\"user\",\"content\":\"weigh the evidence\"}]}"))
                .build();
    }

    /** Stops the gateway (which lets shadow work finish) and opens its ledger file again to inspect it. */
    private Ledger stopAndOpenLedger(GatewayHarness h, Path where) {
        h.stopGateway();
        return Ledger.sqlite(where.resolve("tiergate-ledger.db"), "test", Clock.systemUTC());
    }

    private static List<RecordedRequest> requestsFor(GatewayHarness h, String modelPrefix) {
        return h.fake.requests().stream()
                .filter(r -> r.model().orElse("").startsWith(modelPrefix))
                .toList();
    }

    private static void await(BooleanSupplier condition, String what) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            LockSupport.parkNanos(Duration.ofMillis(5).toNanos());
        }
    }

    @Test
    void samplesTheConfiguredShareOfCallsDeterministically() throws Exception {
        int calls = 200;
        long expected = 0;
        for (int n = 0; n < calls; n++) {
            expected += Shadow.sampled(7, "synthesis", n, 0.25) ? 1 : 0;
        }
        // 200 x 0.25 = 50; the sampler is a hash of (seed, task type, n), so the count is fixed for seed 7
        assertThat(expected).isBetween(35L, 65L);
        Path where = dir.resolve("rate");
        try (GatewayHarness h = harness(where, shadowConfig("0.25", "100"))) {
            for (int i = 0; i < calls; i++) {
                assertThat(post(h, "synthesis", false).statusCode()).isEqualTo(200);
                // other task types are never sampled
                if (i % 20 == 0) {
                    assertThat(post(h, "extraction", false).statusCode()).isEqualTo(200);
                }
            }
            try (Ledger ledger = stopAndOpenLedger(h, where)) {
                List<ShadowEvidence> evidence = ledger.evidence(Instant.EPOCH);
                assertThat(evidence).hasSize((int) expected).allSatisfy(e -> {
                    assertThat(e.taskType()).isEqualTo("synthesis");
                    assertThat(e.source()).isEqualTo(ShadowEvidence.Source.JUDGE);
                    assertThat(e.served().model()).isEqualTo(SERVED);
                    assertThat(e.candidate().model()).startsWith("claude-haiku-4-5");
                    assertThat(e.candidate().score()).isEqualTo(1.0); // a tie in both orders
                });
                // the extraction calls are served by Haiku too, at their own cap of 300
                assertThat(requestsFor(h, "claude-haiku-4-5"))
                        .filteredOn(r -> r.json().path("max_tokens").asLong() == 2000)
                        .hasSize((int) expected);
                assertThat(requestsFor(h, JUDGE)).hasSize((int) (2 * expected));
            }
        }
    }

    @Test
    void theCallersResponseIsByteIdenticalWithAndWithoutShadowEvaluation() throws Exception {
        Map<String, Object> without;
        Map<String, Object> with;
        try (GatewayHarness h = harness(dir.resolve("off"), "")) {
            without = exchange(h);
        }
        try (GatewayHarness h = harness(dir.resolve("on"), shadowConfig("1", "100"))) {
            with = exchange(h);
            await(() -> requestsFor(h, JUDGE).size() == 4, "both calls judged");
        }
        assertThat(with).isEqualTo(without);
        assertThat(with.toString()).doesNotContain("shadow").doesNotContain("CANDIDATE");
    }

    /** One JSON and one streamed synthesis call: statuses, bodies and headers but the per-call ones. */
    private Map<String, Object> exchange(GatewayHarness h) throws Exception {
        Map<String, Object> seen = new TreeMap<>();
        HttpResponse<String> json = post(h, "synthesis", false);
        h.fake.setDefault(
                SERVED,
                FakeResponse.stream()
                        .messageId("msg_fixed")
                        .messageStart(FakeResponse.usage(1000, 1))
                        .text("SERVED-", "ANSWER")
                        .messageDelta("end_turn", FakeResponse.usage(1000, 200))
                        .messageStop()
                        .build());
        HttpResponse<String> sse = post(h, "synthesis", true);
        for (var e : Map.of("json", json, "sse", sse).entrySet()) {
            seen.put(e.getKey() + ".status", e.getValue().statusCode());
            seen.put(e.getKey() + ".body", e.getValue().body());
            Map<String, List<String>> headers =
                    new TreeMap<>(e.getValue().headers().map());
            headers.remove("date");
            headers.remove("x-tiergate-request-id");
            seen.put(e.getKey() + ".headers", headers);
        }
        return seen;
    }

    @Test
    void shadowCallsReachTheUpstreamOnlyAfterTheCallerHasItsWholeResponse() throws Exception {
        Path where = dir.resolve("order");
        try (GatewayHarness h = harness(where, shadowConfig("1", "100"))) {
            CountDownLatch gate = new CountDownLatch(1);
            h.fake.setDefault(
                    SERVED,
                    FakeResponse.stream()
                            .messageStart(FakeResponse.usage(1000, 1))
                            .text("SERVED-ANSWER")
                            .await(gate)
                            .messageDelta("end_turn", FakeResponse.usage(1000, 200))
                            .messageStop()
                            .build());
            CompletableFuture<HttpResponse<String>> caller =
                    http.sendAsync(request(h, "synthesis", true), HttpResponse.BodyHandlers.ofString());
            RecordedRequest served = h.fake.takeRequest(Duration.ofSeconds(5));
            assertThat(served.model()).contains(SERVED);
            // While the caller's stream is held open, nothing else reaches the upstream.
            long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(300);
            while (System.nanoTime() < until) {
                assertThat(h.fake.requestCount()).isEqualTo(1);
                LockSupport.parkNanos(Duration.ofMillis(10).toNanos());
            }
            assertThat(caller).isNotDone();
            gate.countDown();
            HttpResponse<String> res = caller.get(5, TimeUnit.SECONDS);
            assertThat(res.body()).contains("SERVED-ANSWER").doesNotContain("CANDIDATE");
            RecordedRequest candidate = h.fake.takeRequest(Duration.ofSeconds(5));
            assertThat(candidate.model().orElse("")).startsWith("claude-haiku-4-5");
            assertThat(candidate.json().path("stream").asBoolean(true)).isFalse();
            assertThat(candidate.json().path("max_tokens").asLong()).isEqualTo(2000); // synthesis cap
            assertThat(candidate.header("x-api-key")).contains(GatewayHarness.UPSTREAM_SECRET);
            // The judge reads the streamed answer, reassembled.
            RecordedRequest judge = h.fake.takeRequest(Duration.ofSeconds(5));
            assertThat(judge.bodyUtf8()).contains("SERVED-ANSWER").contains("CANDIDATE-ANSWER");
        }
    }

    @Test
    void theJudgeSeesBothOrdersAndAPositionBiasedJudgeScoresOneHalf() throws Exception {
        Path where = dir.resolve("judge");
        try (GatewayHarness h = harness(where, shadowConfig("1", "100"))) {
            // A judge that always prefers the first answer: its two verdicts disagree about the candidate.
            h.fake.setDefault(
                    JUDGE, FakeResponse.message("Verdict: {\"winner\": \"A\"}").withUsage(300, 10));
            String requestId = post(h, "synthesis", false)
                    .headers()
                    .firstValue("x-tiergate-request-id")
                    .orElseThrow();
            await(() -> requestsFor(h, JUDGE).size() == 2, "two judge calls");
            List<RecordedRequest> judge = requestsFor(h, JUDGE);
            assertThat(prompt(judge.get(0))).containsSubsequence("<answer_A>\nSERVED-ANSWER", "<answer_B>\nCANDIDATE");
            assertThat(prompt(judge.get(1))).containsSubsequence("<answer_A>\nCANDIDATE-ANSWER", "<answer_B>\nSERVED");
            assertThat(prompt(judge.get(0))).contains("weigh the evidence");
            assertThat(judge.get(0).json().path("system").asText()).contains("{\"winner\": \"A\"}");
            try (Ledger ledger = stopAndOpenLedger(h, where)) {
                assertThat(ledger.evidence(Instant.EPOCH)).singleElement().satisfies(e -> {
                    assertThat(e.requestId()).isEqualTo(requestId);
                    assertThat(e.served().score()).isEqualTo(1.0);
                    assertThat(e.candidate().score()).isEqualTo(0.5);
                    // Opus 4.6: 1,000 x $5 + 200 x $25; Haiku 4.5: 1,000 x $1 + 180 x $5
                    assertThat(e.served().cost().toUsdString()).isEqualTo("0.010000000");
                    assertThat(e.candidate().cost().toUsdString()).isEqualTo("0.001900000");
                    // Opus 4.5, twice: 300 x $5 + 10 x $25
                    assertThat(e.judgeCost().toUsdString()).isEqualTo("0.003500000");
                });
                List<LedgerRow> shadowRows = ledger.calls(CallQuery.latest(100)).rows().stream()
                        .filter(r -> r.call().tier().equals("shadow"))
                        .toList();
                assertThat(shadowRows)
                        .extracting(r -> r.call().requestId())
                        .containsExactlyInAnyOrder(
                                requestId + ".shadow", requestId + ".judge-ab", requestId + ".judge-ba");
                assertThat(shadowRows).allSatisfy(r -> {
                    assertThat(r.call().keyName()).isEqualTo("shadow");
                    assertThat(r.call().taskType()).isEqualTo("synthesis");
                    assertThat(r.outcome().status()).isEqualTo(CallStatus.OK);
                });
            }
        }
    }

    private static String prompt(RecordedRequest r) {
        return r.json().path("messages").get(0).path("content").asText();
    }

    @Test
    void shadowSpendStaysWithinTheShadowBudgetAndDeniedShadowsAreSkipped() throws Exception {
        Path where = dir.resolve("budget");
        Money limit = Money.parseUsd("0.05");
        int calls = 30;
        try (GatewayHarness h = harness(where, shadowConfig("1", "0.05"))) {
            for (int i = 0; i < calls; i++) {
                assertThat(post(h, "synthesis", i % 2 == 0).statusCode()).isEqualTo(200);
            }
            try (Ledger ledger = stopAndOpenLedger(h, where)) {
                List<LedgerRow> shadowRows = ledger.calls(CallQuery.latest(1000)).rows().stream()
                        .filter(r -> r.call().tier().equals("shadow"))
                        .toList();
                Money spent = shadowRows.stream().map(r -> r.outcome().cost()).reduce(Money.ZERO, Money::plus);
                assertThat(spent.isGreaterThan(limit))
                        .as("shadow spend %s", spent)
                        .isFalse();
                assertThat(spent.isGreaterThan(Money.ZERO)).isTrue();
                assertThat(shadowRows)
                        .filteredOn(r -> r.outcome().status() == CallStatus.DENIED)
                        .isNotEmpty();
                BudgetStatus shadow = ledger.budgetStatus(Instant.now()).stream()
                        .filter(s -> s.budget().budget().equals("shadow"))
                        .findFirst()
                        .orElseThrow();
                assertThat(shadow.spent()).isEqualTo(spent);
                assertThat(shadow.reserved()).isEqualTo(Money.ZERO);
                int evidence = ledger.evidence(Instant.EPOCH).size();
                assertThat(evidence).isPositive().isLessThan(calls);
                // every served call is in the ledger, untouched by the shadow budget
                assertThat(ledger.calls(CallQuery.latest(1000)).rows())
                        .filteredOn(r -> r.call().tier().equals("frontier"))
                        .hasSize(calls)
                        .allSatisfy(r -> assertThat(r.outcome().status()).isEqualTo(CallStatus.OK));
            }
        }
    }

    @Test
    void aCandidateAttemptSentAndNeverAnsweredIsChargedAtItsWorstCaseAndNotTriedAgain() throws Exception {
        Path where = dir.resolve("unanswered");
        try (GatewayHarness h = harness(where, shadowConfig("1", "5"))) {
            // the candidate's model has no default of its own: the fake reads its request, then resets
            h.fake.setDefault(FakeResponse.reset());

            assertThat(post(h, "synthesis", false).statusCode()).isEqualTo(200);

            try (Ledger ledger = stopAndOpenLedger(h, where)) {
                assertThat(h.fake.requests())
                        .extracting(r -> r.model().orElse(""))
                        .as("the served call, then one candidate attempt, no retry and no judge")
                        .hasSize(2)
                        .startsWith(SERVED)
                        .doesNotContain(JUDGE);
                LedgerRow candidate = ledger.calls(CallQuery.latest(10)).rows().stream()
                        .filter(r -> r.call().tier().equals("shadow"))
                        .findFirst()
                        .orElseThrow();
                assertThat(candidate.outcome().status()).isEqualTo(CallStatus.UPSTREAM_ERROR);
                // the upstream may have billed it: charged at its worst case, not at $0
                assertThat(candidate.outcome().cost().isGreaterThan(Money.ZERO)).isTrue();
                BudgetStatus shadow = ledger.budgetStatus(Instant.now()).stream()
                        .filter(st -> st.budget().budget().equals("shadow"))
                        .findFirst()
                        .orElseThrow();
                assertThat(shadow.spent()).isEqualTo(candidate.outcome().cost());
                assertThat(ledger.evidence(Instant.EPOCH)).isEmpty();
            }
        }
    }

    @Test
    void feedbackIsRecordedAsEvidenceForTheServedModelAndBadInputNamesTheField() throws Exception {
        Path where = dir.resolve("feedback");
        try (GatewayHarness h = harness(where, shadowConfig("0", "1"))) {
            String id = post(h, "extraction", false)
                    .headers()
                    .firstValue("x-tiergate-request-id")
                    .orElseThrow();
            HttpResponse<String> ok = feedback(h, "{\"request_id\":\"" + id + "\",\"score\":0.75}", ADMIN_KEY);
            assertThat(ok.statusCode()).isEqualTo(200);
            assertThat(JSON.readTree(ok.body()).path("model").asText()).startsWith("claude-haiku-4-5");

            JsonNode unknown = error(feedback(h, "{\"request_id\":\"tgreq_nope\",\"score\":1}", ADMIN_KEY));
            assertThat(unknown.toString()).contains("request_id").contains("tgreq_nope");
            JsonNode outside = error(feedback(h, "{\"request_id\":\"" + id + "\",\"score\":1.5}", ADMIN_KEY));
            assertThat(outside.toString()).contains("score").contains("1.5");
            assertThat(error(feedback(h, "[1]", ADMIN_KEY)).toString()).contains("JSON object");
            assertThat(feedback(h, "{\"request_id\":\"" + id + "\",\"score\":1}", GatewayHarness.KEY)
                            .statusCode())
                    .isEqualTo(401);

            try (Ledger ledger = stopAndOpenLedger(h, where)) {
                assertThat(ledger.evidence(Instant.EPOCH)).singleElement().satisfies(e -> {
                    assertThat(e.source()).isEqualTo(ShadowEvidence.Source.FEEDBACK);
                    assertThat(e.requestId()).isEqualTo(id);
                    assertThat(e.taskType()).isEqualTo("extraction");
                    assertThat(e.served().score()).isEqualTo(0.75);
                    assertThat(e.hasCandidate()).isFalse();
                });
            }
        }
    }

    private HttpResponse<String> feedback(GatewayHarness h, String body, String key) throws Exception {
        return http.send(
                HttpRequest.newBuilder(URI.create(h.baseUrl() + "/admin/feedback"))
                        .header("x-api-key", key)
                        .header("content-type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(body))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static JsonNode error(HttpResponse<String> res) throws Exception {
        assertThat(res.statusCode()).isEqualTo(400);
        return JSON.readTree(res.body()).path("error");
    }
}
