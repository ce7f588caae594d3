package dev.tiergate.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;

/** Renders scripted {@link FakeResponse.Message}s in the Messages wire format, JSON or SSE. */
final class Messages {

    private Messages() {}

    /** The non-streaming response body. */
    static String toJson(FakeResponse.Message message, String model, String id) {
        ObjectNode body = shell(id, model);
        body.withArray("content").addObject().put("type", "text").put("text", message.text());
        body.put("stop_reason", message.stopReason());
        body.set("usage", Wire.requireObject("usage", message.usageJson()));
        return body.toString();
    }

    /**
     * The standard event flow for the same message: {@code message_start} (usage with at most 1 output token),
     * a text block with one delta per word, {@code message_delta} with the full usage, {@code message_stop}.
     */
    static FakeResponse.Stream toStream(FakeResponse.Message message, String model, String id) {
        ObjectNode usage = (ObjectNode) Wire.requireObject("usage", message.usageJson());
        ObjectNode startUsage = usage.deepCopy();
        startUsage.put("output_tokens", Math.min(1, usage.path("output_tokens").asLong(0)));
        ObjectNode start = shell(id, model);
        start.putNull("stop_reason");
        start.set("usage", startUsage);
        return FakeResponse.stream()
                .event("message_start", "{\"type\":\"message_start\",\"message\":" + start + "}")
                .ping()
                .text(words(message.text()).toArray(String[]::new))
                .messageDelta(message.stopReason(), usage.toString())
                .messageStop()
                .build();
    }

    /** A {@code message_start} data string with {@code model} filled in if its message has none. */
    static String withModel(String messageStartData, String model) {
        JsonNode data;
        try {
            data = Wire.JSON.readTree(messageStartData);
        } catch (java.io.IOException e) {
            return messageStartData; // scripted garbage goes out as scripted
        }
        if (data != null && data.path("message") instanceof ObjectNode message && !message.has("model")) {
            message.put("model", model);
            return data.toString();
        }
        return messageStartData;
    }

    private static ObjectNode shell(String id, String model) {
        ObjectNode body = Wire.JSON.createObjectNode();
        body.put("id", id).put("type", "message").put("role", "assistant").put("model", model);
        body.putArray("content");
        body.putNull("stop_sequence");
        return body;
    }

    /** Splits text into words, each keeping the whitespace before it, so the pieces join back exactly. */
    private static List<String> words(String text) {
        List<String> words = new ArrayList<>();
        int start = 0;
        for (int i = 1; i < text.length(); i++) {
            if (Character.isWhitespace(text.charAt(i)) && !Character.isWhitespace(text.charAt(i - 1))) {
                words.add(text.substring(start, i));
                start = i;
            }
        }
        if (start < text.length()) {
            words.add(text.substring(start));
        }
        return words;
    }
}
