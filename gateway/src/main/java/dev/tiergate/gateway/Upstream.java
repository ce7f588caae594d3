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
            List<String> tried)
            implements Result {
        public Response {
            headers = Map.copyOf(headers);
            tried = List.copyOf(tried);
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
    record Failed(GatewayError.UpstreamFailed error, int attempts, List<String> tried) implements Result {}

    /**
     * Sends {@code path}, trying {@code models} in order.
     *
     * @param bodyFor the request body for a given model (the model is written into it)
     * @param headers headers to forward, already filtered
     * @param deadline no attempt or wait goes past it
     */
    Result send(
            String path,
            List<String> models,
            Function<String, byte[]> bodyFor,
            Map<String, List<String>> headers,
            boolean stream,
            java.time.Instant deadline);
}
