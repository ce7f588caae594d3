package dev.tiergate.simulator;

import dev.tiergate.pricing.Usage;
import java.time.Duration;
import java.util.List;
import java.util.OptionalLong;

/**
 * The outcome of one simulated Messages call, rendered in Anthropic's wire format. Immutable.
 *
 * <p>Consume with an exhaustive {@code switch}. Every JSON text in it is fixed by the seed and the call key, so two
 * equal responses are byte-identical. Latencies are simulated (not compressed): record them as the call's latency,
 * and wait {@link SimulatedUpstream#wallTime(Duration)} of them if the caller should feel time pass.
 */
public sealed interface SimulatedResponse {

    /** The HTTP status the call gets: 200 for messages and streams (also one that fails mid-stream). */
    int status();

    /** The model the request named. */
    String model();

    /** The task type the output length was drawn for. */
    String taskType();

    /** Simulated time to first token and total time. */
    Latency latency();

    /**
     * Simulated timing of a call.
     *
     * @param timeToFirstToken until the first output token (for a failure: until the error response)
     * @param total until the last byte
     */
    record Latency(Duration timeToFirstToken, Duration total) {
        public Latency {
            if (timeToFirstToken.isNegative() || total.compareTo(timeToFirstToken) < 0) {
                throw new IllegalArgumentException("latency must have 0 <= time to first token <= total, got "
                        + timeToFirstToken + " and " + total);
            }
        }
    }

    /**
     * One server-sent event and the simulated time since the previous one (or since the request, for the first).
     *
     * @param delay simulated wait before this event is sent
     * @param name the SSE event name, e.g. {@code content_block_delta}
     * @param data the JSON data, one line
     */
    record Event(Duration delay, String name, String data) {
        public Event {
            if (delay.isNegative()) {
                throw new IllegalArgumentException("event delay must not be negative, got " + delay);
            }
            if (name.contains("\n") || data.contains("\n")) {
                throw new IllegalArgumentException("event name and data must be single lines");
            }
        }

        /** The event as sent: {@code event:} and {@code data:} lines and the blank line that ends it. */
        public String wire() {
            return "event: " + name + "\ndata: " + data + "\n\n";
        }
    }

    /**
     * A complete non-streamed message.
     *
     * @param id the message id, {@code msg_sim_...}
     * @param body the JSON response body
     * @param usage the usage the body reports
     * @param stopReason {@code end_turn}, or {@code max_tokens} when the request's cap cut the output
     */
    record Message(
            String model, String taskType, String id, String body, Usage usage, String stopReason, Latency latency)
            implements SimulatedResponse {
        @Override
        public int status() {
            return 200;
        }
    }

    /**
     * A complete streamed message: {@code message_start}, one text block, {@code message_delta},
     * {@code message_stop}.
     *
     * @param id the message id, {@code msg_sim_...}
     * @param events the SSE events in order, each with its simulated delay; the delays add up to
     *     {@link Latency#total()}
     * @param usage the usage the final {@code message_delta} reports (the same as the non-streamed call's)
     * @param stopReason as for {@link Message}
     */
    record Stream(
            String model,
            String taskType,
            String id,
            List<Event> events,
            Usage usage,
            String stopReason,
            Latency latency)
            implements SimulatedResponse {
        public Stream {
            events = List.copyOf(events);
        }

        @Override
        public int status() {
            return 200;
        }
    }

    /**
     * A stream that starts with HTTP 200 and some text, then sends an {@code error} event and ends without
     * {@code message_delta} or {@code message_stop}.
     *
     * @param id the message id, {@code msg_sim_...}
     * @param events the SSE events in order, the last one {@code error}
     * @param usage the usage the stream reported before the error ({@code message_start}'s)
     * @param outputTokensBeforeError tokens sent as text before the error
     * @param errorType the error event's type, {@code overloaded_error}
     */
    record MidStreamFailure(
            String model,
            String taskType,
            String id,
            List<Event> events,
            Usage usage,
            long outputTokensBeforeError,
            String errorType,
            Latency latency)
            implements SimulatedResponse {
        public MidStreamFailure {
            events = List.copyOf(events);
        }

        @Override
        public int status() {
            return 200;
        }
    }

    /**
     * An error response before any output: an injected 429 or 529, or a 400 for a bad request.
     *
     * @param status the HTTP status: 400, 429 or 529
     * @param errorType Anthropic's error type: {@code invalid_request_error}, {@code rate_limit_error},
     *     {@code overloaded_error}
     * @param message a human-readable message; for a 400 it names the field
     * @param requestId the {@code request_id} of the body and {@code request-id} header, {@code req_sim_...}
     * @param retryAfterSeconds the {@code retry-after} header; 0 sends none
     */
    record Failure(
            String model,
            String taskType,
            int status,
            String errorType,
            String message,
            String requestId,
            long retryAfterSeconds,
            Latency latency)
            implements SimulatedResponse {
        public Failure {
            if (status < 400 || status > 599) {
                throw new IllegalArgumentException("failure status must be 4xx or 5xx, got " + status);
            }
            if (retryAfterSeconds < 0) {
                throw new IllegalArgumentException("retry-after must not be negative, got " + retryAfterSeconds);
            }
        }

        /** The {@code retry-after} header value in seconds, if one is sent. */
        public OptionalLong retryAfter() {
            return retryAfterSeconds > 0 ? OptionalLong.of(retryAfterSeconds) : OptionalLong.empty();
        }

        /** The JSON error body, in Anthropic's shape. */
        public String body() {
            return Wire.errorBody(errorType, message, requestId);
        }
    }
}
