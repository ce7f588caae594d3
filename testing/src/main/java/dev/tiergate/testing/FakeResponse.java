package dev.tiergate.testing;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

/**
 * A scripted answer of {@link FakeAnthropic} to one request. Immutable; reusable as a default.
 *
 * <ul>
 *   <li>{@link Message}: a 200 Messages response built from text, usage and stop reason; answers a streaming request
 *       ({@code "stream": true}) with the standard event flow for the same content.
 *   <li>{@link Json}: any status, JSON body and headers, e.g. {@link #error(int, String, String)} for 429/529/500.
 *   <li>{@link Stream}: an SSE response played step by step, see {@link #stream()}.
 *   <li>{@link TokenCount}: a {@code count_tokens} answer.
 *   <li>{@link Reset}: a connection reset, optionally after some bytes.
 *   <li>{@link Silence}: no answer at all, then the connection closed.
 * </ul>
 */
public sealed interface FakeResponse {

    /** Usage used when a script gives none: 10 input tokens, 5 output tokens, nothing cached. */
    String DEFAULT_USAGE = usage(10, 5);

    /** A 200 JSON message with {@code text}, {@link #DEFAULT_USAGE}, {@code end_turn}, echoing the model. */
    static Message message(String text) {
        return new Message("", text, DEFAULT_USAGE, "end_turn");
    }

    /** A JSON response with this status and body. */
    static Json json(int status, String body) {
        return new Json(status, body, Map.of());
    }

    /**
     * An Anthropic error response: {@code {"type":"error","error":{"type":..,"message":..},"request_id":..}}.
     *
     * @param status e.g. 429, 500, 529
     * @param type e.g. {@code rate_limit_error}, {@code api_error}, {@code overloaded_error}
     */
    static Json error(int status, String type, String message) {
        ObjectNode body = Wire.JSON.createObjectNode();
        body.put("type", "error");
        body.putObject("error").put("type", type).put("message", message);
        body.put("request_id", "req_fake_error");
        return json(status, body.toString());
    }

    /** A {@code count_tokens} answer: {@code {"input_tokens": n}}. */
    static TokenCount tokenCount(long inputTokens) {
        return new TokenCount(inputTokens);
    }

    /** Resets the connection (TCP RST) as soon as the request is read, sending nothing. */
    static Reset reset() {
        return new Reset("");
    }

    /** Sends {@code partial} (UTF-8, e.g. half a status line or headers), then resets the connection. */
    static Reset resetAfter(String partial) {
        return new Reset(partial);
    }

    /**
     * Answers nothing at all, not even a status line, for up to {@code limit}, then closes the connection; ends
     * sooner if the client closes it: an upstream that took the request and stalls.
     */
    static Silence silence(Duration limit) {
        return new Silence(limit);
    }

    /** A builder for an SSE stream; see {@link StreamBuilder}. */
    static StreamBuilder stream() {
        return new StreamBuilder();
    }

    /**
     * An Anthropic usage object as JSON, with explicit zero cache counts.
     *
     * @param inputTokens uncached input tokens
     * @param outputTokens output tokens
     */
    static String usage(long inputTokens, long outputTokens) {
        return "{\"input_tokens\":" + inputTokens + ",\"cache_creation_input_tokens\":0,"
                + "\"cache_read_input_tokens\":0,\"output_tokens\":" + outputTokens + "}";
    }

    /**
     * A 200 Messages response.
     *
     * @param model the served model; empty means "echo the request's {@code model}"
     * @param text the single text block's text
     * @param usageJson the {@code usage} object as JSON
     * @param stopReason e.g. {@code end_turn}, {@code max_tokens}
     */
    record Message(String model, String text, String usageJson, String stopReason) implements FakeResponse {
        public Message {
            Wire.requireObject("usage", usageJson);
        }

        /** The same message served as {@code model}. */
        public Message withModel(String model) {
            return new Message(model, text, usageJson, stopReason);
        }

        /** The same message with this usage object (JSON). */
        public Message withUsage(String usageJson) {
            return new Message(model, text, usageJson, stopReason);
        }

        /** The same message with plain input and output token counts. */
        public Message withUsage(long inputTokens, long outputTokens) {
            return withUsage(usage(inputTokens, outputTokens));
        }

        /** The same message with this stop reason. */
        public Message withStopReason(String stopReason) {
            return new Message(model, text, usageJson, stopReason);
        }
    }

    /**
     * Any status with a JSON body. {@code content-type: application/json} and {@code request-id} are added unless
     * {@code headers} has them.
     *
     * @param headers extra response headers; names are lower-cased
     */
    record Json(int status, String body, Map<String, String> headers) implements FakeResponse {
        public Json {
            Wire.requireStatus(status);
            headers = Wire.lowerCaseKeys(headers);
        }

        /** The same response with one more header, e.g. {@code retry-after: 1} or {@code x-should-retry: false}. */
        public Json withHeader(String name, String value) {
            Map<String, String> more = new LinkedHashMap<>(headers);
            more.put(name.toLowerCase(Locale.ROOT), value);
            return new Json(status, body, more);
        }
    }

    /**
     * An SSE response: status 200, {@code content-type: text/event-stream}, chunked, then {@code steps} in order.
     *
     * @param headers extra response headers; names are lower-cased
     */
    record Stream(List<StreamStep> steps, Map<String, String> headers) implements FakeResponse {
        public Stream {
            steps = List.copyOf(steps);
            headers = Wire.lowerCaseKeys(headers);
        }
    }

    /** A {@code count_tokens} answer, {@code {"input_tokens": inputTokens}}. */
    record TokenCount(long inputTokens) implements FakeResponse {
        public TokenCount {
            if (inputTokens < 0) {
                throw new IllegalArgumentException("input_tokens must not be negative, got " + inputTokens);
            }
        }
    }

    /**
     * Sends {@code partial} (may be empty), then closes the connection with SO_LINGER 0, so the client gets a TCP
     * RST and an {@link java.io.IOException}.
     */
    record Reset(String partial) implements FakeResponse {}

    /** No answer for up to {@code limit}, then the connection closed; see {@link #silence}. */
    record Silence(Duration limit) implements FakeResponse {}

    /**
     * Builds a {@link Stream}. Typical flow:
     *
     * <pre>{@code
     * FakeResponse.stream()
     *     .messageStart(FakeResponse.usage(25, 1))
     *     .text("Hel", "lo")
     *     .messageDelta("end_turn", "{\"input_tokens\":null,\"output_tokens\":15}")
     *     .messageStop()
     *     .build();
     * }</pre>
     *
     * Not thread-safe; build on the test thread.
     */
    final class StreamBuilder {
        private final List<StreamStep> steps = new ArrayList<>();
        private final Map<String, String> headers = new LinkedHashMap<>();
        private Duration eventDelay = Duration.ZERO;
        private String model = "";
        private String messageId = "msg_fake_stream";
        private int nextBlockIndex;

        private StreamBuilder() {}

        /** The model in later {@link #messageStart}; by default the request's model is echoed. */
        public StreamBuilder model(String model) {
            this.model = model;
            return this;
        }

        /** The message id in later {@link #messageStart}; default {@code msg_fake_stream}. */
        public StreamBuilder messageId(String messageId) {
            this.messageId = messageId;
            return this;
        }

        /** Waits this long before each later event (real time: keep it short). */
        public StreamBuilder eventDelay(Duration delay) {
            if (delay.isNegative()) {
                throw new IllegalArgumentException("event delay must not be negative, got " + delay);
            }
            this.eventDelay = delay;
            return this;
        }

        /** One more response header. */
        public StreamBuilder header(String name, String value) {
            headers.put(name.toLowerCase(Locale.ROOT), value);
            return this;
        }

        /** {@code message_start} carrying this initial usage (JSON) and an empty content list. */
        public StreamBuilder messageStart(String usageJson) {
            ObjectNode data = Wire.JSON.createObjectNode().put("type", "message_start");
            ObjectNode message = data.putObject("message")
                    .put("id", messageId)
                    .put("type", "message")
                    .put("role", "assistant");
            if (!model.isEmpty()) {
                message.put("model", model);
            }
            message.putArray("content");
            message.putNull("stop_reason");
            message.putNull("stop_sequence");
            message.set("usage", Wire.requireObject("usage", usageJson));
            return event("message_start", data.toString());
        }

        /** One text block: {@code content_block_start}, a {@code text_delta} per chunk, {@code content_block_stop}. */
        public StreamBuilder text(String... chunks) {
            int index = nextBlockIndex++;
            ObjectNode start = Wire.JSON.createObjectNode().put("type", "content_block_start");
            start.put("index", index)
                    .putObject("content_block")
                    .put("type", "text")
                    .put("text", "");
            event("content_block_start", start.toString());
            for (String chunk : chunks) {
                ObjectNode delta = Wire.JSON.createObjectNode().put("type", "content_block_delta");
                delta.put("index", index)
                        .putObject("delta")
                        .put("type", "text_delta")
                        .put("text", chunk);
                event("content_block_delta", delta.toString());
            }
            return event("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":" + index + "}");
        }

        /**
         * {@code message_delta} with this stop reason and <em>cumulative</em> usage (JSON; fields may be
         * {@code null}, as the real API sends them).
         */
        public StreamBuilder messageDelta(String stopReason, String usageJson) {
            ObjectNode data = Wire.JSON.createObjectNode().put("type", "message_delta");
            data.putObject("delta").put("stop_reason", stopReason).putNull("stop_sequence");
            data.set("usage", Wire.requireObject("usage", usageJson));
            return event("message_delta", data.toString());
        }

        /** {@code message_stop}. */
        public StreamBuilder messageStop() {
            return event("message_stop", "{\"type\":\"message_stop\"}");
        }

        /** {@code ping}; allowed anywhere in a stream. */
        public StreamBuilder ping() {
            return event("ping", "{\"type\": \"ping\"}");
        }

        /** A mid-stream {@code error} event, e.g. {@code overloaded_error}; usually followed by nothing. */
        public StreamBuilder error(String type, String message) {
            ObjectNode data = Wire.JSON.createObjectNode().put("type", "error");
            data.putObject("error").put("type", type).put("message", message);
            return event("error", data.toString());
        }

        /** Any event, e.g. an unknown type clients must ignore. */
        public StreamBuilder event(String name, String data) {
            if (!eventDelay.isZero()) {
                steps.add(new StreamStep.Pause(eventDelay));
            }
            steps.add(new StreamStep.Event(name, data));
            return this;
        }

        /** Raw characters, verbatim, e.g. half an event before a {@link #disconnect()}. */
        public StreamBuilder bytes(String text) {
            steps.add(new StreamStep.Bytes(text));
            return this;
        }

        /** Waits this long, in real time. */
        public StreamBuilder pause(Duration duration) {
            steps.add(new StreamStep.Pause(duration));
            return this;
        }

        /** Holds the stream here until the test counts {@code gate} down (or the client leaves). */
        public StreamBuilder await(CountDownLatch gate) {
            steps.add(new StreamStep.Await(gate));
            return this;
        }

        /** Resets the connection here (TCP RST); later steps are never played. */
        public StreamBuilder reset() {
            steps.add(new StreamStep.Reset());
            return this;
        }

        /** Closes the connection here without ending the chunked body; later steps are never played. */
        public StreamBuilder disconnect() {
            steps.add(new StreamStep.Disconnect());
            return this;
        }

        /** The stream so far. The builder can go on, e.g. to build a longer variant. */
        public Stream build() {
            return new Stream(steps, headers);
        }
    }
}
