package dev.tiergate.ledger;

import dev.tiergate.pricing.Money;
import dev.tiergate.pricing.Usage;

/**
 * How a call ended.
 *
 * @param status ok, upstream error, cancelled, interrupted or denied
 * @param servedModel the model that answered (after fallbacks); the routed model if none did
 * @param usage tokens by billing class, as far as seen
 * @param cost exact cost of {@code usage}; zero when nothing was billed
 * @param latencyMs total time in milliseconds; -1 when not measured
 * @param timeToFirstTokenMs time to the first output token in milliseconds; -1 when not measured
 * @param stopReason the upstream's {@code stop_reason}; empty if none
 * @param errorType an error type such as {@code overloaded_error}; empty when none
 */
public record Outcome(
        CallStatus status,
        String servedModel,
        Usage usage,
        Money cost,
        long latencyMs,
        long timeToFirstTokenMs,
        String stopReason,
        String errorType) {

    /** The {@code stop_reason} of output cut at {@code max_tokens}. */
    public static final String MAX_TOKENS = "max_tokens";

    public Outcome {
        if (cost.isNegative()) {
            throw new IllegalArgumentException("cost must not be negative, got " + cost);
        }
        if (latencyMs < -1 || timeToFirstTokenMs < -1) {
            throw new IllegalArgumentException(
                    "latency must be -1 (not measured) or more, got " + latencyMs + " and " + timeToFirstTokenMs);
        }
    }

    /** A call the upstream answered. */
    public static Outcome ok(
            String servedModel, Usage usage, Money cost, long latencyMs, long timeToFirstTokenMs, String stopReason) {
        return new Outcome(CallStatus.OK, servedModel, usage, cost, latencyMs, timeToFirstTokenMs, stopReason, "");
    }

    /** Whether the output hit the {@code max_tokens} cap. */
    public boolean hitCap() {
        return MAX_TOKENS.equals(stopReason);
    }
}
