package dev.tiergate.gateway;

/**
 * Everything a gateway call can fail with before or instead of an upstream answer. One place
 * ({@link #status()} and {@link #type()}) maps each to an HTTP status and an Anthropic error type.
 */
public sealed interface GatewayError {

    /** What is wrong, for the caller; never contains a credential. */
    String message();

    /** Malformed JSON, wrong field types, a missing field, or a request the policy rejects. */
    record BadRequest(String message) implements GatewayError {}

    /** No gateway key, or an unknown one. */
    record Unauthorized(String message) implements GatewayError {}

    /** The body is over the configured size limit. */
    record TooLarge(String message) implements GatewayError {}

    /** No such endpoint. */
    record NotFound(String message) implements GatewayError {}

    /** A hard budget would be exceeded; the caller must not retry. */
    record BudgetExhausted(String message) implements GatewayError {}

    /** The upstream failed (after retries and fallbacks) with this status and Anthropic error type. */
    record UpstreamFailed(int upstreamStatus, String upstreamType, String message) implements GatewayError {}

    /** The HTTP status the caller gets. */
    default int status() {
        return switch (this) {
            case BadRequest b -> 400;
            case Unauthorized u -> 401;
            case TooLarge t -> 413;
            case NotFound n -> 404;
            case BudgetExhausted b -> 429;
            // Upstream auth problems are the gateway's, not the caller's: never tell an SDK its key is bad.
            case UpstreamFailed u -> u.upstreamStatus() == 401 || u.upstreamStatus() == 403 ? 502 : u.upstreamStatus();
        };
    }

    /** The Anthropic {@code error.type}. */
    default String type() {
        return switch (this) {
            case BadRequest b -> "invalid_request_error";
            case Unauthorized u -> "authentication_error";
            case TooLarge t -> "request_too_large";
            case NotFound n -> "not_found_error";
            case BudgetExhausted b -> "rate_limit_error";
            case UpstreamFailed u ->
                u.upstreamStatus() == 401 || u.upstreamStatus() == 403 ? "api_error" : u.upstreamType();
        };
    }
}
