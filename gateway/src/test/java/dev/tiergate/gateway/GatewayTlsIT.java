package dev.tiergate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.anthropic.client.AnthropicClient;
import com.anthropic.core.http.StreamResponse;
import com.anthropic.helpers.MessageAccumulator;
import com.anthropic.models.messages.Message;
import com.anthropic.models.messages.MessageCreateParams;
import com.anthropic.models.messages.RawMessageStreamEvent;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tiergate.pricing.Money;
import dev.tiergate.testing.FakeAnthropic;
import dev.tiergate.testing.FakeResponse;
import dev.tiergate.testing.RecordedRequest;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.LocalDate;
import java.util.List;
import java.util.Map;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The gateway in front of an https upstream, as in production: a TLS {@link FakeAnthropic} with a self-signed
 * certificate, trusted through {@code upstream.ca_file}, and the official Java SDK as the caller.
 */
class GatewayTlsIT {
    private static final Duration WAIT = Duration.ofSeconds(5);
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private GatewayHarness h;
    private AnthropicClient sdk;

    /** A gateway in front of a TLS fake; {@code upstreamExtra} goes into its {@code upstream:} section. */
    private void start(FakeAnthropic fake, String upstreamExtra) {
        h = GatewayHarness.withUpstream(dir, fake, "max_retries: 0\n" + upstreamExtra);
        sdk = h.sdk();
    }

    @AfterEach
    void stop() {
        if (sdk != null) {
            sdk.close();
        }
        if (h != null) {
            h.close();
        }
    }

    private static MessageCreateParams params(String task) {
        return MessageCreateParams.builder()
                .model("task:" + task)
                .maxTokens(4000)
                .addUserMessage("Extract the names.")
                .build();
    }

    @Test
    void anHttpsUpstreamTrustedThroughCaFileServesPlainAndStreamedCallsOverOneKeptAliveConnection() throws Exception {
        FakeAnthropic fake = FakeAnthropic.startTls();
        // relative to the config file, as every path in it
        Files.copy(fake.certificateFile(), dir.resolve("upstream-ca.pem"));
        start(fake, "ca_file: upstream-ca.pem");
        assertThat(fake.baseUrl()).startsWith("https://127.0.0.1:");
        fake.enqueue(FakeResponse.message("Ada, Grace").withUsage(1200, 300));
        fake.enqueue(FakeResponse.stream()
                .messageStart(FakeResponse.usage(2000, 1))
                .ping()
                .text("Synthesised ", "answer")
                .messageDelta("end_turn", "{\"output_tokens\":120}")
                .messageStop()
                .build());

        Message message = sdk.messages().create(params("extraction"));
        MessageAccumulator streamed = MessageAccumulator.create();
        try (StreamResponse<RawMessageStreamEvent> s = sdk.messages().createStreaming(params("synthesis"))) {
            s.stream().forEach(streamed::accumulate);
        }

        assertThat(message.content().get(0).text().orElseThrow().text()).isEqualTo("Ada, Grace");
        assertThat(streamed.message().content().get(0).text().orElseThrow().text())
                .isEqualTo("Synthesised answer");
        RecordedRequest plain = fake.takeRequest(WAIT);
        assertThat(plain.json().path("model").asText()).isEqualTo("claude-haiku-4-5-20251001");
        assertThat(plain.json().path("max_tokens").asLong()).isEqualTo(300);
        assertThat(plain.header("x-api-key")).contains(GatewayHarness.UPSTREAM_SECRET);
        // Helidon's WebClient carried the call, not the JDK client (which says Java-http-client)
        assertThat(plain.header("user-agent"))
                .hasValueSatisfying(ua -> assertThat(ua).startsWith("Helidon"));
        RecordedRequest stream = fake.takeRequest(WAIT);
        assertThat(stream.json().path("model").asText()).isEqualTo("claude-opus-4-6");
        assertThat(stream.json().path("stream").asBoolean()).isTrue();
        assertThat(stream.header("accept")).contains("text/event-stream");
        // one TLS handshake for both calls: the connection went back to the pool after the first
        assertThat(fake.connectionsAccepted()).isEqualTo(1);
        assertThat(h.awaitCalls(2)).extracting(CallRecord::status).containsExactly("ok", "ok");
    }

    @Test
    void anHttpsUpstreamWhoseCertificateIsNotTrustedIsAnAnthropicShaped502AndNeverReached() throws Exception {
        FakeAnthropic fake = FakeAnthropic.startTls();
        start(fake, "");
        try (HttpClient http = HttpClient.newHttpClient()) {
            HttpResponse<String> response = http.send(
                    HttpRequest.newBuilder(URI.create(h.baseUrl() + "/v1/messages"))
                            .header("x-api-key", GatewayHarness.KEY)
                            .POST(HttpRequest.BodyPublishers.ofString(
                                    "{\"model\":\"task:extraction\",\"max_tokens\":10,"
                                            + "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());

            assertThat(response.statusCode()).as(response.body()).isEqualTo(502);
            JsonNode body = JSON.readTree(response.body());
            assertThat(body.path("type").asText()).isEqualTo("error");
            assertThat(body.path("error").path("type").asText()).isEqualTo("api_error");
            assertThat(body.path("error").path("message").asText())
                    .contains("connection failed")
                    .contains("SSLHandshakeException");
        }
        assertThat(fake.requestCount()).isZero();
        CallRecord call = h.awaitCalls(1).get(0);
        assertThat(call.status()).isEqualTo("upstream_error");
        // the handshake failed as the connection was made: nothing was sent, so nothing may have been billed
        assertThat(call.unansweredAttempts()).isZero();
        assertThat(call.cost()).isEqualTo(Money.ZERO);
    }

    @Test
    void aCaFileAddsToTheJdksDefaultTrustRatherThanReplacingIt() throws Exception {
        FakeAnthropic fake = FakeAnthropic.startTls();
        start(fake, "ca_file: " + fake.certificateFile());
        X509Certificate ca;
        try (InputStream in = Files.newInputStream(fake.certificateFile())) {
            ca = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
        GatewayConfig config = GatewayConfig.load(dir.resolve("tiergate.yaml"), Map.of(), LocalDate.of(2026, 11, 29));
        assertThat(config.upstream().caCertificates()).containsExactly(ca);
        TrustManagerFactory jdk = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        jdk.init((KeyStore) null);
        List<X509Certificate> jdkTrust = List.of(((X509TrustManager) jdk.getTrustManagers()[0]).getAcceptedIssuers());

        List<X509Certificate> trust = new UpstreamClient(config.upstream())
                .settings()
                .tls()
                .prototype()
                .trust();

        assertThat(jdkTrust).isNotEmpty();
        assertThat(trust).containsAll(jdkTrust).contains(ca).hasSize(jdkTrust.size() + 1);
        // without ca_file Helidon lists no certificate, so the JDK's default trust applies as it is
        assertThat(new UpstreamClient(GatewayConfig.Upstream.defaults(
                                URI.create("https://api.anthropic.com"), Secret.of("k")))
                        .settings()
                        .tls()
                        .prototype()
                        .trust())
                .isEmpty();
    }
}
