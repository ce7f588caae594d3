package dev.tiergate.gateway;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;

/**
 * One call as the pipeline sees it, whatever carried it (HTTP, or a Java caller in process).
 *
 * @param headers request headers, names lower-cased
 * @param body the body, read only when the pipeline asks for it: after the caller is authenticated from the
 *     headers, so that a caller without a valid key never makes the gateway read a body into memory
 * @param trustedCaller a caller already authenticated by its transport (the in-process API), or null to
 *     authenticate from the headers
 */
record CallRequest(Map<String, List<String>> headers, Body body, ApiKeys.@Nullable Key trustedCaller) {

    /** A call's body, read on demand. */
    @FunctionalInterface
    interface Body {
        /**
         * The whole body, or empty if it is larger than the transport's size limit (then it is not kept). Read it
         * at most once: over HTTP this reads the connection.
         */
        Optional<byte[]> readWithinLimit();
    }

    CallRequest {
        Map<String, List<String>> lower = new TreeMap<>();
        headers.forEach((k, v) -> lower.put(k.toLowerCase(Locale.ROOT), List.copyOf(v)));
        headers = java.util.Collections.unmodifiableMap(lower);
    }

    /** A call whose body is already in memory (the in-process API): never over a size limit. */
    static CallRequest inMemory(Map<String, List<String>> headers, byte[] body, ApiKeys.@Nullable Key trustedCaller) {
        return new CallRequest(headers, () -> Optional.of(body), trustedCaller);
    }

    /** The first value of a header, if present. */
    Optional<String> header(String name) {
        List<String> values = headers.get(name);
        return values == null || values.isEmpty() ? Optional.empty() : Optional.of(values.get(0));
    }

    /** The key the caller presented: {@code x-api-key}, else {@code Authorization: Bearer ...}. */
    Optional<String> presentedKey() {
        Optional<String> key = header("x-api-key");
        if (key.isEmpty()) {
            key = header("authorization")
                    .filter(v -> v.regionMatches(true, 0, "Bearer ", 0, 7))
                    .map(v -> v.substring(7).trim());
        }
        return key.filter(k -> !k.isEmpty());
    }

    @Override
    public boolean equals(Object o) {
        return this == o;
    }

    @Override
    public int hashCode() {
        return System.identityHashCode(this);
    }

    @Override
    public String toString() {
        return "CallRequest[" + headers.size() + " headers]";
    }
}
