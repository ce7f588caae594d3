package dev.tiergate.simulator;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tiergate.messages.SseEventReader;
import dev.tiergate.messages.StreamUsageTracker;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.stream.Collectors;

/** Request bodies and response renderings shared by the simulator tests. */
final class Requests {
    static final ObjectMapper JSON = new ObjectMapper();

    private Requests() {}

    static ObjectNode request(String model, long maxTokens, String userText) {
        ObjectNode body = JSON.createObjectNode();
        body.put("model", model).put("max_tokens", maxTokens);
        body.putArray("messages").addObject().put("role", "user").put("content", userText);
        return body;
    }

    static ObjectNode streaming(ObjectNode request) {
        return request.deepCopy().put("stream", true);
    }

    /** Everything a caller could observe of a response, as one string. */
    static String render(SimulatedResponse response) {
        return switch (response) {
            case SimulatedResponse.Message m -> "200 " + m.latency() + " " + m.body();
            case SimulatedResponse.Stream s -> "200 " + s.latency() + " " + wire(s);
            case SimulatedResponse.MidStreamFailure f -> "200 " + f.latency() + " " + wire(f);
            case SimulatedResponse.Failure f ->
                f.status() + " " + f.latency() + " retry-after " + f.retryAfterSeconds() + " " + f.body();
        };
    }

    static String wire(SimulatedResponse response) {
        var events = switch (response) {
            case SimulatedResponse.Stream s -> s.events();
            case SimulatedResponse.MidStreamFailure f -> f.events();
            default -> throw new IllegalArgumentException("not a stream: " + response);
        };
        return events.stream().map(e -> e.delay().toNanos() + "ns " + e.wire()).collect(Collectors.joining());
    }

    /** Reads a stream's bytes with core's reader and tracker, as the gateway would. */
    static StreamUsageTracker track(InputStream in) {
        StreamUsageTracker tracker = new StreamUsageTracker();
        SseEventReader reader = new SseEventReader(in);
        try {
            for (var event = reader.next(); event.isPresent(); event = reader.next()) {
                tracker.accept(event.get());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return tracker;
    }

    static StreamUsageTracker track(SimulatedResponse response) {
        var events = switch (response) {
            case SimulatedResponse.Stream s -> s.events();
            case SimulatedResponse.MidStreamFailure f -> f.events();
            default -> throw new IllegalArgumentException("not a stream: " + response);
        };
        String bytes = events.stream().map(SimulatedResponse.Event::wire).collect(Collectors.joining());
        return track(new ByteArrayInputStream(bytes.getBytes(StandardCharsets.UTF_8)));
    }

    /** The concatenated text of a stream's text deltas. */
    static String streamedText(SimulatedResponse.Stream stream) {
        StringBuilder text = new StringBuilder();
        for (SimulatedResponse.Event e : stream.events()) {
            if (e.name().equals("content_block_delta")) {
                try {
                    text.append(
                            JSON.readTree(e.data()).path("delta").path("text").asText());
                } catch (IOException ex) {
                    throw new UncheckedIOException(ex);
                }
            }
        }
        return text.toString();
    }
}
