package dev.tiergate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.anthropic.client.AnthropicClient;
import com.anthropic.core.http.HttpResponseFor;
import com.anthropic.models.messages.Message;
import com.anthropic.models.messages.MessageCreateParams;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tiergate.testing.FakeAnthropic;
import dev.tiergate.testing.FakeResponse;
import dev.tiergate.testing.RecordedRequest;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Gateway behaviours callers and operators rely on, end to end: the official Java SDK or a plain HTTP client as the
 * caller, a real gateway on port 0, a {@link FakeAnthropic} upstream. Tests that need their own policy, upstream
 * retry settings or key defaults give {@link GatewayHarness} a policy and config of their own.
 */
class GatewayContractIT {
    private static final Duration WAIT = Duration.ofSeconds(5);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String OPUS = "claude-opus-4-6";
    private static final String OPUS_FALLBACK = "claude-opus-4-5-20251101";
    private static final String HAIKU = "claude-haiku-4-5-20251001";

    @TempDir
    Path dir;

    final HttpClient http = HttpClient.newHttpClient();
    private final List<AutoCloseable> open = new CopyOnWriteArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (AutoCloseable c : open.reversed()) {
            c.close();
        }
    }

    // --- 1. retries honour retry-after, up to max_retry_wait_ms ---

    private GatewayHarness retryRig() {
        return rig(GatewayHarness.POLICY, url -> """
                listen: { host: 127.0.0.1, port: 0 }
                policy: policy.yaml
                upstream:
                  base_url: %s
                  max_retries: 2
                  retry_base_ms: 1
                  max_retry_wait_ms: 3000
                keys:
                  - { name: agents, sha256: %s }
                """.formatted(url, ApiKeys.sha256Hex(GatewayHarness.KEY)));
    }

    @Test
    void aRetryAfterInSecondsIsWaitedOutBeforeTheSameModelIsTriedAgain() {
        GatewayHarness rig = retryRig();
        rig.fake.enqueue(
                FakeResponse.error(429, "rate_limit_error", "slow down").withHeader("retry-after", "1"));
        rig.fake.enqueue(FakeResponse.message("after the wait").withUsage(10, 10));
        long start = System.nanoTime();
        try (HttpResponseFor<Message> raw =
                sdk(rig).messages().withRawResponse().create(params("task:synthesis", 100))) {
            assertThat(raw.parse().content().get(0).text().orElseThrow().text()).isEqualTo("after the wait");
            assertThat(raw.headers().values("x-tiergate-model")).containsExactly(OPUS);
        }
        // the fake answers at once and the backoff without retry-after is ~1 ms: only the asked wait takes a second
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofSeconds(1));
        assertThat(rig.fake.takeRequest(WAIT).model()).contains(OPUS);
        assertThat(rig.fake.takeRequest(WAIT).model()).contains(OPUS);
        assertThat(rig.awaitCalls(1).get(0).attempts()).isEqualTo(2);
    }

    @Test
    void aRetryAfterAsAnHttpDateIsWaitedOutToo() {
        GatewayHarness rig = retryRig();
        long start = System.nanoTime();
        // an HTTP date has whole seconds: now + 2 s, truncated, is still more than 1 s away
        String at = DateTimeFormatter.RFC_1123_DATE_TIME.format(
                ZonedDateTime.now(ZoneOffset.UTC).plusSeconds(2));
        rig.fake.enqueue(
                FakeResponse.error(529, "overloaded_error", "Overloaded").withHeader("retry-after", at));
        rig.fake.enqueue(FakeResponse.message("after the date").withUsage(10, 10));
        Message m = sdk(rig).messages().create(params("task:synthesis", 100));
        assertThat(m.content().get(0).text().orElseThrow().text()).isEqualTo("after the date");
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofSeconds(1));
        assertThat(rig.fake.takeRequest(WAIT).model()).contains(OPUS);
        assertThat(rig.fake.takeRequest(WAIT).model()).contains(OPUS);
        assertThat(rig.awaitCalls(1).get(0).attempts()).isEqualTo(2);
    }

    @Test
    void aRetryAfterLongerThanTheMaximumWaitMovesStraightToTheTiersFallback() {
        GatewayHarness rig = retryRig();
        // ten minutes: a gateway that waited would leave the SDK to time out after 10 s
        rig.fake.enqueue(
                FakeResponse.error(429, "rate_limit_error", "slow down").withHeader("retry-after", "600"));
        rig.fake.enqueue(FakeResponse.message("from the fallback").withUsage(10, 10));
        try (HttpResponseFor<Message> raw =
                sdk(rig).messages().withRawResponse().create(params("task:synthesis", 100))) {
            Message m = raw.parse();
            assertThat(m.content().get(0).text().orElseThrow().text()).isEqualTo("from the fallback");
            assertThat(m.model().asString()).isEqualTo(OPUS_FALLBACK);
            assertThat(raw.headers().values("x-tiergate-model")).containsExactly(OPUS_FALLBACK);
            assertThat(raw.headers().values("x-tiergate-tier")).containsExactly("frontier");
        }
        assertThat(rig.fake.takeRequest(WAIT).model()).contains(OPUS);
        assertThat(rig.fake.takeRequest(WAIT).model()).contains(OPUS_FALLBACK);
        CallRecord call = rig.awaitCalls(1).get(0);
        assertThat(call.attempts()).isEqualTo(2);
        assertThat(call.servedModel()).isEqualTo(OPUS_FALLBACK);
    }

    @Test
    void anUpstreamThatSendsNoHeadersWithinTheFirstByteTimeoutIsGivenUpOnAndTheNextAttemptServes() {
        GatewayHarness rig =
                rig(GatewayHarness.POLICY, url -> """
                listen: { host: 127.0.0.1, port: 0 }
                policy: policy.yaml
                upstream:
                  base_url: %s
                  max_retries: 0
                  first_byte_timeout_ms: 400
                  idle_timeout_ms: 400
                keys:
                  - { name: agents, sha256: %s }
                """.formatted(url, ApiKeys.sha256Hex(GatewayHarness.KEY)));
        // the routed model's upstream takes the request and says nothing; without a timeout the call would hang
        // for the fake's whole minute (and the SDK give up after its own)
        rig.fake.enqueue(FakeResponse.silence(Duration.ofMinutes(1)));
        rig.fake.enqueue(FakeResponse.message("from the fallback").withUsage(10, 10));
        long start = System.nanoTime();

        Message m = sdk(rig).messages().create(params("task:synthesis", 100));

        assertThat(m.content().get(0).text().orElseThrow().text()).isEqualTo("from the fallback");
        assertThat(m.model().asString()).isEqualTo(OPUS_FALLBACK);
        assertThat(Duration.ofNanos(System.nanoTime() - start))
                .isGreaterThanOrEqualTo(Duration.ofMillis(400))
                .isLessThan(Duration.ofSeconds(30));
        assertThat(rig.fake.takeRequest(WAIT).model()).contains(OPUS);
        assertThat(rig.fake.takeRequest(WAIT).model()).contains(OPUS_FALLBACK);
        CallRecord call = rig.awaitCalls(1).get(0);
        assertThat(call.attempts()).isEqualTo(2);
        assertThat(call.servedModel()).isEqualTo(OPUS_FALLBACK);
    }

    // --- 2. anthropic-* headers pass through ---

    @Test
    void anthropicVersionAndBetaHeadersReachTheUpstreamUnchanged() throws Exception {
        try (GatewayHarness h = new GatewayHarness(dir)) {
            String beta = "prompt-caching-2024-07-31,output-128k-2025-02-19";
            HttpResponse<String> res = http.send(
                    HttpRequest.newBuilder(URI.create(h.baseUrl() + "/v1/messages"))
                            .header("x-api-key", GatewayHarness.KEY)
                            .header("anthropic-version", "2023-01-01")
                            // header names are case-insensitive: a caller's capitals change nothing
                            .header("Anthropic-Beta", beta)
                            .POST(HttpRequest.BodyPublishers.ofString(body("task:extraction", 10, false)))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(res.statusCode()).as(res.body()).isEqualTo(200);
            RecordedRequest upstream = h.fake.takeRequest(WAIT);
            // the caller's version replaces the gateway's default, it is not sent beside it
            assertThat(upstream.headers("anthropic-version")).containsExactly("2023-01-01");
            assertThat(upstream.headers("anthropic-beta")).containsExactly(beta);
        }
    }

    // --- 3. a task type the policy cannot route ---

    @Test
    void anUnknownTaskTypeIsRefusedWhenThePolicyHasNoDefaultTier() throws Exception {
        GatewayHarness rig = rig("""
                tiers:
                  small: { model: claude-haiku-4-5-20251001 }
                default_max_tokens: 1024
                task_types:
                  extraction: { tier: small, max_tokens: 300 }
                """, url -> """
                listen: { host: 127.0.0.1, port: 0 }
                policy: policy.yaml
                upstream: { base_url: %s, max_retries: 0 }
                keys:
                  - { name: agents, sha256: %s }
                """.formatted(url, ApiKeys.sha256Hex(GatewayHarness.KEY)));
        HttpResponse<String> refused = send(rig.gateway.baseUrl(), body("task:translation", 10, false));
        assertThat(refused.statusCode()).as(refused.body()).isEqualTo(400);
        JsonNode error = JSON.readTree(refused.body()).path("error");
        assertThat(error.path("type").asText()).isEqualTo("invalid_request_error");
        assertThat(error.path("message").asText()).contains("'translation'").contains("no default_tier");
        assertThat(rig.fake.requestCount()).isZero();
        // the same gateway serves a task type the policy knows
        assertThat(send(rig.gateway.baseUrl(), body("task:extraction", 10, false))
                        .statusCode())
                .isEqualTo(200);
        assertThat(rig.fake.requestCount()).isEqualTo(1);
    }

    // --- 4. the default body limit ---

    @Test
    void withoutMaxBodyBytesABodyOverAnthropics32MbIsRefusedBeforeTheUpstream() throws Exception {
        assertThat(GatewayConfig.DEFAULT_MAX_BODY_BYTES).isEqualTo(32L * 1024 * 1024);
        try (GatewayHarness h = new GatewayHarness(dir)) {
            // the harness's config sets no max_body_bytes
            assertThat(GatewayConfig.load(dir.resolve("tiergate.yaml"), Map.of(), LocalDate.of(2026, 11, 29))
                            .maxBodyBytes())
                    .isEqualTo(GatewayConfig.DEFAULT_MAX_BODY_BYTES);
            // a valid request padded with JSON whitespace to one byte over the limit: only its size can refuse it
            byte[] request = body("task:extraction", 10, false).getBytes(StandardCharsets.US_ASCII);
            byte[] body = new byte[(int) GatewayConfig.DEFAULT_MAX_BODY_BYTES + 1];
            Arrays.fill(body, (byte) ' ');
            body[0] = '{';
            System.arraycopy(request, 1, body, body.length - (request.length - 1), request.length - 1);
            HttpResponse<String> res = http.send(
                    HttpRequest.newBuilder(URI.create(h.baseUrl() + "/v1/messages"))
                            .header("x-api-key", GatewayHarness.KEY)
                            .POST(HttpRequest.BodyPublishers.ofByteArray(body))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(res.statusCode()).as(res.body()).isEqualTo(413);
            JsonNode error = JSON.readTree(res.body()).path("error");
            assertThat(error.path("type").asText()).isEqualTo("request_too_large");
            assertThat(error.path("message").asText()).contains("33554432 bytes");
            assertThat(h.fake.requestCount()).isZero();
        }
    }

    @Test
    void aRequestUnderTheLimitWithOneStringOverJacksonsDefault20MillionCharactersGoesThrough() throws Exception {
        try (GatewayHarness h = new GatewayHarness(dir)) {
            // a base64 image of about 15 MB: one JSON string of 20,000,001 characters, well under 32 MB in all
            String big = "A".repeat(20_000_001);
            String request = "{\"model\":\"task:extraction\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\","
                    + "\"content\":[{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":"
                    + "\"image/jpeg\",\"data\":\"" + big + "\"}}]}]}";
            HttpResponse<String> res = http.send(
                    HttpRequest.newBuilder(URI.create(h.baseUrl() + "/v1/messages"))
                            .header("x-api-key", GatewayHarness.KEY)
                            .POST(HttpRequest.BodyPublishers.ofString(request))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(res.statusCode()).as(res.body()).isEqualTo(200);
            assertThat(h.fake.requestCount()).isEqualTo(1);
            assertThat(h.fake.requests()
                            .get(0)
                            .json()
                            .path("messages")
                            .get(0)
                            .path("content")
                            .get(0)
                            .path("source")
                            .path("data")
                            .asText())
                    .hasSize(big.length());
        }
    }

    // --- 5. a key's default task type ---

    @Test
    void aKeysDefaultTaskRoutesRequestsThatNameNoTask() throws Exception {
        GatewayHarness rig =
                rig(GatewayHarness.POLICY, url -> """
                listen: { host: 127.0.0.1, port: 0 }
                policy: policy.yaml
                upstream: { base_url: %s, max_retries: 0 }
                keys:
                  - { name: writer, sha256: %s, default_task: synthesis }
                """.formatted(url, ApiKeys.sha256Hex(GatewayHarness.KEY)));
        // a concrete model the key may not pass through, and no x-tiergate-task: the key's default decides
        HttpResponse<String> res = send(rig.gateway.baseUrl(), body(HAIKU, 4000, false));
        assertThat(res.statusCode()).as(res.body()).isEqualTo(200);
        assertThat(res.headers().firstValue("x-tiergate-task")).contains("synthesis");
        assertThat(res.headers().firstValue("x-tiergate-tier")).contains("frontier");
        assertThat(res.headers().firstValue("x-tiergate-model")).contains(OPUS);
        RecordedRequest upstream = rig.fake.takeRequest(WAIT);
        assertThat(upstream.model()).contains(OPUS);
        assertThat(upstream.json().path("max_tokens").asLong()).isEqualTo(2000);
        assertThat(upstream.header("x-tiergate-task")).contains("synthesis");

        // a task the request names still wins over the key's default
        HttpResponse<String> named = send(rig.gateway.baseUrl(), body("task:extraction", 4000, false));
        assertThat(named.headers().firstValue("x-tiergate-task")).contains("extraction");
        assertThat(rig.fake.takeRequest(WAIT).model()).contains(HAIKU);
    }

    // --- 6. the cost header ---

    @Test
    void onlyNonStreamedResponsesCarryTheCostHeader() throws Exception {
        try (GatewayHarness h = new GatewayHarness(dir)) {
            h.fake.setDefault(FakeResponse.message("ok").withUsage(1000, 100));
            HttpResponse<String> plain = send(h.baseUrl(), body("task:extraction", 100, false));
            assertThat(plain.statusCode()).isEqualTo(200);
            // Haiku 4.5: 1,000 x $1 + 100 x $5 per million
            assertThat(plain.headers().allValues("x-tiergate-cost-usd")).containsExactly("0.001500000");

            HttpResponse<String> streamed = send(h.baseUrl(), body("task:extraction", 100, true));
            assertThat(streamed.statusCode()).isEqualTo(200);
            assertThat(streamed.headers().firstValue("content-type"))
                    .hasValueSatisfying(v -> assertThat(v).startsWith("text/event-stream"));
            assertThat(streamed.body()).contains("event: message_stop");
            // the route headers are there, the cost is not: it is known only after the last event
            assertThat(streamed.headers().firstValue("x-tiergate-model")).contains(HAIKU);
            assertThat(streamed.headers().firstValue("x-tiergate-cost-usd")).isEmpty();
            assertThat(h.awaitCalls(2).get(1).cost().toUsdString()).isEqualTo("0.001500000");
        }
    }

    // --- 7. soft-budget demotion ---

    @Test
    void aSpentSoftBudgetDemotesTaskTypesBelowItsPriorityToItsTier() throws Exception {
        GatewayHarness rig = rig("""
                tiers:
                  frontier: { model: claude-opus-4-6 }
                  small:    { model: claude-haiku-4-5-20251001 }
                default_tier: small
                default_max_tokens: 1024
                task_types:
                  drafting:  { tier: frontier, max_tokens: 500, priority: low }
                  synthesis: { tier: frontier, max_tokens: 500 }
                """, url -> """
                listen: { host: 127.0.0.1, port: 0 }
                policy: policy.yaml
                upstream: { base_url: %s, max_retries: 0 }
                keys:
                  - { name: agents, sha256: %s }
                budgets:
                  - name: frontier-day
                    scope: global
                    window: day
                    limit_usd: 0.01
                    mode: soft
                    demote_below_priority: normal
                    demote_to_tier: small
                """.formatted(url, ApiKeys.sha256Hex(GatewayHarness.KEY)));
        String base = rig.gateway.baseUrl();
        // Opus 4.6: 1,000 x $5 + 1,000 x $25 per million = $0.03, three times the soft limit
        rig.fake.setDefault(FakeResponse.message("ok").withUsage(1000, 1000));

        HttpResponse<String> first = send(base, body("task:drafting", 500, false));
        assertThat(first.statusCode()).as(first.body()).isEqualTo(200);
        assertThat(first.headers().firstValue("x-tiergate-tier")).contains("frontier");
        assertThat(first.headers().firstValue("x-tiergate-cost-usd")).contains("0.030000000");
        assertThat(rig.fake.takeRequest(WAIT).model()).contains(OPUS);

        // over the soft limit: low priority goes to the small tier (a soft budget never denies) ...
        HttpResponse<String> demoted = send(base, body("task:drafting", 500, false));
        assertThat(demoted.statusCode()).as(demoted.body()).isEqualTo(200);
        assertThat(demoted.headers().firstValue("x-tiergate-task")).contains("drafting");
        assertThat(demoted.headers().firstValue("x-tiergate-tier")).contains("small");
        assertThat(demoted.headers().firstValue("x-tiergate-model")).contains(HAIKU);
        assertThat(rig.fake.takeRequest(WAIT).model()).contains(HAIKU);

        // ... while normal priority (the threshold itself is not below it) stays on its tier
        HttpResponse<String> kept = send(base, body("task:synthesis", 500, false));
        assertThat(kept.headers().firstValue("x-tiergate-tier")).contains("frontier");
        assertThat(rig.fake.takeRequest(WAIT).model()).contains(OPUS);
    }

    // --- 9. per-run budgets from the config ---

    @Test
    void aPerRunBudgetCapsEachRunSeparately() throws Exception {
        try (GatewayHarness h = new GatewayHarness(
                dir, "budgets:\n  - { name: runs, scope: run, per_run: true, window: total, limit_usd: 0.005 }\n")) {
            // Haiku 4.5: 1,000 x $1 + 300 x $5 per million = $0.0025 a call; each call's worst case is ~$0.0015
            h.fake.setDefault(FakeResponse.message("ok").withUsage(1000, 300));
            String extraction = body("task:extraction", 300, false);
            assertThat(send(h.baseUrl(), extraction, "x-tiergate-run", "run-a").statusCode())
                    .isEqualTo(200);
            assertThat(send(h.baseUrl(), extraction, "x-tiergate-run", "run-a").statusCode())
                    .isEqualTo(200);
            // run-a has spent $0.005 of $0.005: one more worst case would exceed it
            HttpResponse<String> denied = send(h.baseUrl(), extraction, "x-tiergate-run", "run-a");
            assertThat(denied.statusCode()).as(denied.body()).isEqualTo(429);
            JsonNode error = JSON.readTree(denied.body()).path("error");
            assertThat(error.path("type").asText()).isEqualTo("rate_limit_error");
            assertThat(error.path("message").asText()).contains("budget 'runs'");
            assertThat(h.fake.requestCount()).isEqualTo(2);
            // another run has its own cap
            assertThat(send(h.baseUrl(), extraction, "x-tiergate-run", "run-b").statusCode())
                    .isEqualTo(200);
            assertThat(h.fake.requestCount()).isEqualTo(3);
        }
    }

    // --- helpers ---

    private AnthropicClient sdk(GatewayHarness rig) {
        AnthropicClient client = rig.sdk();
        open.add(client::close);
        return client;
    }

    private static MessageCreateParams params(String model, long maxTokens) {
        return MessageCreateParams.builder()
                .model(model)
                .maxTokens(maxTokens)
                .addUserMessage("Reconcile these reports.")
                .build();
    }

    private HttpResponse<String> send(String baseUrl, String body, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(baseUrl + "/v1/messages"))
                .header("x-api-key", GatewayHarness.KEY)
                .header("anthropic-version", "2023-06-01")
                .POST(HttpRequest.BodyPublishers.ofString(body));
        for (int i = 0; i < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static String body(String model, long maxTokens, boolean stream) {
        return "{\"model\":\"" + model + "\",\"max_tokens\":" + maxTokens + ",\"stream\":" + stream
                + ",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}";
    }

    private GatewayHarness rig(String policy, Function<String, String> configForUpstreamUrl) {
        GatewayHarness rig = new GatewayHarness(dir, policy, configForUpstreamUrl);
        open.add(rig);
        return rig;
    }
}
