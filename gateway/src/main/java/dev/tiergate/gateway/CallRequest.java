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
 * @param body the body bytes (empty when {@code tooLarge})
 * @param tooLarge whether the body was over the size limit and was not read
 * @param trustedCaller a caller already authenticated by its transport (the in-process API), or null to
 *     authenticate from the headers
 */
record CallRequest(
        Map<String, List<String>> headers, byte[] body, boolean tooLarge, ApiKeys.@Nullable Key trustedCaller) {

    CallRequest {
        Map<String, List<String>> lower = new TreeMap<>();
        headers.forEach((k, v) -> lower.put(k.toLowerCase(Locale.ROOT), List.copyOf(v)));
        headers = java.util.Collections.unmodifiableMap(lower);
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
        return "CallRequest[" + body.length + " bytes]";
    }
}
