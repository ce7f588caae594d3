package dev.tiergate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The Helidon transport against a raw socket, where the connection's fate is visible. */
class UpstreamClientIT {
    private final ServerSocket server;
    private final AtomicInteger accepted = new AtomicInteger();
    private final CompletableFuture<Boolean> peerClosed = new CompletableFuture<>();

    UpstreamClientIT() throws IOException {
        server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    }

    @AfterEach
    void close() throws IOException {
        server.close();
    }

    private UpstreamClient client() {
        return new UpstreamClient(GatewayConfig.Upstream.defaults(
                URI.create("http://127.0.0.1:" + server.getLocalPort()), Secret.of("k")));
    }

    private Upstream.Response send(UpstreamClient c, boolean stream) {
        Upstream.Result r = c.send(
                "/v1/messages",
                List.of("m"),
                m -> "{}".getBytes(StandardCharsets.UTF_8),
                Map.of(),
                stream,
                Instant.now().plusSeconds(30),
                Upstream.Unanswered.TRY_AGAIN);
        assertThat(r).isInstanceOf(Upstream.Response.class);
        return (Upstream.Response) r;
    }

    /** Serves every request on every connection with {@code answer}, then (if {@code hang}) goes silent. */
    private void serve(String answer, boolean hang) {
        Thread.ofVirtual().start(() -> {
            while (!server.isClosed()) {
                Socket s;
                try {
                    s = server.accept();
                } catch (IOException e) {
                    return;
                }
                accepted.incrementAndGet();
                Thread.ofVirtual().start(() -> handle(s, answer, hang));
            }
        });
    }

    private void handle(Socket s, String answer, boolean hang) {
        try (s) {
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            while (readRequest(in)) {
                out.write(answer.getBytes(StandardCharsets.UTF_8));
                out.flush();
                if (hang) {
                    // Silent from here on: only the client closing the connection ends this read.
                    peerClosed.complete(in.read() == -1);
                    return;
                }
            }
        } catch (IOException e) {
            peerClosed.complete(true);
        }
    }

    /** Reads one request (headers and a content-length body); false at end of stream. */
    private static boolean readRequest(InputStream in) throws IOException {
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                return false;
            }
            head.append((char) b);
        }
        String lower = head.toString().toLowerCase(java.util.Locale.ROOT);
        int i = lower.indexOf("content-length:");
        int length = i < 0
                ? 0
                : Integer.parseInt(
                        lower.substring(i + 15, lower.indexOf("\r\n", i)).trim());
        in.readNBytes(length);
        return true;
    }

    @Test
    void finishedBodiesReturnTheirConnectionForTheNextCall() throws IOException {
        serve("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}", false);
        UpstreamClient c = client();
        for (int i = 0; i < 3; i++) {
            try (InputStream body = send(c, false).body()) {
                assertThat(new String(body.readAllBytes(), StandardCharsets.UTF_8))
                        .isEqualTo("{}");
            }
        }
        assertThat(accepted).hasValue(1);
    }

    @Test
    void closingAStreamEarlyDropsTheConnectionWithoutWaitingForTheUpstream() throws Exception {
        serve(
                "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
                        + "c\r\nevent: ping\n\n\r\n",
                true);
        Upstream.Response r = send(client(), true);
        InputStream body = r.body();
        assertThat(new String(body.readNBytes(12), StandardCharsets.UTF_8)).isEqualTo("event: ping\n");
        long start = System.nanoTime();
        // The caller left (or a timeout fired): the upstream has sent nothing more and never will.
        body.close();
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
        assertThat(peerClosed.get(10, TimeUnit.SECONDS)).isTrue();
    }
}
