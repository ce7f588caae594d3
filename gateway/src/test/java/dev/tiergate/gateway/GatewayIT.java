package dev.tiergate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.anthropic.client.AnthropicClient;
import com.anthropic.core.JsonValue;
import com.anthropic.core.http.HttpResponseFor;
import com.anthropic.core.http.StreamResponse;
import com.anthropic.helpers.MessageAccumulator;
import com.anthropic.models.messages.Message;
import com.anthropic.models.messages.MessageCreateParams;
import com.anthropic.models.messages.RawMessageStreamEvent;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tiergate.budget.BudgetStatus;
import dev.tiergate.ledger.CallQuery;
import dev.tiergate.ledger.CallStatus;
import dev.tiergate.ledger.LedgerRow;
import dev.tiergate.messages.InputTokenEstimator;
import dev.tiergate.messages.SseEvent;
import dev.tiergate.messages.SseEventReader;
import dev.tiergate.messages.TokenizerFamily;
import dev.tiergate.pricing.CatalogLoader;
import dev.tiergate.pricing.Money;
import dev.tiergate.testing.FakeResponse;
import dev.tiergate.testing.RecordedRequest;
import java.io.BufferedReader;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The gateway end to end: the official Java SDK as the caller, a real fake upstream on a real port. */
class GatewayIT {
    private static final Duration WAIT = Duration.ofSeconds(5);
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    GatewayHarness h;
    AnthropicClient sdk;
    final HttpClient http = HttpClient.newHttpClient();

    @BeforeEach
    void start() {
        // a global budget, so that a call's reservation (its worst case) can be read while it is in flight
        h = new GatewayHarness(
                dir, "max_body_bytes: 20000\nbudgets:\n  - { name: day, scope: global, window: day, limit_usd: 100 }");
        sdk = h.sdk();
    }

    @AfterEach
    void stop() {
        sdk.close();
        h.close();
    }

    private static MessageCreateParams.Builder params(String model, long maxTokens) {
        return MessageCreateParams.builder().model(model).maxTokens(maxTokens).addUserMessage("Extract the names.");
    }

    @Test
    void plainMessageIsRoutedCappedForwardedUntouchedAndCostedExactly() {
        h.fake.enqueue(FakeResponse.message("Ada, Grace")
                .withUsage("{\"input_tokens\":1200,\"output_tokens\":300,"
                        + "\"cache_read_input_tokens\":800,\"cache_creation_input_tokens\":0}")
                .withStopReason("max_tokens"));
        Message message;
        Map<String, List<String>> headers = new java.util.HashMap<>();
        try (HttpResponseFor<Message> raw = sdk.messages()
                .withRawResponse()
                .create(params("task:extraction", 4000)
                        .putAdditionalBodyProperty("x_custom_field", JsonValue.from(Map.of("keep", List.of(1, 2.50))))
                        .build())) {
            message = raw.parse();
            for (String name : raw.headers().names()) {
                headers.put(
                        name.toLowerCase(java.util.Locale.ROOT), raw.headers().values(name));
            }
        }

        RecordedRequest upstream = h.fake.takeRequest(WAIT);
        assertThat(upstream.json().path("model").asText()).isEqualTo("claude-haiku-4-5-20251001");
        assertThat(upstream.json().path("max_tokens").asLong()).isEqualTo(300);
        assertThat(upstream.bodyUtf8()).contains("\"x_custom_field\":{\"keep\":[1,2.5");
        assertThat(upstream.json().path("messages").get(0).path("content").asText())
                .isEqualTo("Extract the names.");
        assertThat(upstream.header("x-api-key")).contains(GatewayHarness.UPSTREAM_SECRET);
        assertThat(upstream.header("authorization")).isEmpty();
        assertThat(upstream.header("anthropic-version")).isPresent();

        assertThat(message.content().get(0).text().orElseThrow().text()).isEqualTo("Ada, Grace");
        assertThat(headers.get("x-tiergate-task")).containsExactly("extraction");
        assertThat(headers.get("x-tiergate-tier")).containsExactly("small");
        assertThat(headers.get("x-tiergate-model")).containsExactly("claude-haiku-4-5-20251001");
        assertThat(headers.get("x-tiergate-max-tokens")).containsExactly("300");
        // Haiku 4.5: 1,200 x $1 + 800 x $0.10 + 300 x $5 = 0.0012 + 0.00008 + 0.0015
        assertThat(headers.get("x-tiergate-cost-usd")).containsExactly("0.002780000");

        CallRecord call = h.awaitCalls(1).get(0);
        assertThat(call.status()).isEqualTo("ok");
        assertThat(call.keyName()).isEqualTo("agents");
        assertThat(call.team()).isEqualTo("team-a");
        assertThat(call.requestedModel()).isEqualTo("task:extraction");
        assertThat(call.cost().nanos()).isEqualTo(2_780_000);
        assertThat(call.hitCap()).isTrue();
    }

    @Test
    void consecutiveCallsReuseOneUpstreamConnection() {
        for (int i = 0; i < 5; i++) {
            sdk.messages().create(params("task:extraction", 100).build());
        }
        h.awaitCalls(5);
        // a connection per call would cost a TCP (and on https a TLS) handshake each time
        assertThat(h.fake.connectionsAccepted()).isEqualTo(1);
    }

    @Test
    void usageIsReadFromAnywhereInTheResponseAndABrokenResponseIsPassedOnFlaggedAndChargedItsWorstCase()
            throws Exception {
        // usage before a long content, stop_reason after it: only those two are read, the rest is skipped.
        String answer = "{\"usage\":{\"input_tokens\":1000,\"output_tokens\":10},\"id\":\"msg_1\","
                + "\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\""
                + "x".repeat(50_000) + "\"}],\"model\":\"claude-haiku-4-5-20251001\",\"stop_reason\":\"max_tokens\"}";
        h.fake.enqueue(FakeResponse.json(200, answer));
        HttpResponse<String> ok = http.send(
                post("/v1/messages", GatewayHarness.KEY, body("task:extraction", 10)),
                HttpResponse.BodyHandlers.ofString());
        assertThat(ok.body()).isEqualTo(answer);
        CallRecord first = h.awaitCalls(1).get(0);
        assertThat(first.usage().inputTokens()).isEqualTo(1000);
        assertThat(first.usage().outputTokens()).isEqualTo(10);
        assertThat(first.stopReason()).isEqualTo("max_tokens");
        assertThat(first.errorType()).isEmpty();

        String truncated = answer.substring(0, answer.length() - 40);
        h.fake.enqueue(FakeResponse.json(200, truncated));
        HttpResponse<String> broken = http.send(
                post("/v1/messages", GatewayHarness.KEY, body("task:extraction", 10)),
                HttpResponse.BodyHandlers.ofString());
        assertThat(broken.body()).isEqualTo(truncated);
        CallRecord flagged = h.awaitCalls(2).get(1);
        assertThat(flagged.errorType()).isEqualTo("invalid_upstream_usage");
        // billed by the upstream for an amount the gateway cannot read: charged at its worst case, never at $0
        assertThat(flagged.cost().isGreaterThan(Money.ZERO)).isTrue();
        assertThat(broken.headers().firstValue("x-tiergate-cost-usd"))
                .contains(flagged.cost().toUsdString());
    }

    @Test
    void streamedMessagePassesEventsThroughAndCountsCumulativeUsage() throws Exception {
        h.fake.enqueue(FakeResponse.stream()
                .messageStart("{\"input_tokens\":2000,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,"
                        + "\"output_tokens\":1}")
                .ping()
                .text("Synthesised ", "answer")
                .event("future_event", "{\"type\":\"future_event\"}")
                .messageDelta("end_turn", "{\"input_tokens\":null,\"output_tokens\":40}")
                .messageDelta("end_turn", "{\"input_tokens\":null,\"output_tokens\":120}")
                .messageStop()
                .build());
        MessageAccumulator acc = MessageAccumulator.create();
        try (StreamResponse<RawMessageStreamEvent> s = sdk.messages()
                .createStreaming(MessageCreateParams.builder()
                        .model("anything")
                        .maxTokens(9000)
                        .addUserMessage("Reconcile these reports.")
                        .putAdditionalHeader("x-tiergate-task", "synthesis")
                        .putAdditionalHeader("x-tiergate-run", "run-42")
                        .build())) {
            s.stream().forEach(acc::accumulate);
        }
        assertThat(acc.message().content().get(0).text().orElseThrow().text()).isEqualTo("Synthesised answer");
        RecordedRequest upstream = h.fake.takeRequest(WAIT);
        assertThat(upstream.json().path("model").asText()).isEqualTo("claude-opus-4-6");
        assertThat(upstream.json().path("max_tokens").asLong()).isEqualTo(2000);
        assertThat(upstream.json().path("stream").asBoolean()).isTrue();

        CallRecord call = h.awaitCalls(1).get(0);
        // message_delta usage is cumulative: 120 output tokens, not 40 + 120; input kept through the null.
        assertThat(call.usage().outputTokens()).isEqualTo(120);
        assertThat(call.usage().inputTokens()).isEqualTo(2000);
        // Opus 4.6: 2,000 x $5 + 120 x $25 = 0.01 + 0.003
        assertThat(call.cost().toUsdString()).isEqualTo("0.013000000");
        assertThat(call.status()).isEqualTo("ok");
        assertThat(call.runId()).isEqualTo("run-42");
        assertThat(call.timeToFirstTokenMillis()).isGreaterThanOrEqualTo(0);
    }

    @Test
    void streamedBytesArriveExactlyAsTheUpstreamSentThem() throws Exception {
        String first = "event: message_start\r\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\","
                + "\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-haiku-4-5-20251001\",\"content\":[],"
                + "\"stop_reason\":null,\"usage\":{\"input_tokens\":10,\"output_tokens\":1}}}\r\n\r\n";
        // What a client must accept and a proxy must not touch: comments, id lines, pings, an event type the gateway
        // does not know, CRLF and LF line endings, a data field without its space, multi-byte UTF-8.
        String rest = ": keepalive\r\n\r\n"
                + "event: ping\r\ndata: {\"type\": \"ping\"}\r\n\r\n"
                + "id: 1\r\nevent: content_block_start\r\ndata: {\"type\":\"content_block_start\",\"index\":0,"
                + "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\r\n\r\n"
                + "event: content_block_delta\r\nid: 2\r\ndata:{\"type\":\"content_block_delta\",\"index\":0,"
                + "\"delta\":{\"type\":\"text_delta\",\"text\":\"naïve café 🚀\"}}\r\n\r\n"
                + "event: future_event\r\ndata: {\"type\":\"future_event\",\"detail\":[1,2.50]}\r\n\r\n"
                + ": still here\n\n"
                + "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
                + "event: message_delta\r\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},"
                + "\"usage\":{\"output_tokens\":5}}\r\n\r\n"
                + "event: message_stop\r\ndata: {\"type\":\"message_stop\"}\r\n\r\n";
        CountDownLatch gate = new CountDownLatch(1);
        FakeResponse.StreamBuilder stream = FakeResponse.stream().bytes(first).await(gate);
        // cut into chunks that do not follow event lines: mid-line, and between a CR and its LF
        int crlf = rest.indexOf("\r\n", 40) + 1;
        for (int[] part :
                new int[][] {{0, 7}, {7, crlf}, {crlf, rest.length() / 2}, {rest.length() / 2, rest.length()}}) {
            stream.bytes(rest.substring(part[0], part[1]));
        }
        h.fake.enqueue(stream.build());
        HttpResponse<InputStream> res = http.send(
                post("/v1/messages", GatewayHarness.KEY, streamBody("task:extraction", 50)),
                HttpResponse.BodyHandlers.ofInputStream());
        assertThat(res.statusCode()).isEqualTo(200);
        assertThat(res.headers().firstValue("content-type"))
                .hasValueSatisfying(v -> assertThat(v).startsWith("text/event-stream"));
        try (InputStream body = res.body()) {
            byte[] firstBytes = first.getBytes(StandardCharsets.UTF_8);
            // The first event arrives while the upstream still holds the rest back: flushed per event.
            assertThat(body.readNBytes(firstBytes.length)).isEqualTo(firstBytes);
            gate.countDown();
            assertThat(new String(body.readAllBytes(), StandardCharsets.UTF_8)).isEqualTo(rest);
        }
        CallRecord call = h.awaitCalls(1).get(0);
        assertThat(call.status()).isEqualTo("ok");
        assertThat(call.usage().outputTokens()).isEqualTo(5);
    }

    @Test
    void classifiedTaskTypeAndCallKeyGoUpstreamAndSimulatedLabelsComeBack() throws Exception {
        h.fake.enqueue(FakeResponse.stream()
                .header("x-tiergate-simulated", "true")
                .header("x-tiergate-simulated-latency-ms", "5120")
                .header("x-tiergate-other", "kept-upstream")
                .messageStart(FakeResponse.usage(10, 1))
                .text("done")
                .messageDelta("end_turn", "{\"output_tokens\":3}")
                .messageStop()
                .build());
        HttpRequest request = HttpRequest.newBuilder(URI.create(h.baseUrl() + "/v1/messages"))
                .header("x-api-key", GatewayHarness.KEY)
                .header("x-tiergate-call-key", "task-7")
                .POST(HttpRequest.BodyPublishers.ofString(streamBody("task:extraction", 50)))
                .build();
        HttpResponse<String> res = http.send(request, HttpResponse.BodyHandlers.ofString());

        assertThat(res.headers().firstValue("x-tiergate-simulated")).contains("true");
        assertThat(res.headers().firstValue("x-tiergate-simulated-latency-ms")).contains("5120");
        assertThat(res.headers().firstValue("x-tiergate-other")).isEmpty();
        RecordedRequest upstream = h.fake.takeRequest(WAIT);
        assertThat(upstream.header("x-tiergate-task")).contains("extraction");
        assertThat(upstream.header("x-tiergate-call-key")).contains("task-7");
    }

    @Test
    void midStreamErrorIsForwardedAndRecorded() throws Exception {
        h.fake.enqueue(FakeResponse.stream()
                .messageStart(FakeResponse.usage(100, 1))
                .text("partial")
                .messageDelta("end_turn", "{\"output_tokens\":7}")
                .error("overloaded_error", "Overloaded")
                .build());
        HttpResponse<String> res = http.send(
                post("/v1/messages", GatewayHarness.KEY, streamBody("task:extraction", 50)),
                HttpResponse.BodyHandlers.ofString());
        assertThat(res.body()).contains("event: error").contains("overloaded_error");
        CallRecord call = h.awaitCalls(1).get(0);
        assertThat(call.status()).isEqualTo("upstream_error");
        assertThat(call.errorType()).isEqualTo("overloaded_error");
        assertThat(call.usage().outputTokens()).isEqualTo(7);
        assertThat(call.cost().nanos()).isPositive();
    }

    @Test
    void aStreamCutOffAfterItsFirstBytesEndsInAnErrorEventIsNotRetriedAndIsChargedItsWorstCase() throws Exception {
        CountDownLatch gate = new CountDownLatch(1);
        h.fake.enqueue(FakeResponse.stream()
                .messageStart(FakeResponse.usage(100, 1))
                .event("content_block_start", BLOCK_START)
                .event("content_block_delta", delta("Half an"))
                .event("content_block_delta", delta(" answer"))
                .await(gate)
                .reset()
                .build());
        HttpResponse<InputStream> res = http.send(
                post("/v1/messages", GatewayHarness.KEY, streamBody("task:extraction", 300)),
                HttpResponse.BodyHandlers.ofInputStream());
        assertThat(res.statusCode()).isEqualTo(200);
        List<SseEvent> events = new ArrayList<>();
        Money reserved;
        try (InputStream body = res.body()) {
            SseEventReader reader = new SseEventReader(body);
            for (int i = 0; i < 4; i++) {
                events.add(reader.next().orElseThrow());
            }
            // the caller has bytes: from here on a failure cannot be retried, only reported
            reserved = day().reserved();
            gate.countDown();
            for (Optional<SseEvent> e = reader.next(); e.isPresent(); e = reader.next()) {
                events.add(e.get());
            }
        }
        assertThat(events)
                .extracting(SseEvent::name)
                .containsExactly(
                        "message_start", "content_block_start", "content_block_delta", "content_block_delta", "error");
        assertThat(events).allMatch(SseEvent::complete);
        JsonNode error = JSON.readTree(events.get(4).data());
        assertThat(error.path("type").asText()).isEqualTo("error");
        assertThat(error.path("error").path("type").asText()).isEqualTo("api_error");
        assertThat(error.path("error").path("message").asText()).contains("upstream connection lost mid-stream");

        CallRecord call = h.awaitCalls(1).get(0);
        assertThat(h.fake.requestCount()).isEqualTo(1);
        assertThat(call.attempts()).isEqualTo(1);
        assertThat(call.status()).isEqualTo("upstream_error");
        assertThat(call.errorType()).isEqualTo("api_error");
        // The usage seen is recorded, but it is not what the upstream may bill: message_start counts 1 output token,
        // the tokens streamed since were never counted. So the call is charged the worst case it reserved: Haiku 4.5
        // at the 300-token cap is $0.0015 for the output alone, where the usage seen would cost $0.000105.
        assertThat(call.usage().inputTokens()).isEqualTo(100);
        assertThat(call.usage().outputTokens()).isEqualTo(1);
        assertThat(reserved.isGreaterThan(Money.parseUsd("0.0015"))).isTrue();
        assertThat(call.cost()).isEqualTo(reserved);
        LedgerRow row = h.gateway.ledger().calls(CallQuery.latest(10)).rows().get(0);
        assertThat(row.outcome().status()).isEqualTo(CallStatus.UPSTREAM_ERROR);
        assertThat(row.outcome().cost()).isEqualTo(reserved);
        assertThat(day().reserved()).isEqualTo(Money.ZERO);
        assertThat(day().spent()).isEqualTo(reserved);
    }

    @Test
    void aStreamClosedWithoutItsLastChunkIsChargedNoLessThanTheUsageItShowed() throws Exception {
        // 5,000 input tokens for "hello": far over the gateway's input estimate, so over the worst case it reserved
        h.fake.enqueue(FakeResponse.stream()
                .messageStart(FakeResponse.usage(5000, 1))
                .event("content_block_start", BLOCK_START)
                .event("content_block_delta", delta("Half"))
                .disconnect()
                .build());
        HttpResponse<String> res = http.send(
                post("/v1/messages", GatewayHarness.KEY, streamBody("task:extraction", 50)),
                HttpResponse.BodyHandlers.ofString());
        assertThat(res.body()).contains("event: content_block_delta").contains("event: error");

        CallRecord call = h.awaitCalls(1).get(0);
        assertThat(h.fake.requestCount()).isEqualTo(1);
        assertThat(call.status()).isEqualTo("upstream_error");
        // Haiku 4.5: 5,000 x $1 + 1 x $5 per million, the most the gateway knows of
        assertThat(call.cost().toUsdString()).isEqualTo("0.005005000");
        assertThat(day().spent()).isEqualTo(call.cost());
    }

    private static final String BLOCK_START =
            "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}";

    private static String delta(String text) {
        return "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"" + text
                + "\"}}";
    }

    /** The global budget's current window. */
    private BudgetStatus day() {
        return h.gateway.ledger().budgetStatus(Instant.now()).stream()
                .filter(s -> s.budget().budget().equals("day"))
                .findFirst()
                .orElseThrow();
    }

    @Test
    void streamEndingWithoutMessageStopIsAFailureChargedAtItsWorstCaseUnlessItsFinalUsageCame() throws Exception {
        // ends after the message_delta that carries the stop reason and the final usage: that usage is the cost
        h.fake.enqueue(FakeResponse.stream()
                .messageStart(FakeResponse.usage(100, 1))
                .text("cut")
                .messageDelta("end_turn", "{\"output_tokens\":3}")
                .build());
        HttpResponse<String> res = http.send(
                post("/v1/messages", GatewayHarness.KEY, streamBody("task:extraction", 300)),
                HttpResponse.BodyHandlers.ofString());
        assertThat(res.body()).contains("event: error").contains("ended before message_stop");
        CallRecord late = h.awaitCalls(1).get(0);
        assertThat(late.status()).isEqualTo("upstream_error");
        // Haiku 4.5: 100 x $1 + 3 x $5 per million
        assertThat(late.cost().toUsdString()).isEqualTo("0.000115000");

        // ends before it: the tokens generated are unknown, so the worst case, above the 300-token cap's $0.0015
        h.fake.enqueue(FakeResponse.stream()
                .messageStart(FakeResponse.usage(100, 1))
                .text("cut")
                .build());
        res = http.send(
                post("/v1/messages", GatewayHarness.KEY, streamBody("task:extraction", 300)),
                HttpResponse.BodyHandlers.ofString());
        assertThat(res.body()).contains("event: error").contains("ended before message_stop");
        CallRecord early = h.awaitCalls(2).get(1);
        assertThat(early.status()).isEqualTo("upstream_error");
        assertThat(early.cost().isGreaterThan(Money.parseUsd("0.0015"))).isTrue();
    }

    @Test
    void callerDisconnectCancelsUpstreamAndUsageSoFarIsStillCosted() throws Exception {
        CountDownLatch never = new CountDownLatch(1);
        var stream = FakeResponse.stream()
                .messageStart(FakeResponse.usage(5000, 1))
                .text("some", " words")
                .messageDelta("end_turn", "{\"output_tokens\":30}")
                .await(never);
        // A slow tail: the gateway notices the caller is gone on a write, then closes the upstream connection,
        // which the fake sees on one of its next writes.
        for (int i = 0; i < 100; i++) {
            stream.pause(Duration.ofMillis(20)).ping();
        }
        CallRecord call = leaveAfter(stream.messageStop().build(), "message_delta", never);
        assertThat(call.status()).isEqualTo("client_cancelled");
        assertThat(call.usage().inputTokens()).isEqualTo(5000);
        assertThat(call.usage().outputTokens()).isEqualTo(30);
        // Haiku 4.5: 5,000 x $1 + 30 x $5
        assertThat(call.cost().toUsdString()).isEqualTo("0.005150000");
    }

    /**
     * Streams {@code stream} through the gateway, reads it up to the first line containing {@code lastLine}, then
     * leaves; lets the fake go on ({@code held}) and waits until the gateway has closed the upstream connection.
     * Returns the call as recorded.
     */
    private CallRecord leaveAfter(FakeResponse stream, String lastLine, CountDownLatch held) throws Exception {
        return leaveAfter(stream, lastLine, held, 50);
    }

    private CallRecord leaveAfter(FakeResponse stream, String lastLine, CountDownLatch held, long maxTokens)
            throws Exception {
        h.fake.enqueue(stream);
        HttpResponse<InputStream> res = http.send(
                post("/v1/messages", GatewayHarness.KEY, streamBody("task:extraction", maxTokens)),
                HttpResponse.BodyHandlers.ofInputStream());
        BufferedReader reader = new BufferedReader(new InputStreamReader(res.body(), StandardCharsets.UTF_8));
        while (true) {
            String line = reader.readLine();
            if (line == null || line.contains(lastLine)) {
                break;
            }
        }
        res.body().close();
        RecordedRequest upstream = h.fake.takeRequest(WAIT);
        held.countDown();
        assertThat(upstream.awaitClientDisconnect(WAIT)).isTrue();
        return h.awaitCalls(1).get(0);
    }

    @Test
    void aCallerThatLeavesBeforeTheFinalUsageIsChargedForTheOutputStreamedToIt() throws Exception {
        CountDownLatch never = new CountDownLatch(1);
        String[] pieces = {"The quick brown fox ", "jumps over the lazy dog; ", "then, getUserName() returns ", "42."};
        var stream = FakeResponse.stream()
                .messageStart(FakeResponse.usage(5000, 1))
                .text(pieces)
                .await(never);
        for (int i = 0; i < 100; i++) {
            stream.pause(Duration.ofMillis(20)).ping();
        }
        CallRecord call = leaveAfter(
                stream.messageDelta("end_turn", "{\"output_tokens\":999}")
                        .messageStop()
                        .build(),
                "content_block_stop",
                never);

        assertThat(call.status()).isEqualTo("client_cancelled");
        assertThat(call.usage().inputTokens()).isEqualTo(5000);
        // not message_start's 1 output token: the text the caller was sent, estimated as the budget estimates text
        long streamed = InputTokenEstimator.of(
                        TokenizerFamily.forModel(CatalogLoader.bundled().require("claude-haiku-4-5-20251001")))
                .estimateText(String.join("", pieces));
        assertThat(streamed).isGreaterThan(10);
        assertThat(call.usage().outputTokens()).isEqualTo(streamed);
        // Haiku 4.5: 5,000 x $1 + the streamed output x $5 (per million)
        assertThat(call.cost()).isEqualTo(Money.ofNanos(5000 * 1_000 + streamed * 5_000));
    }

    @Test
    void theOutputCountedForACallerThatLeftIsNeverMoreThanTheCapTheUpstreamWasGiven() throws Exception {
        CountDownLatch never = new CountDownLatch(1);
        var stream = FakeResponse.stream()
                .messageStart(FakeResponse.usage(5000, 1))
                .text("The quick brown fox jumps over the lazy dog, ", "and then getUserName() returns 42.")
                .await(never);
        for (int i = 0; i < 100; i++) {
            stream.pause(Duration.ofMillis(20)).ping();
        }

        CallRecord call = leaveAfter(stream.messageStop().build(), "content_block_stop", never, 5);

        assertThat(call.status()).isEqualTo("client_cancelled");
        assertThat(call.maxTokens()).isEqualTo(5);
        assertThat(call.usage().outputTokens()).isEqualTo(5);
    }

    @Test
    void retriesHonourRetryAfterThenFallBackBeforeTheFirstByte() {
        h.fake.enqueue(FakeResponse.error(429, "rate_limit_error", "slow down").withHeader("retry-after-ms", "20"));
        h.fake.enqueue(FakeResponse.error(529, "overloaded_error", "Overloaded"));
        h.fake.enqueue(FakeResponse.error(529, "overloaded_error", "Overloaded"));
        h.fake.enqueue(FakeResponse.message("from the fallback").withUsage(10, 10));
        try (HttpResponseFor<Message> raw = sdk.messages()
                .withRawResponse()
                .create(params("task:synthesis", 100).build())) {
            assertThat(raw.parse().content().get(0).text().orElseThrow().text()).isEqualTo("from the fallback");
            assertThat(raw.headers().values("x-tiergate-model")).containsExactly("claude-opus-4-5-20251101");
        }
        assertThat(h.fake.takeRequest(WAIT).json().path("model").asText()).isEqualTo("claude-opus-4-6");
        assertThat(h.fake.takeRequest(WAIT).json().path("model").asText()).isEqualTo("claude-opus-4-6");
        assertThat(h.fake.takeRequest(WAIT).json().path("model").asText()).isEqualTo("claude-opus-4-6");
        assertThat(h.fake.takeRequest(WAIT).json().path("model").asText()).isEqualTo("claude-opus-4-5-20251101");
        CallRecord call = h.awaitCalls(1).get(0);
        assertThat(call.attempts()).isEqualTo(4);
        assertThat(call.servedModel()).isEqualTo("claude-opus-4-5-20251101");
    }

    @Test
    void connectionResetIsRetried() {
        h.fake.enqueue(FakeResponse.reset());
        h.fake.enqueue(FakeResponse.message("ok").withUsage(1, 1));
        Message m = sdk.messages().create(params("task:classification", 5).build());
        assertThat(m.content().get(0).text().orElseThrow().text()).isEqualTo("ok");
        CallRecord call = h.awaitCalls(1).get(0);
        assertThat(call.attempts()).isEqualTo(2);
        // the reset came after the fake read the request: charged at its worst case (GatewayBudgetIT has the sums)
        assertThat(call.unansweredAttempts()).isEqualTo(1);
        assertThat(call.cost().nanos()).isGreaterThan(Money.parseUsd("0.000006").nanos());
    }

    @Test
    void exhaustedRetriesGiveTheUpstreamErrorInAnthropicsShape() throws Exception {
        for (int i = 0; i < 3; i++) {
            h.fake.enqueue(FakeResponse.error(529, "overloaded_error", "Overloaded"));
        }
        HttpResponse<String> res = http.send(
                post("/v1/messages", GatewayHarness.KEY, body("task:extraction", 10)),
                HttpResponse.BodyHandlers.ofString());
        assertThat(res.statusCode()).isEqualTo(529);
        assertThat(error(res)).isEqualTo("overloaded_error");
        assertThat(h.awaitCalls(1).get(0).status()).isEqualTo("upstream_error");
    }

    @Test
    void badInputNeverReachesTheUpstream() throws Exception {
        assertBad(
                post("/v1/messages", GatewayHarness.KEY, "{\"model\":\"x\", \"max_tokens\": 5,"),
                400,
                "invalid_request_error",
                "not valid JSON");
        assertBad(
                post("/v1/messages", GatewayHarness.KEY, "{\"model\":\"x\",\"max_tokens\":5}"),
                400,
                "invalid_request_error",
                "messages");
        assertBad(
                post("/v1/messages", GatewayHarness.KEY, "{\"max_tokens\":\"5\",\"messages\":[]}"),
                400,
                "invalid_request_error",
                "max_tokens");
        assertBad(
                post("/v1/messages", GatewayHarness.KEY, "{\"stream\":\"yes\",\"messages\":[]}"),
                400,
                "invalid_request_error",
                "stream");
        assertBad(
                post("/v1/messages", GatewayHarness.KEY, "{\"messages\":{}}"),
                400,
                "invalid_request_error",
                "messages");
        assertBad(
                post("/v1/messages", "wrong-key", body("task:extraction", 5)),
                401,
                "authentication_error",
                "x-api-key");
        assertBad(
                HttpRequest.newBuilder(URI.create(h.baseUrl() + "/v1/messages"))
                        .POST(HttpRequest.BodyPublishers.ofString(body("task:extraction", 5)))
                        .build(),
                401,
                "authentication_error",
                "key");
        String huge = "{\"messages\":[{\"role\":\"user\",\"content\":\"" + "x".repeat(30_000) + "\"}]}";
        assertBad(post("/v1/messages", GatewayHarness.KEY, huge), 413, "request_too_large", "20000");
        assertBad(
                post("/v1/messages", GatewayHarness.KEY, body("tier:medium", 5)),
                400,
                "invalid_request_error",
                "unknown tier 'medium'");
        assertBad(
                post("/v1/messages", GatewayHarness.PASSTHROUGH_KEY, body("gpt-17", 5)),
                400,
                "invalid_request_error",
                "gpt-17");
        assertThat(h.fake.requestCount()).isZero();
        // Policy refusals of a known key are in the record, at zero cost.
        assertThat(h.calls).allSatisfy(c -> assertThat(c.cost().nanos()).isZero());
    }

    @Test
    void aCallerWithoutAValidKeyIsRefusedFromItsHeadersBeforeItsBodyIsRead() throws Exception {
        // over max_body_bytes (20000): only a known key finds out that its body is too large
        String huge = "{\"messages\":[{\"role\":\"user\",\"content\":\"" + "x".repeat(30_000) + "\"}]}";
        assertBad(post("/v1/messages", "wrong-key", huge), 401, "authentication_error", "x-api-key");
        assertBad(
                HttpRequest.newBuilder(URI.create(h.baseUrl() + "/v1/messages"))
                        .POST(HttpRequest.BodyPublishers.ofString(huge))
                        .build(),
                401,
                "authentication_error",
                "x-api-key");
        assertBad(post("/v1/messages", GatewayHarness.KEY, huge), 413, "request_too_large", "20000");

        // The body is announced but held back: the answer can only come from the headers. Then the body follows,
        // and the same connection serves the next request, so the unread body did not leave it out of step.
        String body = body("task:extraction", 5);
        try (Socket socket = new Socket("127.0.0.1", h.gateway.port())) {
            socket.setSoTimeout((int) WAIT.toMillis());
            OutputStream out = socket.getOutputStream();
            out.write(("POST /v1/messages HTTP/1.1\r\nhost: 127.0.0.1\r\nx-api-key: wrong-key\r\n"
                            + "content-type: application/json\r\ncontent-length: " + body.length() + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = socket.getInputStream();
            RawResponse refused = RawResponse.read(in);
            assertThat(refused.status()).isEqualTo(401);
            assertThat(JSON.readTree(refused.body()).path("error").path("type").asText())
                    .isEqualTo("authentication_error");
            out.write(body.getBytes(StandardCharsets.US_ASCII));
            out.write("GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            RawResponse health = RawResponse.read(in);
            assertThat(health.status()).isEqualTo(200);
            assertThat(health.body()).isEqualTo("{\"status\":\"ok\"}");
        }
        assertThat(h.fake.requestCount()).isZero();
    }

    /** One HTTP/1.1 response with a content-length, read off a raw connection. */
    private record RawResponse(int status, String body) {
        static RawResponse read(InputStream in) throws IOException {
            int status = -1;
            int length = 0;
            for (String line = readLine(in); !line.isEmpty(); line = readLine(in)) {
                if (status < 0) {
                    status = Integer.parseInt(line.split(" ")[1]);
                } else if (line.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
                    length = Integer.parseInt(
                            line.substring("content-length:".length()).trim());
                }
            }
            return new RawResponse(status, new String(in.readNBytes(length), StandardCharsets.UTF_8));
        }

        private static String readLine(InputStream in) throws IOException {
            StringBuilder line = new StringBuilder();
            for (int c = in.read(); c != '\n'; c = in.read()) {
                if (c < 0) {
                    throw new EOFException("connection closed mid-response after: " + line);
                }
                if (c != '\r') {
                    line.append((char) c);
                }
            }
            return line.toString();
        }
    }

    @Test
    void concreteModelIsHonouredOnlyForKeysThatAllowIt() throws Exception {
        h.fake.setDefault(FakeResponse.message("hi").withUsage(1, 1));
        http.send(
                post("/v1/messages", GatewayHarness.KEY, body("claude-opus-4-6", 50)),
                HttpResponse.BodyHandlers.ofString());
        assertThat(h.fake.takeRequest(WAIT).json().path("model").asText())
                .as("routed by task type (unclassified -> small), the concrete model ignored")
                .isEqualTo("claude-haiku-4-5-20251001");
        http.send(
                post("/v1/messages", GatewayHarness.PASSTHROUGH_KEY, body("claude-opus-4-6", 50)),
                HttpResponse.BodyHandlers.ofString());
        RecordedRequest passed = h.fake.takeRequest(WAIT);
        assertThat(passed.json().path("model").asText()).isEqualTo("claude-opus-4-6");
        assertThat(passed.json().path("max_tokens").asLong()).isEqualTo(50);
    }

    @Test
    void upstreamAuthFailureIsTheGatewaysProblemAndLeaksNothing() throws Exception {
        h.fake.enqueue(
                FakeResponse.error(401, "authentication_error", "invalid x-api-key " + GatewayHarness.UPSTREAM_SECRET));
        HttpResponse<String> res = http.send(
                post("/v1/messages", GatewayHarness.KEY, body("task:extraction", 10)),
                HttpResponse.BodyHandlers.ofString());
        assertThat(res.statusCode()).isEqualTo(502);
        assertThat(error(res)).isEqualTo("api_error");
        assertThat(res.body()).doesNotContain(GatewayHarness.UPSTREAM_SECRET);
    }

    @Test
    void secretsNeverAppearInResponsesOrRecords() throws Exception {
        h.fake.setDefault(FakeResponse.message("fine").withUsage(3, 3));
        HttpResponse<String> res = http.send(
                post("/v1/messages", GatewayHarness.KEY, body("task:extraction", 10)),
                HttpResponse.BodyHandlers.ofString());
        assertThat(res.body()).doesNotContain(GatewayHarness.UPSTREAM_SECRET).doesNotContain(GatewayHarness.KEY);
        assertThat(res.headers().map().toString())
                .doesNotContain(GatewayHarness.UPSTREAM_SECRET)
                .doesNotContain(GatewayHarness.KEY);
        String logged = CallRecorder.toJson(h.awaitCalls(1).get(0));
        assertThat(logged).doesNotContain(GatewayHarness.UPSTREAM_SECRET).doesNotContain(GatewayHarness.KEY);
        assertThat(logged).contains("\"key\":\"agents\"");
    }

    @Test
    void countTokensIsForwardedWithTheRoutedModel() throws Exception {
        h.fake.enqueueCountTokens(FakeResponse.tokenCount(2095));
        HttpResponse<String> res = http.send(
                post(
                        "/v1/messages/count_tokens",
                        GatewayHarness.KEY,
                        "{\"model\":\"task:synthesis\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}"),
                HttpResponse.BodyHandlers.ofString());
        assertThat(res.statusCode()).isEqualTo(200);
        assertThat(JSON.readTree(res.body()).path("input_tokens").asLong()).isEqualTo(2095);
        RecordedRequest upstream = h.fake.takeRequest(WAIT);
        assertThat(upstream.path()).isEqualTo("/v1/messages/count_tokens");
        assertThat(upstream.json().path("model").asText()).isEqualTo("claude-opus-4-6");
        assertThat(upstream.json().has("max_tokens")).isFalse();
    }

    @Test
    void healthAndPrometheusMetrics() throws Exception {
        h.fake.setDefault(FakeResponse.message("m").withUsage(10, 10));
        http.send(
                post("/v1/messages", GatewayHarness.KEY, body("task:extraction", 10)),
                HttpResponse.BodyHandlers.ofString());
        HttpResponse<String> health = http.send(
                HttpRequest.newBuilder(URI.create(h.baseUrl() + "/healthz")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(health.statusCode()).isEqualTo(200);
        String metrics = awaitMetrics("tiergate_requests_total{");
        assertThat(metrics)
                .contains("task_type=\"extraction\"")
                .contains("gen_ai_client_token_usage_count{")
                .contains("gen_ai_client_operation_duration_seconds_count{")
                .contains("tiergate_tokens_total{")
                .contains("tiergate_cost_usd_total{");
        // every call above was reserved and settled in the ledger: transactions and writes were counted
        assertThat(counter(metrics, "tiergate_ledger_transactions_total")).isPositive();
        assertThat(counter(metrics, "tiergate_ledger_writes_total{ran_on=\"writer\"}")
                        + counter(metrics, "tiergate_ledger_writes_total{ran_on=\"caller\"}"))
                .isGreaterThanOrEqualTo(counter(metrics, "tiergate_ledger_transactions_total"));
        // a handful of calls never fill the WAL far enough for a restart, so nothing held the writes back yet
        assertThat(counter(metrics, "tiergate_ledger_write_holds_total")).isZero();
        assertThat(counter(metrics, "tiergate_ledger_write_held_seconds_total")).isZero();
    }

    @Test
    void streamedCallShowsItsTimeToFirstTokenAndTokenUsageInMetrics() throws Exception {
        h.fake.enqueue(FakeResponse.stream()
                .messageStart("{\"input_tokens\":2000,\"cache_creation_input_tokens\":0,"
                        + "\"cache_read_input_tokens\":500,\"output_tokens\":1}")
                .ping()
                .text("Synthesised ", "answer")
                .messageDelta("end_turn", "{\"output_tokens\":120}")
                .messageStop()
                .build());
        try (StreamResponse<RawMessageStreamEvent> s =
                sdk.messages().createStreaming(params("task:synthesis", 2000).build())) {
            s.stream().forEach(e -> {});
        }
        CallRecord call = h.awaitCalls(1).get(0);
        // the call's row is written just before its metrics: wait for the series rather than race them
        String genAi = "gen_ai_operation_name=\"chat\",gen_ai_provider_name=\"anthropic\","
                + "gen_ai_request_model=\"claude-opus-4-6\",gen_ai_response_model=\"claude-opus-4-6\"";
        String ttft = "gen_ai_server_time_to_first_token_seconds";
        String metrics = awaitMetrics(ttft + "_count{" + genAi + ",task_type=\"synthesis\"}");

        assertThat(counter(metrics, ttft + "_count{" + genAi + ",task_type=\"synthesis\"}"))
                .isEqualTo(1);
        double ttftSeconds = counter(metrics, ttft + "_sum{" + genAi + ",task_type=\"synthesis\"}");
        // the ledger's ttft_ms, in seconds, and within the call's duration
        assertThat(ttftSeconds).isEqualTo(call.timeToFirstTokenMillis() / 1000.0);
        assertThat(ttftSeconds)
                .isLessThanOrEqualTo(counter(
                        metrics,
                        "gen_ai_client_operation_duration_seconds_sum{" + genAi + ",task_type=\"synthesis\"}"));
        assertThat(counter(metrics, ttft + "_bucket{" + genAi + ",task_type=\"synthesis\",le=\"+Inf\"}"))
                .isEqualTo(1);
        // input is every input token, cached or not: 2,000 uncached + 500 read from the cache
        String usage = "gen_ai_client_token_usage";
        assertThat(counter(
                        metrics, usage + "_count{" + genAi + ",gen_ai_token_type=\"input\",task_type=\"synthesis\"}"))
                .isEqualTo(1);
        assertThat(counter(metrics, usage + "_sum{" + genAi + ",gen_ai_token_type=\"input\",task_type=\"synthesis\"}"))
                .isEqualTo(2500);
        assertThat(counter(metrics, usage + "_sum{" + genAi + ",gen_ai_token_type=\"output\",task_type=\"synthesis\"}"))
                .isEqualTo(120);
        String classes = "tiergate_tokens_total{model=\"claude-opus-4-6\",task_type=\"synthesis\",tier=\"frontier\","
                + "token_class=";
        assertThat(counter(metrics, classes + "\"input\"}")).isEqualTo(2000);
        assertThat(counter(metrics, classes + "\"cache_read\"}")).isEqualTo(500);
        assertThat(counter(metrics, classes + "\"output\"}")).isEqualTo(120);
    }

    /** A scrape of /metrics once it holds {@code series}, polled until {@link #WAIT} has passed. */
    private String awaitMetrics(String series) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (true) {
            String scrape = http.send(
                            HttpRequest.newBuilder(URI.create(h.baseUrl() + "/metrics"))
                                    .build(),
                            HttpResponse.BodyHandlers.ofString())
                    .body();
            if (scrape.contains(series)) {
                return scrape;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no " + series + " within " + WAIT + " in:\n" + scrape);
            }
            java.util.concurrent.locks.LockSupport.parkNanos(
                    Duration.ofMillis(5).toNanos());
        }
    }

    /** The value of the sample named exactly {@code series} (name and labels) in a Prometheus scrape. */
    private static double counter(String scrape, String series) {
        return scrape.lines()
                .filter(l -> l.startsWith(series + " "))
                .mapToDouble(l -> Double.parseDouble(l.substring(series.length() + 1)))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no " + series + " in:\n" + scrape));
    }

    @Test
    void unknownRoutesAnswerInAnthropicsShape() throws Exception {
        HttpResponse<String> res = http.send(
                HttpRequest.newBuilder(URI.create(h.baseUrl() + "/v1/complete"))
                        .POST(HttpRequest.BodyPublishers.ofString("{}"))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(res.statusCode()).isEqualTo(404);
        assertThat(error(res)).isEqualTo("not_found_error");
    }

    private void assertBad(HttpRequest request, int status, String type, String messagePart) throws Exception {
        HttpResponse<String> res = http.send(request, HttpResponse.BodyHandlers.ofString());
        assertThat(res.statusCode()).as(res.body()).isEqualTo(status);
        JsonNode err = JSON.readTree(res.body());
        assertThat(err.path("type").asText()).isEqualTo("error");
        assertThat(err.path("error").path("type").asText()).isEqualTo(type);
        assertThat(err.path("error").path("message").asText()).contains(messagePart);
    }

    private static String error(HttpResponse<String> res) throws Exception {
        return JSON.readTree(res.body()).path("error").path("type").asText();
    }

    private HttpRequest post(String path, String key, String body) {
        return HttpRequest.newBuilder(URI.create(h.baseUrl() + path))
                .header("authorization", "Bearer " + key)
                .header("anthropic-version", "2023-06-01")
                .header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body))
                .build();
    }

    private static String body(String model, long maxTokens) {
        return "{\"model\":\"" + model + "\",\"max_tokens\":" + maxTokens
                + ",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}";
    }

    private static String streamBody(String model, long maxTokens) {
        return "{\"model\":\"" + model + "\",\"max_tokens\":" + maxTokens
                + ",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}";
    }
}
