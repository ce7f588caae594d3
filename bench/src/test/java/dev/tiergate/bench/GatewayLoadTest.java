package dev.tiergate.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpServer;
import dev.tiergate.bench.GatewayLoad.Plan;
import dev.tiergate.bench.GatewayLoad.Response;
import dev.tiergate.bench.GatewayLoad.Result;
import dev.tiergate.bench.GatewayLoad.Sample;
import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class GatewayLoadTest {
    private static final byte[] BODY = "{\"model\":\"m\",\"max_tokens\":1}".getBytes(StandardCharsets.UTF_8);
    private static final byte[] ANSWER = "{\"type\":\"message\"}".getBytes(StandardCharsets.UTF_8);

    private HttpServer server;
    private final AtomicInteger received = new AtomicInteger();

    @BeforeEach
    void startServer() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 64);
        // fixed length, chunked (length 0 asks the JDK server for chunked framing), and an error status
        server.createContext("/fixed", x -> answer(x, 200, ANSWER.length));
        server.createContext("/chunked", x -> answer(x, 200, 0));
        server.createContext("/fails", x -> answer(x, 529, ANSWER.length));
        server.setExecutor(java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor());
        server.start();
    }

    private void answer(com.sun.net.httpserver.HttpExchange x, int status, long length) throws IOException {
        byte[] got = x.getRequestBody().readAllBytes();
        if (java.util.Arrays.equals(got, BODY)
                && "k".equals(x.getRequestHeaders().getFirst("x-api-key"))) {
            received.incrementAndGet();
        }
        x.sendResponseHeaders(status, length);
        try (OutputStream out = x.getResponseBody()) {
            out.write(ANSWER);
        }
    }

    @AfterEach
    void stopServer() {
        server.stop(0);
    }

    private Plan plan(String path, int rate, long warmupMillis, long measureMillis) {
        URI url = URI.create("http://127.0.0.1:" + server.getAddress().getPort() + path);
        return new Plan(
                url,
                GatewayLoad.request(url, List.of("x-api-key: k"), BODY),
                rate,
                TimeUnit.MILLISECONDS.toNanos(warmupMillis),
                TimeUnit.MILLISECONDS.toNanos(measureMillis),
                4);
    }

    @Test
    void pacedRunSendsEveryDueRequestAndMeasuresOnlyThoseAfterTheWarmUp() throws Exception {
        for (String path : List.of("/fixed", "/chunked")) {
            received.set(0);

            Result r = GatewayLoad.run(plan(path, 2000, 50, 100));

            // 150 ms at 2000/s: 300 requests due, each sent and answered once; the last 200 measured
            assertThat(received.get()).as(path).isEqualTo(300);
            assertThat(r.okInRun()).as(path).isEqualTo(300);
            assertThat(r.errors().total()).as(path).isZero();
            assertThat(r.measured()).as(path).hasSize(200);
            long gap = TimeUnit.MILLISECONDS.toNanos(1) / 2;
            List<Sample> m = r.measured();
            for (int i = 0; i < m.size(); i++) {
                Sample s = m.get(i);
                assertThat(s.due()).isEqualTo(m.get(0).due() + i * gap); // evenly paced, none skipped
                assertThat(s.sent()).isGreaterThanOrEqualTo(s.due());
                assertThat(s.end()).isGreaterThan(s.sent());
                assertThat(s.status()).isEqualTo(200);
            }
            assertThat(m.get(0).due()).isGreaterThanOrEqualTo(r.startNanos());
        }
    }

    @Test
    void errorStatusesAreCountedAsWrkCountsThem() throws Exception {
        Result r = GatewayLoad.run(plan("/fails", 1000, 0, 50));

        assertThat(r.okInRun()).isZero();
        assertThat(r.errors().status.get()).isEqualTo(50);
        assertThat(r.measured())
                .hasSize(50)
                .allSatisfy(s -> assertThat(s.status()).isEqualTo(529));
    }

    @Test
    void aTargetThatIsDownGivesConnectErrorsAndNoSamples() throws Exception {
        Plan up = plan("/fixed", 1000, 0, 20);
        server.stop(0);

        Result r = GatewayLoad.run(up);

        assertThat(r.errors().connect.get()).isEqualTo(20);
        assertThat(r.measured()).isEmpty();
    }

    @Test
    void fullSpeedRunKeepsEachConnectionBusy() throws Exception {
        Result r = GatewayLoad.run(plan("/fixed", 0, 20, 50));

        assertThat(r.errors().total()).isZero();
        // back to back on each of the 4 connections for 50 ms: many more than one round of requests
        assertThat(r.measured())
                .hasSizeGreaterThan(4 * 5)
                .allSatisfy(s -> assertThat(s.end()).isGreaterThan(s.sent()));
        assertThat(received.get()).isEqualTo((int) r.okInRun());
    }

    @Test
    void readsChunkedBodiesWithExtensionsAndTrailersAndSeesConnectionClose() throws IOException {
        String raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                + "5;ext=1\r\nhello\r\n0\r\nx-trailer: 1\r\n\r\n"
                + "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nabc";
        InputStream in = new ByteArrayInputStream(raw.getBytes(StandardCharsets.ISO_8859_1));

        assertThat(GatewayLoad.readResponse(in, new byte[2])).isEqualTo(new Response(200, true));
        assertThat(GatewayLoad.readResponse(in, new byte[2])).isEqualTo(new Response(404, false));
        assertThat(in.read()).isEqualTo(-1); // the whole of both, nothing more
    }

    @Test
    void aResponseCutShortIsAnErrorNotASample() {
        String raw = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
        InputStream in = new ByteArrayInputStream(raw.getBytes(StandardCharsets.ISO_8859_1));

        assertThatThrownBy(() -> GatewayLoad.readResponse(in, new byte[8])).isInstanceOf(EOFException.class);
    }

    @Test
    void theTimelineHasEveryMeasuredRequestThenTheHostsSlowWindows(
            @org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        List<Sample> samples = List.of(new Sample(10, 12, 30, 200), new Sample(20, 21, 40, 529));
        java.nio.file.Path file = dir.resolve("timeline.txt");

        GatewayLoad.writeTimeline(file, samples, List.of(new HostProbe.Window(15, 25)));

        assertThat(java.nio.file.Files.readAllLines(file))
                .containsExactly("# due_ns sent_ns end_ns status", "10 12 30 200", "20 21 40 529", "# slow 15 25");
    }

    @Test
    void reportsWrkFieldsAndTheClearSubsetWhenTheHostWasProbed() throws Exception {
        Plan p = plan("/fixed", 1000, 0, 30);
        Result r = GatewayLoad.run(p);
        long mid = r.measured().get(15).sent();
        // a pretend slow window covering the middle request: it, and the 50 ms after it, are not clear
        List<HostProbe.Window> windows = List.of(new HostProbe.Window(mid, mid + 1));

        String report = GatewayLoad.report(p, r, "host slow windows: 1", windows);

        assertThat(report)
                .contains("\"requests\":30,")
                .contains("\"ok_in_run\":30,")
                .contains("\"host_probe\":true");
        int clearN = Integer.parseInt(report.replaceAll("(?s).*\"clear_n\":(\\d+).*", "$1"));
        assertThat(clearN).isBetween(1, 15); // the first 15 at most: every later one ran within 50 ms of it
        assertThat(GatewayLoad.report(p, r, "", List.of()))
                .contains("\"host_probe\":false")
                .contains("\"clear_n\":30,");
    }
}
