package dev.tiergate.report;

import dev.tiergate.pricing.Money;
import dev.tiergate.pricing.Usage;
import java.time.Instant;

/**
 * What a report needs to know about one recorded call (a ledger row, reduced).
 *
 * @param startedAt when the call started; days are UTC days of this instant
 * @param taskType the task type as classified
 * @param tier the tier it was routed to; empty if unknown
 * @param model the model that served it (the routed model when none answered)
 * @param usage tokens by billing class, as recorded
 * @param cost the exact cost charged, in nano-USD; for {@link Status#INTERRUPTED} calls the worst case
 * @param status how the call ended
 * @param stopReason the upstream's {@code stop_reason}; empty if none
 * @param maxTokens the effective {@code max_tokens} sent upstream; 0 if unknown
 */
public record CallFacts(
        Instant startedAt,
        String taskType,
        String tier,
        String model,
        Usage usage,
        Money cost,
        Status status,
        String stopReason,
        long maxTokens) {

    /** The {@code stop_reason} of output cut at {@code max_tokens}. */
    public static final String MAX_TOKENS = "max_tokens";

    public CallFacts {
        if (cost.isNegative()) {
            throw new IllegalArgumentException("call cost must not be negative, got " + cost);
        }
        if (maxTokens < 0) {
            throw new IllegalArgumentException("max_tokens must not be negative, got " + maxTokens);
        }
    }

    /** How a call ended; the same set as the ledger's call status. */
    public enum Status {
        /** The upstream answered. */
        OK,
        /** The upstream failed; charged for whatever usage was seen. */
        UPSTREAM_ERROR,
        /** The caller went away; charged for whatever usage was seen. */
        CLIENT_CANCELLED,
        /** In flight when its gateway died: charged at its worst-case reservation, usage unknown. */
        INTERRUPTED,
        /** Refused by a hard budget; never sent upstream, costs nothing. */
        DENIED
    }

    /** Whether the call completed and its output was cut at {@code max_tokens}. */
    public boolean truncated() {
        return status == Status.OK && MAX_TOKENS.equals(stopReason);
    }
}
