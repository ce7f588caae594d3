package dev.tiergate.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tiergate.messages.SseEvent;
import dev.tiergate.messages.SseEventReader;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Tiergate as a Java library: the gateway's pipeline (classify, route, cap, reserve, call upstream, settle,
 * record) with no HTTP hop to ourselves. Java agents call {@link #call} or {@link #stream}; agents in other
 * languages use the HTTP gateway, and both share one ledger and one set of budgets.
 *
 * <p>Built from the same {@link GatewayConfig} as the gateway (its keys are not used: an in-process caller is
 * trusted and identified by {@link Caller}). The upstream is the configured one: the Anthropic API over HTTP,
 * or the simulated upstream in process ({@code base_url: simulated}). Thread-safe; share one instance and
 * {@link #close} it at the end.
 */
public final class Tiergate implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Accounting accounting;
    private final MessagesHandler handler;
    private final GatewayConfig config;

    private Tiergate(GatewayConfig config, CallRecorder recorder, Clock clock) {
        this.config = config;
        GatewayMetrics metrics = new GatewayMetrics(config.policy().taskTypes().keySet());
        this.accounting = new Accounting(
                config.budgets(), config.ledger().open(config.instanceId(), clock), metrics, clock, config.lease());
        this.handler = new MessagesHandler(config, Gateway.upstreamFor(config), recorder, metrics, accounting, clock);
    }

    /** Opens Tiergate over {@code config}'s policy, catalog, budgets, ledger and upstream. */
    public static Tiergate open(GatewayConfig config, CallRecorder recorder, Clock clock) {
        return new Tiergate(config, recorder, clock);
    }

    /**
     * Who is calling, for budgets and the ledger.
     *
     * @param name the caller's name (as a gateway key name would be)
     * @param team the team its spend counts against ("" for none)
     * @param runId the workflow run ("" for none)
     * @param agentId the agent ("" for none)
     * @param runBudgetUsd a cap for the run ("" for none), as {@code x-tiergate-run-budget-usd}: it only lowers it
     */
    public record Caller(String name, String team, String runId, String agentId, String runBudgetUsd) {
        /** A caller with just a name. */
        public static Caller named(String name) {
            return new Caller(name, "", "", "", "");
        }

        /** The same caller in a workflow run, as an agent. */
        public Caller inRun(String run, String agent) {
            return new Caller(name, team, run, agent, runBudgetUsd);
        }
    }

    /**
     * The answer to one call.
     *
     * @param status the HTTP status the gateway would have sent (200, or an Anthropic error status)
     * @param headers response headers: {@code x-tiergate-task}, {@code -tier}, {@code -model}, {@code -max-tokens},
     *     {@code -cost-usd} (non-streamed), {@code -request-id}
     * @param body the Messages response, or an Anthropic error object; for streams, the events as received
     */
    public record Response(int status, Map<String, String> headers, JsonNode body) {
        public Response {
            headers = Map.copyOf(headers);
        }

        /** Whether the call succeeded. */
        public boolean ok() {
            return status == 200;
        }

        /** A response header, e.g. {@code x-tiergate-model}. */
        public Optional<String> header(String name) {
            return Optional.ofNullable(headers.get(name));
        }
    }

    /** Sends a Messages request of {@code taskType} and returns the whole answer. */
    public Response call(String taskType, JsonNode messagesRequest, Caller caller) {
        Collecting sink = new Collecting(event -> {});
        handler.messages(request(taskType, messagesRequest, caller, false), sink);
        return sink.response();
    }

    /**
     * Sends a streamed Messages request ({@code stream: true} is set) and hands each SSE event to {@code events}
     * as it arrives. Returns the status and headers; the body holds the last event's data (an {@code error}
     * event's if the stream failed).
     */
    public Response stream(String taskType, JsonNode messagesRequest, Caller caller, Consumer<SseEvent> events) {
        Collecting sink = new Collecting(events);
        handler.messages(request(taskType, messagesRequest, caller, true), sink);
        return sink.response();
    }

    /** The config this instance runs. */
    public GatewayConfig config() {
        return config;
    }

    /** The ledger calls are recorded in. */
    public dev.tiergate.ledger.Ledger ledger() {
        return accounting.ledger();
    }

    @Override
    public void close() {
        handler.close();
        accounting.close();
    }

    private static CallRequest request(String taskType, JsonNode body, Caller caller, boolean stream) {
        JsonNode b = body;
        if (stream && b.isObject()) {
            b = ((com.fasterxml.jackson.databind.node.ObjectNode) body.deepCopy()).put("stream", true);
        }
        Map<String, List<String>> headers = new LinkedHashMap<>();
        headers.put(MessagesHandler.TASK, List.of(taskType));
        if (!caller.runId().isEmpty()) {
            headers.put(MessagesHandler.RUN, List.of(caller.runId()));
        }
        if (!caller.agentId().isEmpty()) {
            headers.put(MessagesHandler.AGENT, List.of(caller.agentId()));
        }
        if (!caller.runBudgetUsd().isEmpty()) {
            headers.put(MessagesHandler.RUN_BUDGET, List.of(caller.runBudgetUsd()));
        }
        byte[] bytes;
        try {
            bytes = JSON.writeValueAsBytes(b);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        ApiKeys.Key key = new ApiKeys.Key(caller.name(), ApiKeys.sha256(caller.name()), caller.team(), "", true);
        return CallRequest.inMemory(headers, bytes, key);
    }

    /** Collects a response; parses streamed bytes into events on every flush (the pipeline flushes per event). */
    private static final class Collecting implements ResponseSink {
        private final Consumer<SseEvent> events;
        private final Map<String, String> headers = new LinkedHashMap<>();
        private final List<SseEvent> seen = new ArrayList<>();
        private int status = 200;
        private byte[] body = new byte[0];

        Collecting(Consumer<SseEvent> events) {
            this.events = events;
        }

        @Override
        public void header(String name, String value) {
            headers.put(name, value);
        }

        @Override
        public void status(int s) {
            status = s;
        }

        @Override
        public void send(byte[] b) {
            body = b;
        }

        @Override
        public OutputStream outputStream() {
            return new ByteArrayOutputStream() {
                @Override
                public synchronized void flush() throws IOException {
                    byte[] pending = toByteArray();
                    int end = lastEventEnd(pending);
                    if (end <= 0) {
                        return;
                    }
                    SseEventReader reader = new SseEventReader(new ByteArrayInputStream(pending, 0, end));
                    for (Optional<SseEvent> e = reader.next(); e.isPresent(); e = reader.next()) {
                        seen.add(e.get());
                        events.accept(e.get());
                    }
                    reset();
                    write(pending, end, pending.length - end);
                }

                @Override
                public void close() throws IOException {
                    flush();
                }
            };
        }

        private static int lastEventEnd(byte[] b) {
            for (int i = b.length - 1; i > 0; i--) {
                if (b[i] == '\n' && b[i - 1] == '\n') {
                    return i + 1;
                }
            }
            return 0;
        }

        Response response() {
            JsonNode json;
            try {
                if (body.length > 0) {
                    json = JSON.readTree(body);
                } else if (!seen.isEmpty()) {
                    json = JSON.readTree(seen.get(seen.size() - 1).data());
                } else {
                    json = JSON.createObjectNode();
                }
            } catch (IOException e) {
                json = JSON.createObjectNode().put("raw", new String(body, StandardCharsets.UTF_8));
            }
            return new Response(status, headers, json);
        }
    }
}
