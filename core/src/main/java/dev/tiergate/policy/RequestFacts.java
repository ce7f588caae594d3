package dev.tiergate.policy;

import java.util.OptionalLong;

/**
 * What the router needs to know about a request.
 *
 * @param estimatedInputTokens the conservative input estimate, in tokens
 * @param hasRequestedMaxTokens whether the request carried {@code max_tokens}
 * @param requestedMaxTokensValue the request's {@code max_tokens}; meaningful only when present
 */
public record RequestFacts(long estimatedInputTokens, boolean hasRequestedMaxTokens, long requestedMaxTokensValue) {
    public RequestFacts {
        if (estimatedInputTokens < 0) {
            throw new IllegalArgumentException(
                    "estimated input tokens must not be negative, got " + estimatedInputTokens);
        }
    }

    /** A request with {@code max_tokens} set. */
    public static RequestFacts of(long estimatedInputTokens, long requestedMaxTokens) {
        return new RequestFacts(estimatedInputTokens, true, requestedMaxTokens);
    }

    /** A request without {@code max_tokens}: the task type's cap applies. */
    public static RequestFacts withoutMaxTokens(long estimatedInputTokens) {
        return new RequestFacts(estimatedInputTokens, false, 0);
    }

    /** The request's {@code max_tokens}, if it had one. */
    public OptionalLong requestedMaxTokens() {
        return hasRequestedMaxTokens ? OptionalLong.of(requestedMaxTokensValue) : OptionalLong.empty();
    }
}
