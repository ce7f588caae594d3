package dev.tiergate.gateway;

import io.helidon.common.socket.SocketOptions;
import io.helidon.webclient.api.HttpClientResponse;
import io.helidon.webclient.api.WebClient;
import io.helidon.webclient.http1.Http1Client;
import io.helidon.webclient.http1.Http1ClientRequest;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.locks.LockSupport;

/**
 * What one upstream call costs the gateway's process in CPU with Helidon's own connection cache, which starts a
 * watcher thread for every connection it takes back, against the gateway's pool ({@link UpstreamConnections}), which
 * reuses a connection as it is: sequential POSTs over one kept-alive connection, from one virtual thread, the two
 * ways alternating in rounds in one JVM, so that the machine's drift hits both alike. The server is outside this
 * process (bench/load/fake-upstream.mjs), so the process CPU is the client's alone. (In package
 * {@code dev.tiergate.gateway} to reach the package-private pool; a class of the bench jar, never of the gateway.)
 *
 * <pre>
 * node bench/load/fake-upstream.mjs &amp;   # PORT=19101 by default
 * taskset -c 1 java -cp bench/target/benchmarks.jar dev.tiergate.gateway.UpstreamPoolBench \
 *     --url http://127.0.0.1:19101/v1/messages [--calls 20000] [--rounds 6] [--pace-us 0]
 * </pre>
 */
public final class UpstreamPoolBench {
    private UpstreamPoolBench() {}

    public static void main(String[] args) throws Exception {
        URI url = URI.create("http://127.0.0.1:19101/v1/messages");
        int calls = 20_000;
        int rounds = 6;
        long paceNanos = 0;
        for (int i = 0; i < args.length; i += 2) {
            switch (args[i]) {
                case "--url" -> url = URI.create(args[i + 1]);
                case "--calls" -> calls = Integer.parseInt(args[i + 1]);
                case "--rounds" -> rounds = Integer.parseInt(args[i + 1]);
                case "--pace-us" -> paceNanos = Long.parseLong(args[i + 1]) * 1000;
                default ->
                    throw new IllegalArgumentException(
                            "unknown option " + args[i] + " (--url U, --calls N, --rounds N, --pace-us N)");
            }
        }
        byte[] body =
                "{\"model\":\"claude-haiku-4-5-20251001\",\"max_tokens\":64,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
                        .getBytes(StandardCharsets.UTF_8);
        WebClient client = WebClient.builder()
                .socketOptions(SocketOptions.builder().tcpNoDelay(true).build())
                .keepAlive(true)
                .build();
        Http1Client http1 = client.client(Http1Client.PROTOCOL);
        UpstreamConnections pool = new UpstreamConnections(client, url, UpstreamClient.WATCH_IDLE_AFTER);
        URI target = url;
        int n = calls;
        long pace = paceNanos;
        int roundPairs = rounds;
        Thread.ofVirtual()
                .start(() -> {
                    // warm both paths up before any round counts
                    run(http1, Optional.empty(), target, body, n, pace);
                    run(http1, Optional.of(pool), target, body, n, pace);
                    System.out.println("round\tpool\tcalls\tcpu_us_per_call\twall_us_per_call");
                    for (int r = 0; r < 2 * roundPairs; r++) {
                        Optional<UpstreamConnections> p = r % 2 == 0 ? Optional.empty() : Optional.of(pool);
                        long cpu0 = processCpuNanos();
                        long t0 = System.nanoTime();
                        run(http1, p, target, body, n, pace);
                        long cpu = processCpuNanos() - cpu0;
                        long wall = System.nanoTime() - t0;
                        System.out.printf(
                                "%d\t%s\t%d\t%.1f\t%.1f%n",
                                r / 2 + 1,
                                p.isEmpty() ? "helidon" : "tiergate",
                                n,
                                cpu / 1000.0 / n,
                                wall / 1000.0 / n);
                    }
                })
                .join();
        pool.close();
    }

    private static void run(
            Http1Client http1, Optional<UpstreamConnections> pool, URI url, byte[] body, int calls, long paceNanos) {
        for (int i = 0; i < calls; i++) {
            Http1ClientRequest request = http1.post().uri(url).readTimeout(Duration.ofMinutes(10));
            pool.ifPresent(p -> request.connection(p.borrow()));
            request.header(io.helidon.http.HeaderNames.CONTENT_TYPE, "application/json");
            try (HttpClientResponse response = request.submit(body);
                    InputStream in = response.inputStream()) {
                in.readAllBytes();
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            if (paceNanos > 0) {
                LockSupport.parkNanos(paceNanos);
            }
        }
    }

    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }
}
