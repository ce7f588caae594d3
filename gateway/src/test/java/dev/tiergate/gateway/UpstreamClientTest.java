package dev.tiergate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.management.HotSpotDiagnosticMXBean;
import dev.tiergate.testing.FakeAnthropic;
import dev.tiergate.testing.FakeResponse;
import io.helidon.common.tls.Tls;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UpstreamClientTest {

    private static UpstreamClient client(String baseUrl) {
        return client(baseUrl, UpstreamClient.WATCH_IDLE_AFTER);
    }

    private static UpstreamClient client(String baseUrl, Duration watchIdleAfter) {
        return new UpstreamClient(GatewayConfig.Upstream.defaults(URI.create(baseUrl), Secret.of("k")), watchIdleAfter);
    }

    /** One plain call, its body read to the end and closed, as the gateway does; returns the status. */
    private static int call(UpstreamClient upstream) throws IOException {
        Upstream.Result r = upstream.send(
                "/v1/messages",
                List.of("claude-haiku-4-5-20251001"),
                model -> ("{\"model\":\"" + model + "\",\"max_tokens\":10,\"messages\":[]}")
                        .getBytes(StandardCharsets.UTF_8),
                Map.of(),
                false,
                Instant.now().plusSeconds(30),
                Upstream.Unanswered.TRY_AGAIN);
        Upstream.Response response = (Upstream.Response) r;
        try (var body = response.body()) {
            body.readAllBytes();
        }
        return response.status();
    }

    /** A client that retries after 1 ms and waits {@code firstByteTimeout} for response headers. */
    private static UpstreamClient quickRetries(String baseUrl, Duration firstByteTimeout) {
        GatewayConfig.Upstream d = GatewayConfig.Upstream.defaults(URI.create(baseUrl), Secret.of("k"));
        return new UpstreamClient(new GatewayConfig.Upstream(
                d.baseUrl(),
                d.apiKey(),
                2,
                Duration.ofMillis(1),
                d.maxRetryWait(),
                d.connectTimeout(),
                firstByteTimeout,
                d.idleTimeout(),
                d.totalTimeout(),
                List.of(),
                false,
                1,
                1.0));
    }

    /** Sends a plain call to {@code models} in order, noting each model the gate is asked about. */
    private static Upstream.Result send(
            UpstreamClient upstream, List<String> models, List<String> asked, boolean tryAgain) {
        Upstream.Result r = upstream.send(
                "/v1/messages",
                models,
                model -> ("{\"model\":\"" + model + "\",\"max_tokens\":10,\"messages\":[]}")
                        .getBytes(StandardCharsets.UTF_8),
                Map.of(),
                false,
                Instant.now().plusSeconds(30),
                model -> {
                    asked.add(model);
                    return tryAgain;
                });
        if (r instanceof Upstream.Response response) {
            try (var body = response.body()) {
                body.readAllBytes();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return r;
    }

    @Test
    void anAttemptCutOffAfterTheUpstreamReadItIsUnansweredAndTriedAgainOnceTheGateAgrees() {
        try (FakeAnthropic fake = FakeAnthropic.start();
                UpstreamClient upstream = quickRetries(fake.baseUrl(), Duration.ofMinutes(1))) {
            fake.enqueue(FakeResponse.reset());
            List<String> asked = new ArrayList<>();

            Upstream.Result r = send(upstream, List.of("m1"), asked, true);

            assertThat(r).isInstanceOfSatisfying(Upstream.Response.class, ok -> {
                assertThat(ok.status()).isEqualTo(200);
                assertThat(ok.attempts()).isEqualTo(2);
                assertThat(ok.unanswered()).containsExactly("m1");
            });
            assertThat(asked).containsExactly("m1");
            assertThat(fake.requestCount()).isEqualTo(2);
        }
    }

    @Test
    void theGateSayingNoEndsTheCallWithTheUnansweredAttemptsErrorAndTriesNoFallback() {
        try (FakeAnthropic fake = FakeAnthropic.start();
                UpstreamClient upstream = quickRetries(fake.baseUrl(), Duration.ofMinutes(1))) {
            fake.enqueue(FakeResponse.reset());
            List<String> asked = new ArrayList<>();

            Upstream.Result r = send(upstream, List.of("m1", "m2"), asked, false);

            assertThat(r).isInstanceOfSatisfying(Upstream.Failed.class, f -> {
                assertThat(f.attempts()).isEqualTo(1);
                assertThat(f.unanswered()).containsExactly("m1");
                assertThat(f.tried()).containsExactly("m1");
                assertThat(f.error().status()).isEqualTo(502);
                assertThat(f.error().message()).contains("upstream m1 sent no answer after 1 attempt(s)");
            });
            assertThat(asked).containsExactly("m1");
            assertThat(fake.requestCount()).isEqualTo(1);
        }
    }

    @Test
    void noResponseHeadersWithinTheFirstByteTimeoutIsAnUnansweredAttempt() {
        try (FakeAnthropic fake = FakeAnthropic.start();
                UpstreamClient upstream = quickRetries(fake.baseUrl(), Duration.ofMillis(200))) {
            fake.enqueue(FakeResponse.silence(Duration.ofSeconds(10)));
            List<String> asked = new ArrayList<>();

            Upstream.Result r = send(upstream, List.of("m1", "m2"), asked, true);

            assertThat(r).isInstanceOfSatisfying(Upstream.Response.class, ok -> {
                assertThat(ok.model()).isEqualTo("m1");
                assertThat(ok.unanswered()).containsExactly("m1");
            });
            assertThat(asked).containsExactly("m1");
        }
    }

    @Test
    void anErrorStatusIsAnAnswerAndAnUpstreamNobodyListensOnNeverGotTheRequest() throws IOException {
        try (FakeAnthropic fake = FakeAnthropic.start();
                UpstreamClient upstream = quickRetries(fake.baseUrl(), Duration.ofMinutes(1))) {
            fake.enqueue(FakeResponse.error(529, "overloaded_error", "busy"));
            List<String> asked = new ArrayList<>();

            Upstream.Result r = send(upstream, List.of("m1"), asked, true);

            assertThat(r)
                    .isInstanceOfSatisfying(
                            Upstream.Response.class,
                            ok -> assertThat(ok.unanswered()).isEmpty());
            assertThat(asked).isEmpty();
        }
        int closedPort;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = s.getLocalPort();
        }
        try (UpstreamClient upstream = quickRetries("http://127.0.0.1:" + closedPort, Duration.ofMinutes(1))) {
            List<String> asked = new ArrayList<>();

            Upstream.Result r = send(upstream, List.of("m1", "m2"), asked, true);

            assertThat(r).isInstanceOfSatisfying(Upstream.Failed.class, f -> {
                assertThat(f.attempts()).isEqualTo(6);
                assertThat(f.unanswered()).isEmpty();
                assertThat(f.error().message()).contains("connection failed");
            });
            assertThat(asked).isEmpty();
        }
    }

    /** How many of Helidon's idle-connection watchers (virtual threads, so only in a thread dump) are alive. */
    private static long watcherThreads(Path dir) throws IOException {
        Path dump = dir.resolve("threads-" + System.nanoTime() + ".txt");
        ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class)
                .dumpThreads(dump.toString(), HotSpotDiagnosticMXBean.ThreadDumpFormat.TEXT_PLAIN);
        try (var lines = Files.lines(dump)) {
            return lines.filter(l -> l.startsWith("#") && l.contains(" \"helidon-socket-monitor-"))
                    .count();
        }
    }

    @Test
    void callsBackToBackReuseOneConnectionAndStartNoThreadToWatchIt(@TempDir Path dir) throws Exception {
        try (FakeAnthropic fake = FakeAnthropic.start();
                UpstreamClient upstream = client(fake.baseUrl(), Duration.ofHours(1))) {
            long before = watcherThreads(dir);
            for (int i = 0; i < 5; i++) {
                assertThat(call(upstream)).isEqualTo(200);
            }
            assertThat(fake.connectionsAccepted()).isEqualTo(1);
            // Helidon's own cache starts a watcher thread each time a connection comes back; the pool does not
            assertThat(upstream.connections().idleAndWatched()).containsExactly(1, 0);
            assertThat(watcherThreads(dir)).isEqualTo(before);
        }
    }

    @Test
    void aConnectionLeftIdleIsWatchedSoThatOneTheUpstreamClosedIsPassedOver(@TempDir Path dir) throws Exception {
        try (FakeAnthropic fake = FakeAnthropic.start();
                UpstreamClient upstream = client(fake.baseUrl(), Duration.ofMillis(20))) {
            assertThat(call(upstream)).isEqualTo(200);
            long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
            while (upstream.connections().idleAndWatched()[1] < 1) {
                assertThat(System.nanoTime()).as("watched within 5 s").isLessThan(deadline);
                LockSupport.parkNanos(Duration.ofMillis(2).toNanos());
            }
            // watched, it stays usable: Helidon's watch reads in 101 ms rounds for as long as the socket timeout,
            // which requests leave at zero; the pool gives the watch its own limit
            LockSupport.parkNanos(Duration.ofMillis(350).toNanos());
            assertThat(isConnected(upstream))
                    .as("still connected after 350 ms watched")
                    .isTrue();
            assertThat(fake.closeIdleConnections()).isEqualTo(1);
            while (upstream.connections().idleAndWatched()[0] > 0 && isConnected(upstream)) {
                assertThat(System.nanoTime()).as("the close seen within 5 s").isLessThan(deadline);
                LockSupport.parkNanos(Duration.ofMillis(2).toNanos());
            }

            assertThat(call(upstream)).isEqualTo(200);
            assertThat(fake.connectionsAccepted()).isEqualTo(2);
            assertThat(fake.requestCount()).isEqualTo(2);
        }
    }

    /** Whether the pool's idle connection is still open as far as the client knows. */
    private static boolean isConnected(UpstreamClient upstream) {
        return upstream.connections().idleConnected() > 0;
    }

    @Test
    void callsGoWithNagleOff() {
        // Without TCP_NODELAY a streamed response's first bytes wait ~40 ms for a delayed ACK.
        try (UpstreamClient http = client("http://127.0.0.1:9");
                UpstreamClient https = client("https://api.anthropic.com")) {
            assertThat(http.settings().socketOptions().tcpNoDelay()).isTrue();
            assertThat(https.settings().socketOptions().tcpNoDelay()).isTrue();
        }
    }

    @Test
    void httpsVerifiesTheUpstreamsHostName() {
        Tls tls;
        try (UpstreamClient https = client("https://api.anthropic.com")) {
            tls = https.settings().tls();
        }
        assertThat(tls.enabled()).isTrue();
        assertThat(tls.prototype().trustAll()).isFalse();
        assertThat(tls.prototype().endpointIdentificationAlgorithm()).isEqualTo(Tls.ENDPOINT_IDENTIFICATION_HTTPS);
    }
}
