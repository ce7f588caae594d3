package dev.tiergate.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * Opens N concurrent streamed calls to a running gateway and samples the gateway's resident memory (Linux
 * {@code /proc/PID/status}) until every stream has ended. Usage: {@code SlowStreams N GATEWAY_PID BASE_URL KEY}.
 * Point the gateway at a slow upstream (e.g. {@code base_url: simulated} with time compression 1) so the
 * streams overlap; see docs/benchmarks.md.
 */
public final class SlowStreams {
    private SlowStreams() {}

    public static void main(String[] args) throws InterruptedException {
        int n = Integer.parseInt(args[0]);
        long pid = Long.parseLong(args[1]);
        String base = args[2];
        String key = args[3];
        HttpClient http =
                HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        AtomicInteger open = new AtomicInteger();
        AtomicInteger completed = new AtomicInteger();
        AtomicInteger failed = new AtomicInteger();
        AtomicInteger peakOpen = new AtomicInteger();
        AtomicLong peakRssKb = new AtomicLong();
        Thread sampler = Thread.ofPlatform().daemon().start(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                peakRssKb.accumulateAndGet(rssKb(pid), Math::max);
                peakOpen.accumulateAndGet(open.get(), Math::max);
                LockSupport.parkNanos(200_000_000L);
            }
        });
        String body = "{\"max_tokens\":2000,\"stream\":true,\"messages\":[{\"role\":\"user\","
                + "\"content\":\"Reconcile the conflicting evidence in these reports.\"}]}";
        long started = System.nanoTime();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int i = 0; i < n; i++) {
                String callKey = "slow-" + i;
                pool.submit(() -> {
                    HttpRequest request = HttpRequest.newBuilder(URI.create(base + "/v1/messages"))
                            .header("x-api-key", key)
                            .header("x-tiergate-task", "synthesis")
                            .header("x-tiergate-call-key", callKey)
                            .POST(HttpRequest.BodyPublishers.ofString(body))
                            .build();
                    try {
                        HttpResponse<InputStream> res = http.send(request, HttpResponse.BodyHandlers.ofInputStream());
                        open.incrementAndGet();
                        boolean stopped = false;
                        try (BufferedReader lines =
                                new BufferedReader(new InputStreamReader(res.body(), StandardCharsets.UTF_8))) {
                            for (String line; (line = lines.readLine()) != null; ) {
                                stopped |= line.contains("message_stop");
                            }
                        } finally {
                            open.decrementAndGet();
                        }
                        (res.statusCode() == 200 && stopped ? completed : failed).incrementAndGet();
                    } catch (IOException e) {
                        failed.incrementAndGet();
                    }
                    return null;
                });
            }
        }
        sampler.interrupt();
        System.out.printf(
                "streams=%d completed=%d failed=%d peak_open=%d peak_gateway_rss_mb=%.1f wall_s=%.1f%n",
                n,
                completed.get(),
                failed.get(),
                peakOpen.get(),
                peakRssKb.get() / 1024.0,
                (System.nanoTime() - started) / 1e9);
    }

    private static long rssKb(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("\\D", ""));
                }
            }
        } catch (IOException | NumberFormatException e) {
            // the process is gone or not Linux: nothing to sample
        }
        return 0;
    }
}
