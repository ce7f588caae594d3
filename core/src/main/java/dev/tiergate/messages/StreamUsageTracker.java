package dev.tiergate.messages;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tiergate.pricing.Usage;
import java.util.Map;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * Follows one Anthropic Messages SSE stream and keeps what settling the call needs: usage, stop reason, served
 * model, message id, and how the stream ended.
 *
 * <p>Usage rules: input and cache counts come from {@code message_start.message.usage}; each {@code message_delta}
 * carries <em>cumulative</em> counts, so its non-null fields overwrite earlier values and its null or missing fields
 * keep them; {@code output_tokens} is therefore the last delta's. {@code ping}, content-block and unknown events do
 * not touch the accounting, and their data is not parsed.
 *
 * <p>Thread-safety: one thread calls {@link #accept}; any thread may read at any time, e.g. from a cancel path, and
 * sees the state after some whole event, never half of one. Each getter reads one immutable {@link Snapshot}; read
 * {@link #snapshot()} once to get several values that belong together.
 */
public final class StreamUsageTracker {

    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * What a {@link StreamUsageTracker} had seen after some whole event. Immutable.
     *
     * <p>A class rather than a record because its absent parts are read as {@link Optional}s, which we never store.
     */
    public static final class Snapshot {
        private final Usage usage;
        private final StreamOutcome.@Nullable UpstreamError error;
        private final @Nullable String messageId;
        private final @Nullable String model;
        private final @Nullable String stopReason;
        private final boolean messageStopped;
        private final long events;

        private Snapshot(
                Usage usage,
                StreamOutcome.@Nullable UpstreamError error,
                @Nullable String messageId,
                @Nullable String model,
                @Nullable String stopReason,
                boolean messageStopped,
                long events) {
            this.usage = usage;
            this.error = error;
            this.messageId = messageId;
            this.model = model;
            this.stopReason = stopReason;
            this.messageStopped = messageStopped;
            this.events = events;
        }

        /** Usage so far, in tokens; {@link Usage#ZERO} before {@code message_start}. */
        public Usage usage() {
            return usage;
        }

        /**
         * How the stream ended, if it ended now: {@link StreamOutcome.UpstreamError} once an {@code error} event
         * arrived, else {@link StreamOutcome.Completed} once {@code message_stop} did, else
         * {@link StreamOutcome.Truncated}.
         */
        public StreamOutcome outcome() {
            if (error != null) {
                return error;
            }
            return messageStopped ? new StreamOutcome.Completed() : new StreamOutcome.Truncated();
        }

        /** The {@code id} from {@code message_start}, e.g. {@code msg_...}. */
        public Optional<String> messageId() {
            return Optional.ofNullable(messageId);
        }

        /** The model that served the call, from {@code message_start}. */
        public Optional<String> model() {
            return Optional.ofNullable(model);
        }

        /** The last non-null {@code message_delta.delta.stop_reason}, e.g. {@code end_turn}. */
        public Optional<String> stopReason() {
            return Optional.ofNullable(stopReason);
        }

        /** Whether {@code message_stop} arrived. */
        public boolean messageStopped() {
            return messageStopped;
        }

        /** Number of events accepted so far, of any type. */
        public long events() {
            return events;
        }

        @Override
        public String toString() {
            return "Snapshot[usage=" + usage + ", outcome=" + outcome() + ", messageId=" + messageId + ", model="
                    + model + ", stopReason=" + stopReason + ", events=" + events + "]";
        }
    }

    // Written only by the accepting thread, and never shared: readers see the Usage parsed from it.
    private final ObjectNode usageJson = JSON.createObjectNode();

    private volatile Snapshot snapshot = new Snapshot(Usage.ZERO, null, null, null, null, false, 0);

    /** A tracker that has seen nothing yet. */
    public StreamUsageTracker() {}

    /**
     * Accepts a parsed event; see {@link #accept(String, String)}. A partial event from a cut stream
     * ({@link SseEvent#complete()} false) is ignored: its data may be cut, and a half-received {@code message_stop}
     * must not mark the stream completed.
     */
    public void accept(SseEvent event) {
        if (event.complete()) {
            accept(event.name(), event.data());
        }
    }

    /**
     * Accepts the next event of the stream.
     *
     * <p>When {@code eventName} is the SSE default {@code message} (no {@code event:} line), the event's JSON
     * {@code type} names it instead.
     *
     * @param eventName the SSE event name, e.g. {@code message_delta}
     * @param data the event's data; a JSON object for the accounting events
     * @throws IllegalArgumentException if an accounting event ({@code message_start}, {@code message_delta},
     *     {@code error}) has data that is not a JSON object or carries an invalid usage count; the tracker is then
     *     unchanged
     */
    public void accept(String eventName, String data) {
        Snapshot before = snapshot;
        String type = eventName;
        JsonNode json = null;
        if (type.equals(SseEvent.DEFAULT_NAME)) {
            json = parseOrNull(data);
            type = json == null ? type : json.path("type").asText("");
        }
        Usage usage = before.usage;
        StreamOutcome.UpstreamError error = before.error;
        String messageId = before.messageId;
        String model = before.model;
        String stopReason = before.stopReason;
        boolean stopped = before.messageStopped;
        switch (type) {
            case "message_start" -> {
                JsonNode message = (json != null ? json : parse(type, data)).path("message");
                usage = mergeUsage(message.path("usage"), usage);
                messageId = textOr(message.path("id"), messageId);
                model = textOr(message.path("model"), model);
            }
            case "message_delta" -> {
                JsonNode delta = json != null ? json : parse(type, data);
                usage = mergeUsage(delta.path("usage"), usage);
                stopReason = textOr(delta.path("delta").path("stop_reason"), stopReason);
            }
            case "message_stop" -> stopped = true;
            case "error" -> {
                JsonNode body = (json != null ? json : parse(type, data)).path("error");
                error = new StreamOutcome.UpstreamError(
                        textOrDefault(body.path("type"), "api_error"), textOrDefault(body.path("message"), ""));
            }
            default -> {
                // ping, content blocks and unknown events: unknown types must be ignored, per the Messages API.
            }
        }
        snapshot = new Snapshot(usage, error, messageId, model, stopReason, stopped, before.events + 1);
    }

    /** Everything seen so far, read consistently. */
    public Snapshot snapshot() {
        return snapshot;
    }

    /** Usage so far, so a cancelled or cut stream can still be costed; see {@link Snapshot#usage()}. */
    public Usage usage() {
        return snapshot.usage();
    }

    /** How the stream ended, if it ended now; see {@link Snapshot#outcome()}. */
    public StreamOutcome outcome() {
        return snapshot.outcome();
    }

    /** The served model from {@code message_start}. */
    public Optional<String> model() {
        return snapshot.model();
    }

    /** The message id from {@code message_start}. */
    public Optional<String> messageId() {
        return snapshot.messageId();
    }

    /** The last stop reason from a {@code message_delta}. */
    public Optional<String> stopReason() {
        return snapshot.stopReason();
    }

    /** Whether {@code message_stop} arrived. */
    public boolean messageStopped() {
        return snapshot.messageStopped();
    }

    /** Merges a usage object into the accumulated one; on an invalid count it throws and nothing changes. */
    private Usage mergeUsage(JsonNode usage, Usage current) {
        if (!usage.isObject()) {
            return current;
        }
        ObjectNode candidate = usageJson.deepCopy();
        overwriteNonNull(candidate, (ObjectNode) usage);
        Usage parsed = Usage.fromJson(candidate);
        usageJson.setAll(candidate);
        return parsed;
    }

    // message_delta usage is cumulative: overwrite, never add; a null field means "unchanged", not zero.
    private static void overwriteNonNull(ObjectNode target, ObjectNode source) {
        for (Map.Entry<String, JsonNode> field : source.properties()) {
            JsonNode value = field.getValue();
            if (value.isNull()) {
                continue;
            }
            if (value instanceof ObjectNode nested && target.get(field.getKey()) instanceof ObjectNode existing) {
                overwriteNonNull(existing, nested);
            } else {
                target.set(field.getKey(), value.deepCopy());
            }
        }
    }

    private static @Nullable String textOr(JsonNode node, @Nullable String fallback) {
        return node.isTextual() ? node.asText() : fallback;
    }

    private static String textOrDefault(JsonNode node, String fallback) {
        return node.isTextual() ? node.asText() : fallback;
    }

    private static @Nullable JsonNode parseOrNull(String data) {
        try {
            JsonNode node = JSON.readTree(data);
            return node != null && node.isObject() ? node : null;
        } catch (JacksonException e) {
            return null;
        }
    }

    private static JsonNode parse(String type, String data) {
        JsonNode node = parseOrNull(data);
        if (node == null) {
            String shown = data.length() > 200 ? data.substring(0, 200) + "..." : data;
            throw new IllegalArgumentException("event '" + type + "' data must be a JSON object, got: " + shown);
        }
        return node;
    }
}
