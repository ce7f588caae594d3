package dev.tiergate.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tiergate.messages.RequestJson;
import dev.tiergate.simulator.SimulatedResponse;
import dev.tiergate.simulator.SimulatedUpstream;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The simulated upstream in process, with no HTTP hop: the same deterministic answers {@code tiergate
 * simulate-upstream} gives, as bytes the pipeline reads exactly like a real response. Stream events arrive
 * with the simulator's (time-compressed) delays. 429 and 529 are retried on the same model, then the next
 * fallback, like the HTTP client does (without waiting out {@code retry-after}: simulated time is not worth
 * real seconds). Every body says it is simulated.
 */
final class SimulatedUpstreamAdapter implements Upstream {
    private static final ObjectMapper JSON = RequestJson.mapper();

    private final SimulatedUpstream simulator;
    private final int maxRetries;

    SimulatedUpstreamAdapter(SimulatedUpstream simulator, int maxRetries) {
        this.simulator = simulator;
        this.maxRetries = maxRetries;
    }

    @Override
    public Result send(
            String path,
            List<String> models,
            Function<String, byte[]> bodyFor,
            Map<String, List<String>> headers,
            boolean stream,
            Instant deadline,
            Unanswered gate) {
        // in process: every attempt is answered, so the gate is never asked
        String taskType = headers.getOrDefault(MessagesHandler.TASK, List.of("unclassified"))
                .get(0);
        List<String> callKey = headers.getOrDefault(MessagesHandler.CALL_KEY, List.of());
        int attempts = 0;
        List<String> tried = new ArrayList<>();
        GatewayError.UpstreamFailed last = new GatewayError.UpstreamFailed(502, "api_error", "no model to try");
        for (String model : models) {
            tried.add(model);
            JsonNode request;
            try {
                request = JSON.readTree(bodyFor.apply(model));
            } catch (IOException e) {
                throw new IllegalStateException("the gateway produced an unreadable body", e);
            }
            for (int retry = 0; retry <= maxRetries; retry++) {
                attempts++;
                if (path.endsWith("/count_tokens")) {
                    byte[] body = ("{\"input_tokens\":" + simulator.countTokens(request) + "}")
                            .getBytes(StandardCharsets.UTF_8);
                    return new Response(200, LABEL, new ByteArrayInputStream(body), model, attempts, tried);
                }
                // A call key makes the same task draw the same answer under every policy (the demo relies on it).
                SimulatedResponse answer = callKey.isEmpty()
                        ? simulator.respond(request, taskType)
                        : simulator.respond(request, taskType, callKey.get(0));
                switch (answer) {
                    case SimulatedResponse.Message m -> {
                        pause(m.latency().total());
                        return new Response(200, json(m), bytes(m.body()), model, attempts, tried);
                    }
                    case SimulatedResponse.Stream s -> {
                        return new Response(200, sse(s), new EventStream(s.events()), model, attempts, tried);
                    }
                    case SimulatedResponse.MidStreamFailure f -> {
                        return new Response(200, sse(f), new EventStream(f.events()), model, attempts, tried);
                    }
                    case SimulatedResponse.Failure f -> {
                        if (!UpstreamClient.isRetryable(f.status())) {
                            return new Response(f.status(), json(f), bytes(f.body()), model, attempts, tried);
                        }
                        last = new GatewayError.UpstreamFailed(
                                f.status(),
                                f.errorType(),
                                "simulated upstream " + model + " answered " + f.status() + " after " + attempts
                                        + " attempt(s): " + f.message());
                    }
                }
            }
        }
        return new Failed(last, attempts, tried);
    }

    private static final Map<String, List<String>> LABEL =
            Map.of("content-type", List.of("application/json"), "x-tiergate-simulated", List.of("true"));

    /** The simulator's labels, as its HTTP server sends them: simulated, with uncompressed latencies. */
    private static Map<String, List<String>> json(SimulatedResponse r) {
        return labels("application/json", r);
    }

    private static Map<String, List<String>> sse(SimulatedResponse r) {
        return labels("text/event-stream", r);
    }

    private static Map<String, List<String>> labels(String contentType, SimulatedResponse r) {
        return Map.of(
                "content-type", List.of(contentType),
                "x-tiergate-simulated", List.of("true"),
                "x-tiergate-simulated-ttft-ms",
                        List.of(Long.toString(r.latency().timeToFirstToken().toMillis())),
                "x-tiergate-simulated-latency-ms",
                        List.of(Long.toString(r.latency().total().toMillis())));
    }

    private void pause(Duration simulated) {
        Duration wait = simulator.wallTime(simulated);
        if (!wait.isZero()) {
            java.util.concurrent.locks.LockSupport.parkNanos(wait.toNanos());
        }
    }

    private static InputStream bytes(String s) {
        return new ByteArrayInputStream(s.getBytes(StandardCharsets.UTF_8));
    }

    /** Serves events one at a time, waiting each event's (time-compressed) delay first, as a slow upstream would. */
    private final class EventStream extends InputStream {
        private final Iterator<SimulatedResponse.Event> events;
        private byte[] current = new byte[0];
        private int pos;
        private volatile boolean closed;

        EventStream(List<SimulatedResponse.Event> events) {
            this.events = events.iterator();
        }

        private boolean fill() throws IOException {
            while (pos >= current.length) {
                if (closed) {
                    throw new IOException("stream closed");
                }
                if (!events.hasNext()) {
                    return false;
                }
                SimulatedResponse.Event e = events.next();
                Duration wait = simulator.wallTime(e.delay());
                if (!wait.isZero()) {
                    java.util.concurrent.locks.LockSupport.parkNanos(wait.toNanos());
                }
                current = e.wire().getBytes(StandardCharsets.UTF_8);
                pos = 0;
            }
            return true;
        }

        @Override
        public int read() throws IOException {
            if (!fill()) {
                return -1;
            }
            return current[pos++] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) {
                return 0;
            }
            if (!fill()) {
                return -1;
            }
            int n = Math.min(len, current.length - pos);
            System.arraycopy(current, pos, b, off, n);
            pos += n;
            return n;
        }

        @Override
        public void close() {
            closed = true;
        }
    }
}
