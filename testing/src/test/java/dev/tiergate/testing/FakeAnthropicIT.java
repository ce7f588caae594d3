package dev.tiergate.testing;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tiergate.messages.SseEvent;
import dev.tiergate.messages.SseEventReader;
import dev.tiergate.messages.StreamOutcome;
import dev.tiergate.messages.StreamUsageTracker;
import dev.tiergate.pricing.Usage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class FakeAnthropicIT {

    private static final Duration TIMEOUT = Duration.ofSeconds(10);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String REQUEST = """
            {"model":"claude-haiku-4-5-20251001","max_tokens":64,
             "messages":[{"role":"user","content":"Hello there"}]}""";
    private static final String STREAM_REQUEST = REQUEST.replace("\"max_tokens\"", "\"stream\":true,\"max_tokens\"");

    private final FakeAnthropic fake = FakeAnthropic.start();
    private final HttpClient client = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(TIMEOUT)
            .build();

    @AfterEach
    void stop() {
        client.close();
        fake.close();
    }

    @Test
    void jsonMessageRoundTripEchoesTheRequestModel() throws Exception {
        fake.enqueue(FakeResponse.message("Hi there").withUsage(12, 3));

        HttpResponse<String> response = post("/v1/messages", REQUEST);

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("request-id")).hasValue("req_fake_0");
        assertThat(response.headers().firstValue("content-type")).hasValue("application/json");
        JsonNode body = JSON.readTree(response.body());
        assertThat(body.path("type").asText()).isEqualTo("message");
        assertThat(body.path("model").asText()).isEqualTo("claude-haiku-4-5-20251001");
        assertThat(body.path("content").get(0).path("text").asText()).isEqualTo("Hi there");
        assertThat(body.path("stop_reason").asText()).isEqualTo("end_turn");
        assertThat(Usage.fromJson(body.path("usage"))).isEqualTo(Usage.of(12, 3));
    }

    @Test
    void queueIsFifoThenTheDefaultAnswers() throws Exception {
        fake.enqueue(FakeResponse.message("first").withModel("claude-opus-4-6"));
        fake.enqueue(FakeResponse.message("second").withStopReason("max_tokens"));
        fake.setDefault(FakeResponse.message("default"));

        List<JsonNode> bodies = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            bodies.add(JSON.readTree(post("/v1/messages", REQUEST).body()));
        }

        assertThat(bodies)
                .extracting(b -> b.path("content").get(0).path("text").asText())
                .containsExactly("first", "second", "default");
        assertThat(bodies.get(0).path("model").asText()).isEqualTo("claude-opus-4-6");
        assertThat(bodies.get(1).path("stop_reason").asText()).isEqualTo("max_tokens");
    }

    @Test
    void streamArrivesEventByEventWhileGated() throws Exception {
        CountDownLatch gate = new CountDownLatch(1);
        fake.enqueue(FakeResponse.stream()
                .messageStart(FakeResponse.usage(25, 1))
                .text("Hel", "lo")
                .await(gate)
                .ping()
                .messageDelta(
                        "end_turn", "{\"input_tokens\":null,\"cache_read_input_tokens\":null,\"output_tokens\":15}")
                .messageStop()
                .build());

        HttpResponse<InputStream> response =
                client.send(request("/v1/messages", STREAM_REQUEST).build(), HttpResponse.BodyHandlers.ofInputStream());
        assertThat(response.headers().firstValue("content-type"))
                .hasValueSatisfying(v -> assertThat(v).startsWith("text/event-stream"));
        StreamUsageTracker tracker = new StreamUsageTracker();
        try (InputStream body = response.body()) {
            SseEventReader reader = new SseEventReader(body);
            List<String> beforeGate = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                SseEvent event = reader.next().orElseThrow();
                tracker.accept(event);
                beforeGate.add(event.name());
            }
            // The gate is still closed, so these five events reached us before the stream could end.
            assertThat(beforeGate)
                    .containsExactly(
                            "message_start",
                            "content_block_start",
                            "content_block_delta",
                            "content_block_delta",
                            "content_block_stop");
            assertThat(tracker.outcome()).isEqualTo(new StreamOutcome.Truncated());
            assertThat(tracker.model()).hasValue("claude-haiku-4-5-20251001");

            gate.countDown();
            for (Optional<SseEvent> event = reader.next(); event.isPresent(); event = reader.next()) {
                assertThat(event.get().complete()).isTrue();
                tracker.accept(event.get());
            }
        }
        assertThat(tracker.outcome()).isEqualTo(new StreamOutcome.Completed());
        assertThat(tracker.usage()).isEqualTo(Usage.of(25, 15));
        assertThat(tracker.stopReason()).hasValue("end_turn");
    }

    @Test
    void scriptedMessageAnswersAStreamingRequestWithTheStandardFlow() throws Exception {
        fake.enqueue(FakeResponse.message("Hi there friend").withUsage(7, 4));

        List<SseEvent> events = readEvents(post("/v1/messages", STREAM_REQUEST).body());

        assertThat(events)
                .extracting(SseEvent::name)
                .containsExactly(
                        "message_start",
                        "ping",
                        "content_block_start",
                        "content_block_delta",
                        "content_block_delta",
                        "content_block_delta",
                        "content_block_stop",
                        "message_delta",
                        "message_stop");
        StringBuilder text = new StringBuilder();
        StreamUsageTracker tracker = new StreamUsageTracker();
        for (SseEvent event : events) {
            tracker.accept(event);
            text.append(JSON.readTree(event.data()).path("delta").path("text").asText(""));
        }
        assertThat(text.toString()).isEqualTo("Hi there friend");
        assertThat(tracker.usage()).isEqualTo(Usage.of(7, 4));
        assertThat(tracker.outcome()).isEqualTo(new StreamOutcome.Completed());
    }

    @Test
    void midStreamErrorUnknownEventsAndSlowEventsAreScriptable() throws Exception {
        fake.enqueue(FakeResponse.stream()
                .eventDelay(Duration.ofMillis(5))
                .messageStart(FakeResponse.usage(9, 1))
                .event("future_event", "{\"type\":\"future_event\"}")
                .text("partial")
                .error("overloaded_error", "Overloaded")
                .build());

        StreamUsageTracker tracker = new StreamUsageTracker();
        readEvents(post("/v1/messages", STREAM_REQUEST).body()).forEach(tracker::accept);

        assertThat(tracker.outcome()).isEqualTo(new StreamOutcome.UpstreamError("overloaded_error", "Overloaded"));
        assertThat(tracker.usage()).isEqualTo(Usage.of(9, 1));
    }

    @Test
    void streamCutBeforeMessageStopEndsCleanlyButTruncated() throws Exception {
        fake.enqueue(FakeResponse.stream()
                .messageStart(FakeResponse.usage(9, 1))
                .text("cut")
                .messageDelta("end_turn", "{\"output_tokens\":2}")
                .bytes("event: message_stop\n")
                .build());

        List<SseEvent> events = readEvents(post("/v1/messages", STREAM_REQUEST).body());
        StreamUsageTracker tracker = new StreamUsageTracker();
        events.forEach(tracker::accept);

        assertThat(events.get(events.size() - 1).complete()).isFalse();
        assertThat(tracker.outcome()).isEqualTo(new StreamOutcome.Truncated());
        assertThat(tracker.usage()).isEqualTo(Usage.of(9, 2));
    }

    @Test
    void rateLimitCarriesRetryHeaders() throws Exception {
        fake.enqueue(FakeResponse.error(429, "rate_limit_error", "Number of requests has exceeded your rate limit")
                .withHeader("Retry-After", "1")
                .withHeader("anthropic-ratelimit-requests-remaining", "0"));
        fake.enqueue(FakeResponse.error(529, "overloaded_error", "Overloaded").withHeader("x-should-retry", "true"));
        fake.enqueue(FakeResponse.error(500, "api_error", "Internal server error"));

        HttpResponse<String> limited = post("/v1/messages", REQUEST);
        HttpResponse<String> overloaded = post("/v1/messages", REQUEST);
        HttpResponse<String> failed = post("/v1/messages", REQUEST);

        assertThat(limited.statusCode()).isEqualTo(429);
        assertThat(limited.headers().firstValue("retry-after")).hasValue("1");
        assertThat(limited.headers().firstValue("anthropic-ratelimit-requests-remaining"))
                .hasValue("0");
        assertThat(JSON.readTree(limited.body()).path("error").path("type").asText())
                .isEqualTo("rate_limit_error");
        assertThat(overloaded.statusCode()).isEqualTo(529);
        assertThat(overloaded.headers().firstValue("x-should-retry")).hasValue("true");
        assertThat(JSON.readTree(overloaded.body()).path("error").path("type").asText())
                .isEqualTo("overloaded_error");
        assertThat(failed.statusCode()).isEqualTo(500);
    }

    @Test
    void resetBeforeAnyByteSurfacesAsIOException() {
        fake.enqueue(FakeResponse.reset());

        assertThatThrownBy(() -> post("/v1/messages", REQUEST)).isInstanceOf(IOException.class);
        assertThat(fake.takeRequest(TIMEOUT).path()).isEqualTo("/v1/messages");
    }

    @Test
    void resetAfterPartialHeadersSurfacesAsIOException() {
        fake.enqueue(FakeResponse.resetAfter("HTTP/1.1 200 OK\r\ncontent-type: appl"));

        assertThatThrownBy(() -> post("/v1/messages", REQUEST)).isInstanceOf(IOException.class);
    }

    @Test
    void resetMidStreamSurfacesAsIOException() throws Exception {
        fake.enqueue(FakeResponse.stream()
                .messageStart(FakeResponse.usage(3, 1))
                .text("so far")
                .reset()
                .build());

        // A reset is a TCP RST right after the first events: the JDK client may see it while still in send() (it
        // has started reading the body) or only once the body is read. Either way the caller gets an IOException,
        // never a body that looks complete.
        assertThatThrownBy(() -> {
                    HttpResponse<InputStream> response = client.send(
                            request("/v1/messages", STREAM_REQUEST).build(), HttpResponse.BodyHandlers.ofInputStream());
                    assertThat(response.statusCode()).isEqualTo(200);
                    try (InputStream body = response.body()) {
                        body.readAllBytes();
                    }
                })
                .isInstanceOf(IOException.class);
        assertThat(fake.takeRequest(TIMEOUT).path()).isEqualTo("/v1/messages");
    }

    @Test
    void disconnectMidBodySurfacesAsIOExceptionWhileReading() throws Exception {
        fake.enqueue(FakeResponse.stream()
                .messageStart(FakeResponse.usage(3, 1))
                .disconnect()
                .build());

        HttpResponse<InputStream> response =
                client.send(request("/v1/messages", STREAM_REQUEST).build(), HttpResponse.BodyHandlers.ofInputStream());

        try (InputStream body = response.body()) {
            assertThatThrownBy(body::readAllBytes).isInstanceOf(IOException.class);
        }
    }

    @Test
    void clientDisconnectMidStreamIsDetected() throws Exception {
        CountDownLatch neverOpened = new CountDownLatch(1);
        fake.enqueue(FakeResponse.stream()
                .messageStart(FakeResponse.usage(3, 1))
                .await(neverOpened)
                .messageStop()
                .build());

        try (Socket socket = connect()) {
            socket.getOutputStream().write(rawPost("/v1/messages", STREAM_REQUEST, false));
            readUntil(socket.getInputStream(), "\"type\":\"message_start\"");
        }

        RecordedRequest request = fake.takeRequest(TIMEOUT);
        assertThat(request.awaitClientDisconnect(TIMEOUT)).isTrue();
        assertThat(request.clientDisconnected()).isCompleted();
    }

    @Test
    void closingTheJdkClientsBodyStreamIsDetectedAsADisconnect() throws Exception {
        CountDownLatch neverOpened = new CountDownLatch(1);
        fake.enqueue(FakeResponse.stream()
                .messageStart(FakeResponse.usage(3, 1))
                .await(neverOpened)
                .build());
        HttpResponse<InputStream> response =
                client.send(request("/v1/messages", STREAM_REQUEST).build(), HttpResponse.BodyHandlers.ofInputStream());
        SseEventReader reader = new SseEventReader(response.body());
        assertThat(reader.next()).hasValueSatisfying(e -> assertThat(e.name()).isEqualTo("message_start"));

        response.body().close();

        assertThat(fake.takeRequest(TIMEOUT).awaitClientDisconnect(TIMEOUT)).isTrue();
    }

    @Test
    void finishedResponsesDoNotReportADisconnect() throws Exception {
        post("/v1/messages", STREAM_REQUEST);

        assertThat(fake.takeRequest(TIMEOUT).awaitClientDisconnect(Duration.ofMillis(100)))
                .isFalse();
    }

    @Test
    void requestsAreRecordedInOrderWithHeadersAndBodies() throws Exception {
        post(
                "/v1/messages?beta=true",
                REQUEST,
                "x-api-key",
                "sk-test",
                "anthropic-version",
                "2023-06-01",
                "anthropic-beta",
                "a1",
                "anthropic-beta",
                "b2");
        post("/v1/messages/count_tokens", "{\"model\":\"m\",\"messages\":[]}");

        RecordedRequest first = fake.takeRequest(TIMEOUT);
        RecordedRequest second = fake.takeRequest(TIMEOUT);
        assertThat(first.sequence()).isZero();
        assertThat(first.method()).isEqualTo("POST");
        assertThat(first.target()).isEqualTo("/v1/messages?beta=true");
        assertThat(first.path()).isEqualTo("/v1/messages");
        assertThat(first.header("X-API-KEY")).hasValue("sk-test");
        assertThat(first.header("Anthropic-Version")).hasValue("2023-06-01");
        assertThat(first.headers("anthropic-beta")).containsExactly("a1", "b2");
        assertThat(first.header("absent")).isEmpty();
        assertThat(first.bodyUtf8()).isEqualTo(REQUEST);
        assertThat(first.body()).isEqualTo(REQUEST.getBytes(UTF_8));
        assertThat(first.json().path("max_tokens").asInt()).isEqualTo(64);
        assertThat(first.model()).hasValue("claude-haiku-4-5-20251001");
        assertThat(first.chunked()).isFalse();
        assertThat(second.path()).isEqualTo("/v1/messages/count_tokens");
        assertThat(fake.requests()).containsExactly(first, second);
        assertThatThrownBy(() -> fake.takeRequest(Duration.ofMillis(50)))
                .isInstanceOf(AssertionError.class)
                .hasMessageContaining("2 received");
    }

    @Test
    void chunkedRequestBodyIsAccepted() throws Exception {
        // An InputStream publisher has no known length, so the JDK client sends the body chunked.
        HttpRequest request = request("/v1/messages")
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(REQUEST.getBytes(UTF_8))))
                .build();

        HttpResponse<String> response = client.send(request, HttpResponse.BodyHandlers.ofString());

        assertThat(response.statusCode()).isEqualTo(200);
        RecordedRequest recorded = fake.takeRequest(TIMEOUT);
        assertThat(recorded.chunked()).isTrue();
        assertThat(recorded.bodyUtf8()).isEqualTo(REQUEST);
    }

    @Test
    void keepAliveServesContentLengthAndChunkedRequestsOnOneConnection() throws Exception {
        fake.enqueue(FakeResponse.message("one"));
        fake.enqueue(FakeResponse.stream()
                .messageStart(FakeResponse.usage(1, 1))
                .messageStop()
                .build());
        fake.enqueue(FakeResponse.message("three"));

        try (Socket socket = connect()) {
            OutputStream out = socket.getOutputStream();
            InputStream in = socket.getInputStream();
            out.write(rawPost("/v1/messages", REQUEST, false));
            assertThat(readResponse(in)).contains("\"text\":\"one\"");
            out.write(rawPost("/v1/messages", STREAM_REQUEST, true));
            assertThat(readResponse(in)).contains("event: message_stop");
            out.write(rawPost("/v1/messages", REQUEST, true));
            assertThat(readResponse(in)).contains("\"text\":\"three\"");
        }

        assertThat(fake.requests()).extracting(RecordedRequest::chunked).containsExactly(false, true, true);
        assertThat(fake.requests()).extracting(RecordedRequest::bodyUtf8).containsOnly(REQUEST, STREAM_REQUEST);
    }

    @Test
    void countTokensAnswersAnEstimateOrTheScriptedCount() throws Exception {
        fake.enqueueCountTokens(FakeResponse.tokenCount(2095));
        fake.enqueueCountTokens(FakeResponse.error(429, "rate_limit_error", "slow down"));
        String body = "{\"model\":\"m\",\"system\":\"abcd\",\"messages\":[{\"role\":\"user\","
                + "\"content\":[{\"type\":\"text\",\"text\":\"efghi\"}]}]}";

        HttpResponse<String> scripted = post("/v1/messages/count_tokens", body);
        HttpResponse<String> limited = post("/v1/messages/count_tokens", body);
        HttpResponse<String> estimated = post("/v1/messages/count_tokens", body);

        assertThat(JSON.readTree(scripted.body()).path("input_tokens").asLong()).isEqualTo(2095);
        assertThat(limited.statusCode()).isEqualTo(429);
        assertThat(JSON.readTree(estimated.body()).path("input_tokens").asLong())
                .isEqualTo(3); // 9 characters / 4, rounded up
        assertThat(FakeAnthropic.estimateInputTokens(JSON.readTree("{}"))).isEqualTo(1);
    }

    @Test
    void unknownRouteIsANotFoundError() throws Exception {
        HttpResponse<String> response = post("/v1/complete", REQUEST);

        assertThat(response.statusCode()).isEqualTo(404);
        assertThat(JSON.readTree(response.body()).path("error").path("type").asText())
                .isEqualTo("not_found_error");
    }

    @Test
    void closeEndsAStreamHeldAtAGate() throws Exception {
        fake.enqueue(FakeResponse.stream()
                .messageStart(FakeResponse.usage(3, 1))
                .await(new CountDownLatch(1))
                .build());
        HttpResponse<InputStream> response =
                client.send(request("/v1/messages", STREAM_REQUEST).build(), HttpResponse.BodyHandlers.ofInputStream());
        SseEventReader reader = new SseEventReader(response.body());
        assertThat(reader.next()).isPresent();

        fake.close();

        assertThatThrownBy(() -> {
                    while (reader.next().isPresent()) {
                        // drain until the connection drops
                    }
                    throw new IOException("stream ended cleanly");
                })
                .isInstanceOf(IOException.class);
        assertThat(baseUrlIsLoopback()).isTrue();
    }

    @Test
    void aTlsFakeServesHttpsToClientsThatTrustItsCertificateAndOnlyThem() throws Exception {
        assertThatThrownBy(fake::certificateFile).isInstanceOf(IllegalStateException.class);
        try (FakeAnthropic tls = FakeAnthropic.startTls();
                HttpClient trusting = HttpClient.newBuilder()
                        .version(HttpClient.Version.HTTP_1_1)
                        .connectTimeout(TIMEOUT)
                        .sslContext(trusting(tls.certificateFile()))
                        .build()) {
            assertThat(tls.baseUrl()).isEqualTo("https://127.0.0.1:" + tls.port());
            tls.enqueue(FakeResponse.message("over TLS").withUsage(5, 2));
            // a pause makes the stream's disconnect watcher time out its reads, which must leave TLS intact
            tls.enqueue(FakeResponse.stream()
                    .messageStart(FakeResponse.usage(5, 1))
                    .pause(Duration.ofMillis(100))
                    .text("streamed")
                    .messageDelta("end_turn", "{\"output_tokens\":3}")
                    .messageStop()
                    .build());
            URI messages = URI.create(tls.baseUrl() + "/v1/messages");

            HttpResponse<String> json = trusting.send(
                    HttpRequest.newBuilder(messages)
                            .POST(HttpRequest.BodyPublishers.ofString(REQUEST))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(JSON.readTree(json.body())
                            .path("content")
                            .get(0)
                            .path("text")
                            .asText())
                    .isEqualTo("over TLS");
            HttpResponse<String> stream = trusting.send(
                    HttpRequest.newBuilder(messages)
                            .POST(HttpRequest.BodyPublishers.ofString(STREAM_REQUEST))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(readEvents(stream.body()))
                    .extracting(SseEvent::name)
                    .contains("content_block_delta")
                    .endsWith("message_stop");
            assertThat(tls.takeRequest(TIMEOUT).model()).hasValue("claude-haiku-4-5-20251001");
            assertThat(tls.connectionsAccepted()).isEqualTo(1);

            // a client with only the JDK's default trust refuses the self-signed certificate
            assertThatThrownBy(() -> client.send(
                            HttpRequest.newBuilder(messages)
                                    .POST(HttpRequest.BodyPublishers.ofString(REQUEST))
                                    .build(),
                            HttpResponse.BodyHandlers.ofString()))
                    .isInstanceOf(SSLHandshakeException.class);
            assertThat(tls.requestCount()).isEqualTo(2);
        }
    }

    private static SSLContext trusting(Path pem) throws Exception {
        KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        try (InputStream in = Files.newInputStream(pem)) {
            trust.setCertificateEntry(
                    "fake", CertificateFactory.getInstance("X.509").generateCertificate(in));
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, tmf.getTrustManagers(), null);
        return context;
    }

    private boolean baseUrlIsLoopback() {
        return fake.baseUrl().equals("http://127.0.0.1:" + fake.port());
    }

    private HttpResponse<String> post(String path, String body, String... headers)
            throws IOException, InterruptedException {
        HttpRequest.Builder builder = request(path, body);
        for (int i = 0; i < headers.length; i += 2) {
            builder.header(headers[i], headers[i + 1]);
        }
        return client.send(builder.build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpRequest.Builder request(String path, String body) {
        return request(path).POST(HttpRequest.BodyPublishers.ofString(body));
    }

    private HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(URI.create(fake.baseUrl() + path))
                .timeout(TIMEOUT)
                .header("content-type", "application/json");
    }

    private Socket connect() throws IOException {
        return new Socket(InetAddress.getByAddress(new byte[] {127, 0, 0, 1}), fake.port());
    }

    private static List<SseEvent> readEvents(String body) throws IOException {
        SseEventReader reader = new SseEventReader(new ByteArrayInputStream(body.getBytes(UTF_8)));
        List<SseEvent> events = new ArrayList<>();
        for (Optional<SseEvent> event = reader.next(); event.isPresent(); event = reader.next()) {
            events.add(event.get());
        }
        return events;
    }

    private static byte[] rawPost(String path, String body, boolean chunked) {
        byte[] bytes = body.getBytes(UTF_8);
        StringBuilder request = new StringBuilder("POST " + path + " HTTP/1.1\r\nHost: fake\r\n");
        request.append("Content-Type: application/json\r\n");
        if (chunked) {
            int half = bytes.length / 2;
            request.append("Transfer-Encoding: chunked\r\n\r\n");
            request.append(Integer.toHexString(half)).append(";ext=1\r\n").append(new String(bytes, 0, half, UTF_8));
            request.append("\r\n")
                    .append(Integer.toHexString(bytes.length - half))
                    .append("\r\n");
            request.append(new String(bytes, half, bytes.length - half, UTF_8)).append("\r\n0\r\n\r\n");
        } else {
            request.append("Content-Length: ")
                    .append(bytes.length)
                    .append("\r\n\r\n")
                    .append(body);
        }
        return request.toString().getBytes(UTF_8);
    }

    /** Reads one response off a raw connection: head, then a Content-Length or chunked body. */
    private static String readResponse(InputStream in) throws IOException {
        StringBuilder text = new StringBuilder();
        String head = readUntil(in, "\r\n\r\n");
        text.append(head);
        String lower = head.toLowerCase(java.util.Locale.ROOT);
        int lengthAt = lower.indexOf("content-length: ");
        if (lengthAt >= 0) {
            int end = lower.indexOf("\r\n", lengthAt);
            int length = Integer.parseInt(lower.substring(lengthAt + 16, end).strip());
            text.append(new String(in.readNBytes(length), UTF_8));
        } else {
            text.append(readUntil(in, "\r\n0\r\n\r\n"));
        }
        return text.toString();
    }

    private static String readUntil(InputStream in, String end) throws IOException {
        StringBuilder text = new StringBuilder();
        while (!text.toString().endsWith(end)) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("connection closed after: " + text);
            }
            text.append((char) b);
        }
        return text.toString();
    }
}
