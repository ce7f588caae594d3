package dev.tiergate.simulator;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tiergate.pricing.Usage;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** Renders simulated calls in the Messages wire format. Field order is fixed, so output is byte-stable. */
final class Wire {
    static final ObjectMapper JSON = new ObjectMapper();

    // Tokens per content_block_delta: small enough to look like streaming, large enough to keep events few.
    static final int TOKENS_PER_DELTA = 4;

    private Wire() {}

    static String errorBody(String type, String message, String requestId) {
        ObjectNode body = JSON.createObjectNode();
        body.put("type", "error");
        body.putObject("error").put("type", type).put("message", message);
        body.put("request_id", requestId);
        return body.toString();
    }

    /** The non-streamed body: one text block (none when {@code pieces} is empty), stop reason and usage. */
    static String messageBody(String id, String model, List<String> pieces, String stopReason, Usage usage) {
        ObjectNode body = shell(id, model);
        if (!pieces.isEmpty()) {
            body.withArray("content").addObject().put("type", "text").put("text", String.join("", pieces));
        }
        body.put("stop_reason", stopReason);
        body.putNull("stop_sequence");
        body.set("usage", usage(usage, usage.outputTokens()));
        return body.toString();
    }

    /**
     * The stream of a call: {@code message_start} after the time to first token, the text in deltas of
     * {@link #TOKENS_PER_DELTA} pieces each timed by its last token, then either {@code message_delta} and
     * {@code message_stop}, or (when {@code cutAfter} is below the piece count) an {@code error} event after
     * {@code cutAfter} pieces.
     *
     * @param tokenTimes simulated time of each piece (token), from the request; {@code tokenTimes[0]} is the time to
     *     first token; for an empty output a single entry, the time of the (empty) completion
     */
    static List<SimulatedResponse.Event> events(
            String id,
            String model,
            List<String> pieces,
            String stopReason,
            Usage usage,
            long[] tokenTimes,
            int cutAfter) {
        List<SimulatedResponse.Event> events = new ArrayList<>();
        ObjectNode start = shell(id, model);
        start.putNull("stop_reason");
        start.putNull("stop_sequence");
        // message_start carries the input side and at most one output token, like the real API.
        start.set("usage", usage(usage, Math.min(1, usage.outputTokens())));
        ObjectNode startEvent = JSON.createObjectNode().put("type", "message_start");
        startEvent.set("message", start);
        events.add(event(tokenTimes[0], "message_start", startEvent.toString()));
        long previous = tokenTimes[0];
        if (!pieces.isEmpty()) {
            events.add(event(
                    0,
                    "content_block_start",
                    "{\"type\":\"content_block_start\",\"index\":0,"
                            + "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}"));
            events.add(event(0, "ping", "{\"type\":\"ping\"}"));
            int end = Math.min(cutAfter, pieces.size());
            for (int from = 0; from < end; from += TOKENS_PER_DELTA) {
                int to = Math.min(end, from + TOKENS_PER_DELTA);
                ObjectNode delta = JSON.createObjectNode()
                        .put("type", "content_block_delta")
                        .put("index", 0);
                delta.putObject("delta")
                        .put("type", "text_delta")
                        .put("text", String.join("", pieces.subList(from, to)));
                long at = tokenTimes[to - 1];
                events.add(event(at - previous, "content_block_delta", delta.toString()));
                previous = at;
            }
            if (cutAfter < pieces.size()) {
                events.add(event(
                        0,
                        "error",
                        "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\""
                                + "Overloaded (simulated mid-stream failure)\"}}"));
                return events;
            }
            events.add(event(0, "content_block_stop", "{\"type\":\"content_block_stop\",\"index\":0}"));
        }
        ObjectNode messageDelta = JSON.createObjectNode().put("type", "message_delta");
        messageDelta.putObject("delta").put("stop_reason", stopReason).putNull("stop_sequence");
        // message_delta usage is cumulative: it repeats the input side and gives the final output count.
        messageDelta.set("usage", usage(usage, usage.outputTokens()));
        events.add(event(0, "message_delta", messageDelta.toString()));
        events.add(event(0, "message_stop", "{\"type\":\"message_stop\"}"));
        return events;
    }

    private static SimulatedResponse.Event event(long delayNanos, String name, String data) {
        return new SimulatedResponse.Event(Duration.ofNanos(delayNanos), name, data);
    }

    private static ObjectNode shell(String id, String model) {
        ObjectNode body = JSON.createObjectNode();
        body.put("id", id).put("type", "message").put("role", "assistant").put("model", model);
        body.putArray("content");
        return body;
    }

    private static ObjectNode usage(Usage usage, long outputTokens) {
        ObjectNode u = JSON.createObjectNode();
        u.put("input_tokens", usage.inputTokens());
        u.put("cache_creation_input_tokens", usage.cacheWriteTokens());
        u.put("cache_read_input_tokens", usage.cacheReadTokens());
        u.putObject("cache_creation")
                .put("ephemeral_5m_input_tokens", usage.cacheWrite5mTokens())
                .put("ephemeral_1h_input_tokens", usage.cacheWrite1hTokens());
        u.put("output_tokens", outputTokens);
        u.put("service_tier", "standard");
        return u;
    }
}
