package dev.tiergate.gateway;

import java.io.InputStream;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * Where calls go: the Anthropic API over HTTP ({@link UpstreamClient}), or the simulated upstream in process.
 * Implementations retry and fall back only before returning a response: what they return is final.
 */
interface Upstream extends AutoCloseable {

    /** Releases what the upstream holds (pooled connections); calls in flight end as they would. */
    @Override
    default void close() {}

    /** The outcome of {@link #send}. */
    sealed interface Result {
        /** How many attempts were made. */
        int attempts();

        /**
         * The models of the attempts that may have been billed without an answer, in order: each was sent, then got
         * no response (the connection lost after the request went out, or no response headers in time). The
         * upstream may have run such an attempt; whether it did cannot be known here.
         */
        List<String> unanswered();
    }

    /**
     * Whether a call tries again after an attempt that may have been billed without an answer (see {@link
     * Result#unanswered}). Asked only when another attempt would follow it.
     */
    @FunctionalInterface
    interface Unanswered {
        /** Tries again: for requests that cost nothing whatever happens to them ({@code count_tokens}). */
        Unanswered TRY_AGAIN = model -> true;

        /** Never tries again after such an attempt: the call ends with its error. */
        Unanswered STOP = model -> false;

        /**
         * @param model the model of the attempt that got no answer
         * @return true if the next attempt may go ahead (its worst case is reserved), false to end the call here
         */
        boolean tryAgainAfter(String model);
    }

    /**
     * An upstream response whose status was not retryable (or retries were exhausted on it).
     *
     * @param status the HTTP status
     * @param headers response headers
     * @param body the body, to be read (and closed) by the caller
     * @param model the model this response came from
     * @param attempts attempts made, this one included
     * @param tried models tried, in order
     */
    record Response(
            int status,
            Map<String, List<String>> headers,
            InputStream body,
            String model,
            int attempts,
            List<String> tried,
            List<String> unanswered)
            implements Result {
        public Response {
            headers = Map.copyOf(headers);
            tried = List.copyOf(tried);
            unanswered = List.copyOf(unanswered);
        }

        /** A response after no attempt that went unanswered. */
        public Response(
                int status,
                Map<String, List<String>> headers,
                InputStream body,
                String model,
                int attempts,
                List<String> tried) {
            this(status, headers, body, model, attempts, tried, List.of());
        }

        /** The first value of a header, case-insensitively. */
        public Optional<String> header(String name) {
            return headers.entrySet().stream()
                    .filter(e ->
                            e.getKey().equalsIgnoreCase(name) && !e.getValue().isEmpty())
                    .map(e -> e.getValue().get(0))
                    .findFirst();
        }
    }

    /** Every attempt failed without a usable response. */
    record Failed(GatewayError.UpstreamFailed error, int attempts, List<String> tried, List<String> unanswered)
            implements Result {
        public Failed {
            tried = List.copyOf(tried);
            unanswered = List.copyOf(unanswered);
        }

        /** A failure with no attempt that went unanswered. */
        public Failed(GatewayError.UpstreamFailed error, int attempts, List<String> tried) {
            this(error, attempts, tried, List.of());
        }
    }

    /**
     * Sends {@code path}, trying {@code models} in order.
     *
     * @param bodyFor the request body for a given model (the model is written into it)
     * @param headers headers to forward, already filtered
     * @param deadline no attempt or wait goes past it
     * @param unanswered asked before trying again after an attempt that may have been billed without an answer
     */
    Result send(
            String path,
            List<String> models,
            Function<String, byte[]> bodyFor,
            Map<String, List<String>> headers,
            boolean stream,
            java.time.Instant deadline,
            Unanswered unanswered);
}
