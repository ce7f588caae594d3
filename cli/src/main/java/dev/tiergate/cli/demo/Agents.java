package dev.tiergate.cli.demo;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;

/**
 * The demo's agents: N virtual threads taking the day's tasks in order and sending each through the gateway, so at
 * most N calls are in flight. Which agent takes which task varies from run to run; what each task costs does not
 * (its simulator call key is the task id).
 */
final class Agents {

    /** How long the polling thread waits between progress updates. */
    static final Duration PROGRESS_INTERVAL = Duration.ofMillis(250);

    /**
     * What the agents saw.
     *
     * @param completed calls answered 200 and read to the end
     * @param failed calls that were not
     * @param simulatedLatencyMicros for each completed call, the upstream's simulated (uncompressed) latency from
     *     {@code x-tiergate-simulated-latency-ms}; in task order
     * @param unlabelled completed calls whose response did not say {@code x-tiergate-simulated: true}
     * @param firstError the first failure, for the report; empty if none
     */
    record Outcome(int completed, int failed, long[] simulatedLatencyMicros, int unlabelled, String firstError) {}

    private Agents() {}

    static Outcome run(
            List<Workload.Task> tasks,
            Function<Workload.Task, byte[]> body,
            String gatewayUrl,
            String key,
            String runId,
            int agents,
            HttpClient http,
            Progress progress) {
        URI messages = URI.create(gatewayUrl + "/v1/messages");
        long[] latencies = new long[tasks.size()];
        boolean[] ok = new boolean[tasks.size()];
        AtomicInteger next = new AtomicInteger();
        AtomicInteger done = new AtomicInteger();
        AtomicInteger unlabelled = new AtomicInteger();
        AtomicReference<String> firstError = new AtomicReference<>("");
        ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
        try {
            for (int a = 1; a <= agents; a++) {
                String agent = "agent-" + a;
                executor.execute(() -> {
                    for (int i = next.getAndIncrement(); i < tasks.size(); i = next.getAndIncrement()) {
                        Workload.Task task = tasks.get(i);
                        Answer answer = call(http, messages, key, runId, agent, task, body.apply(task));
                        if (answer.error().isEmpty()) {
                            ok[i] = true;
                            latencies[i] = answer.simulatedLatencyMicros();
                            if (!answer.labelledSimulated()) {
                                unlabelled.incrementAndGet();
                            }
                        } else {
                            firstError.compareAndSet("", task.id() + " (" + task.taskType() + "): " + answer.error());
                        }
                        done.incrementAndGet();
                    }
                });
            }
            executor.shutdown();
            while (!executor.awaitTermination(PROGRESS_INTERVAL.toMillis(), TimeUnit.MILLISECONDS)) {
                progress.update(done.get());
            }
        } catch (InterruptedException e) {
            executor.shutdownNow();
            Thread.currentThread().interrupt();
            throw new DemoException("the demo was interrupted", e);
        } finally {
            executor.close();
        }
        int completed = 0;
        for (boolean b : ok) {
            completed += b ? 1 : 0;
        }
        long[] okLatencies = new long[completed];
        for (int i = 0, j = 0; i < tasks.size(); i++) {
            if (ok[i]) {
                okLatencies[j++] = latencies[i];
            }
        }
        return new Outcome(completed, tasks.size() - completed, okLatencies, unlabelled.get(), firstError.get());
    }

    /** One call's answer as the agent saw it; {@code error} is empty when it completed. */
    private record Answer(long simulatedLatencyMicros, boolean labelledSimulated, String error) {
        static Answer failed(String error) {
            return new Answer(0, false, error);
        }
    }

    private static Answer call(
            HttpClient http, URI messages, String key, String runId, String agent, Workload.Task task, byte[] body) {
        HttpRequest.Builder request = HttpRequest.newBuilder(messages)
                .timeout(Duration.ofMinutes(2))
                .header("x-api-key", key)
                .header("anthropic-version", "2023-06-01")
                .header("content-type", "application/json")
                .header("x-tiergate-agent", agent)
                .header("x-tiergate-run", runId)
                .header("x-tiergate-call-key", task.id())
                .POST(HttpRequest.BodyPublishers.ofByteArray(body));
        if (task.classified()) {
            request.header("x-tiergate-task", task.taskType());
        }
        HttpResponse<byte[]> response;
        try {
            response = http.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
        } catch (IOException e) {
            return Answer.failed(e.getClass().getSimpleName() + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Answer.failed("interrupted");
        }
        if (response.statusCode() != 200) {
            return Answer.failed("HTTP " + response.statusCode() + ": " + abbreviate(response.body()));
        }
        // A stream can fail after its 200: only a message_stop says the answer is whole.
        if (task.stream() && !endsWithMessageStop(response.body())) {
            return Answer.failed("stream ended without message_stop: " + abbreviate(response.body()));
        }
        Optional<String> latency = response.headers().firstValue("x-tiergate-simulated-latency-ms");
        if (latency.isEmpty()) {
            return Answer.failed("no x-tiergate-simulated-latency-ms header: not the simulated upstream?");
        }
        boolean labelled = response.headers()
                .firstValue("x-tiergate-simulated")
                .map("true"::equals)
                .orElse(false);
        long micros;
        try {
            // The header is simulated milliseconds with three decimals.
            micros = Math.round(Double.parseDouble(latency.get().trim()) * 1_000);
        } catch (NumberFormatException e) {
            return Answer.failed("x-tiergate-simulated-latency-ms is not a number: " + latency.get());
        }
        return new Answer(micros, labelled, "");
    }

    private static boolean endsWithMessageStop(byte[] body) {
        // message_stop is the last event; look only at the tail instead of decoding the whole stream.
        int from = Math.max(0, body.length - 256);
        return new String(body, from, body.length - from, StandardCharsets.UTF_8).contains("event: message_stop");
    }

    private static String abbreviate(byte[] body) {
        String flat = new String(body, 0, Math.min(body.length, 400), StandardCharsets.UTF_8).replace('\n', ' ');
        return flat.length() <= 200 ? flat : flat.substring(0, 200) + "...";
    }
}
