package dev.tiergate.simulator;

import static dev.tiergate.simulator.Requests.request;
import static dev.tiergate.simulator.Requests.streaming;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tiergate.messages.StreamOutcome;
import dev.tiergate.messages.StreamUsageTracker;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class SimulatorServerIT {
    // A million times faster: a simulated minute takes 60 microseconds.
    private static final double COMPRESSION = 1_000_000;
    private static SimulatorServer server;
    private static HttpClient http;

    @BeforeAll
    static void start() {
        server = SimulatorServer.start(SimulatedUpstream.create(9, SimulatorProfiles.builtIn(), COMPRESSION), 0);
        http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private static HttpRequest.Builder post(String path, String body) {
        return HttpRequest.newBuilder(URI.create(server.baseUrl() + path))
                .timeout(Duration.ofSeconds(10))
                .header("content-type", "application/json")
                .header("x-api-key", "any-key-works")
                .POST(HttpRequest.BodyPublishers.ofString(body));
    }

    @Test
    void answersJsonWithASimulatedMessageAndLabelsIt() throws Exception {
        ObjectNode body = request("claude-opus-4-6", 3000, "Summarize the report.");
        HttpResponse<String> r = http.send(
                post("/v1/messages", body.toString())
                        .header("x-tiergate-task", "summarization")
                        .header("x-tiergate-call-key", "json-1")
                        .build(),
                HttpResponse.BodyHandlers.ofString());

        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("x-tiergate-simulated")).hasValue("true");
        assertThat(r.headers().firstValue("content-type")).hasValue("application/json");
        assertThat(r.headers().firstValue("request-id"))
                .hasValueSatisfying(v -> assertThat(v).startsWith("req_sim_"));
        JsonNode json = Requests.JSON.readTree(r.body());
        assertThat(json.path("id").asText()).startsWith("msg_sim_");
        assertThat(json.path("content").get(0).path("text").asText()).startsWith("[simulated claude-opus-4-6]");
        // Same seed, body, task and key in process gives the same bytes.
        var expected = (SimulatedResponse.Message) SimulatedUpstream.create(9).respond(body, "summarization", "json-1");
        assertThat(r.body()).isEqualTo(expected.body());
        assertThat(r.headers().firstValue("x-tiergate-simulated-ttft-ms").map(Double::parseDouble))
                .hasValueSatisfying(v -> assertThat(v).isGreaterThan(100));
    }

    @Test
    void streamsWellFormedSseWithTheSameUsageAsJson() throws Exception {
        ObjectNode body = request("claude-haiku-4-5-20251001", 2000, "Extract the names.");
        HttpResponse<String> plain = http.send(
                post("/v1/messages", body.toString())
                        .header("x-tiergate-call-key", "s-1")
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        HttpResponse<InputStream> streamed = http.send(
                post("/v1/messages", streaming(body).toString())
                        .header("x-tiergate-call-key", "s-1")
                        .build(),
                HttpResponse.BodyHandlers.ofInputStream());

        assertThat(streamed.statusCode()).isEqualTo(200);
        assertThat(streamed.headers().firstValue("content-type"))
                .hasValueSatisfying(v -> assertThat(v).startsWith("text/event-stream"));
        assertThat(streamed.headers().firstValue("x-tiergate-simulated")).hasValue("true");
        StreamUsageTracker tracker;
        try (InputStream in = streamed.body()) {
            tracker = Requests.track(in);
        }
        assertThat(tracker.outcome()).isInstanceOf(StreamOutcome.Completed.class);
        JsonNode json = Requests.JSON.readTree(plain.body());
        assertThat(tracker.usage()).isEqualTo(dev.tiergate.pricing.Usage.fromJson(json.path("usage")));
        assertThat(tracker.stopReason()).hasValue(json.path("stop_reason").asText());
        assertThat(tracker.messageId()).hasValue(json.path("id").asText());
    }

    @Test
    void countTokensMatchesTheReportedPrompt() throws Exception {
        ObjectNode body = request("claude-sonnet-4-6", 500, "How many tokens is this question?");
        HttpResponse<String> count = http.send(
                post("/v1/messages/count_tokens", body.toString()).build(), HttpResponse.BodyHandlers.ofString());
        HttpResponse<String> message =
                http.send(post("/v1/messages", body.toString()).build(), HttpResponse.BodyHandlers.ofString());

        assertThat(count.statusCode()).isEqualTo(200);
        long counted = Requests.JSON.readTree(count.body()).path("input_tokens").asLong();
        var usage = dev.tiergate.pricing.Usage.fromJson(
                Requests.JSON.readTree(message.body()).path("usage"));
        assertThat(counted).isPositive().isEqualTo(usage.promptTokens());
    }

    @Test
    void rejectsBadBodiesWithAnthropicShaped400s() throws Exception {
        ObjectNode noMessages = request("claude-opus-4-6", 100, "x");
        noMessages.remove("messages");
        HttpResponse<String> missing =
                http.send(post("/v1/messages", noMessages.toString()).build(), HttpResponse.BodyHandlers.ofString());
        HttpResponse<String> badMax = http.send(
                post("/v1/messages", request("claude-opus-4-6", -5, "x").toString())
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        HttpResponse<String> notJson =
                http.send(post("/v1/messages", "{nope").build(), HttpResponse.BodyHandlers.ofString());

        for (HttpResponse<String> r : java.util.List.of(missing, badMax, notJson)) {
            assertThat(r.statusCode()).isEqualTo(400);
            JsonNode json = Requests.JSON.readTree(r.body());
            assertThat(json.path("type").asText()).isEqualTo("error");
            assertThat(json.path("error").path("type").asText()).isEqualTo("invalid_request_error");
        }
        assertThat(Requests.JSON
                        .readTree(missing.body())
                        .path("error")
                        .path("message")
                        .asText())
                .startsWith("messages:");
        assertThat(Requests.JSON
                        .readTree(badMax.body())
                        .path("error")
                        .path("message")
                        .asText())
                .startsWith("max_tokens:");
    }

    @Test
    void sendsInjectedRateLimitsWithRetryAfter() throws Exception {
        SimulatorProfiles allLimited =
                SimulatorProfiles.builtIn().withFailures(new SimulatorProfiles.Failures(1.0, 0, 0, 7));
        try (SimulatorServer limited = SimulatorServer.start(SimulatedUpstream.create(1, allLimited, COMPRESSION), 0)) {
            HttpResponse<String> r = http.send(
                    HttpRequest.newBuilder(URI.create(limited.baseUrl() + "/v1/messages"))
                            .header("authorization", "Bearer whatever")
                            .POST(HttpRequest.BodyPublishers.ofString(
                                    request("claude-opus-4-6", 100, "x").toString()))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).isEqualTo(429);
            assertThat(r.headers().firstValue("retry-after")).hasValue("7");
            assertThat(Requests.JSON
                            .readTree(r.body())
                            .path("error")
                            .path("type")
                            .asText())
                    .isEqualTo("rate_limit_error");
        }
    }

    @Test
    void healthzAndUnknownRoutes() throws Exception {
        HttpResponse<String> health = http.send(
                HttpRequest.newBuilder(URI.create(server.baseUrl() + "/healthz"))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(health.statusCode()).isEqualTo(200);
        assertThat(health.body()).contains("\"simulated\":true");
        HttpResponse<String> missing = http.send(
                HttpRequest.newBuilder(URI.create(server.baseUrl() + "/v1/complete"))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(missing.statusCode()).isEqualTo(404);
        assertThat(missing.body()).contains("not_found_error");
    }
}
