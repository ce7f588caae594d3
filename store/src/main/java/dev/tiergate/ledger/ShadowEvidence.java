package dev.tiergate.ledger;

import dev.tiergate.pricing.Money;
import java.time.Instant;
import java.util.Locale;

/**
 * One piece of quality evidence about a served call: a judge's pairwise comparison of a cheaper candidate with the
 * served answer (shadow evaluation), or external feedback on the served answer.
 *
 * @param requestId the served call's request id; the evidence item
 * @param recordedAt when the evidence was recorded
 * @param taskType the served call's task type
 * @param source who scored
 * @param served the served model's side; for {@link Source#JUDGE} its score is 1 by convention
 * @param candidate the candidate's side; {@link Side#NONE} for {@link Source#FEEDBACK}
 * @param judgeCost what the judge calls cost (both orders); zero for feedback
 */
public record ShadowEvidence(
        String requestId,
        Instant recordedAt,
        String taskType,
        Source source,
        Side served,
        Side candidate,
        Money judgeCost) {

    public ShadowEvidence {
        if (requestId.isBlank() || taskType.isBlank()) {
            throw new IllegalArgumentException(
                    "evidence needs a request id and a task type, got '" + requestId + "' and '" + taskType + "'");
        }
        if (served.model().isEmpty()) {
            throw new IllegalArgumentException("evidence for " + requestId + " needs the served model");
        }
        if (source == Source.JUDGE && candidate.model().isEmpty()) {
            throw new IllegalArgumentException("judge evidence for " + requestId + " needs a candidate model");
        }
        if (judgeCost.isNegative()) {
            throw new IllegalArgumentException(
                    "judge cost of " + requestId + " must not be negative, got " + judgeCost);
        }
    }

    /** Whether a candidate was compared (judge evidence), as opposed to feedback on the served answer alone. */
    public boolean hasCandidate() {
        return !candidate.model().isEmpty();
    }

    /** Where a score came from. */
    public enum Source {
        /** A judge model compared the candidate with the served answer, in both orders. */
        JUDGE,
        /** {@code POST /admin/feedback} scored the served answer. */
        FEEDBACK;

        /** The stored name: {@code judge} or {@code feedback}. */
        public String wireName() {
            return name().toLowerCase(Locale.ROOT);
        }

        /** The source stored as {@code name}. */
        public static Source fromWireName(String name) {
            return valueOf(name.toUpperCase(Locale.ROOT));
        }
    }

    /**
     * One model's answer to the call and its score.
     *
     * @param model the model; empty only for {@link #NONE}
     * @param score quality in [0, 1]
     * @param inputTokens uncached input tokens of its call
     * @param outputTokens output tokens of its call
     * @param cost exact cost of its call
     */
    public record Side(String model, double score, long inputTokens, long outputTokens, Money cost) {
        /** No candidate. */
        public static final Side NONE = new Side("", 0, 0, 0, Money.ZERO);

        public Side {
            if (!(score >= 0 && score <= 1)) {
                throw new IllegalArgumentException("score of " + model + " must be in [0, 1], got " + score);
            }
            if (inputTokens < 0 || outputTokens < 0 || cost.isNegative()) {
                throw new IllegalArgumentException("tokens and cost of " + model + " must not be negative, got "
                        + inputTokens + ", " + outputTokens + ", " + cost);
            }
        }
    }
}
