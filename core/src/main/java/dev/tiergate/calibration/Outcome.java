package dev.tiergate.calibration;

import dev.tiergate.pricing.Money;

/**
 * One recorded outcome: how well one model answered one query, and what the call cost.
 *
 * @param itemId the query; the same id across models
 * @param taskType the task type of the query
 * @param model the model that answered
 * @param score quality in [0, 1] (1/0 correctness or a graded judge score)
 * @param inputTokens input tokens of the call, {@code >= 0}
 * @param outputTokens output tokens of the call, {@code >= 0}
 * @param cost the cost of the call; an estimate when it comes from list prices and estimated tokens
 */
public record Outcome(
        String itemId, String taskType, String model, double score, long inputTokens, long outputTokens, Money cost) {

    /** Validates every component; throws {@link IllegalArgumentException} naming the bad value. */
    public Outcome {
        if (itemId.isBlank() || taskType.isBlank() || model.isBlank()) {
            throw new IllegalArgumentException("item_id, task_type and model must not be blank: '" + itemId + "', '"
                    + taskType + "', '" + model + "'");
        }
        if (!(score >= 0 && score <= 1)) {
            throw new IllegalArgumentException("score must be in [0, 1]: " + score);
        }
        if (inputTokens < 0 || outputTokens < 0) {
            throw new IllegalArgumentException(
                    "token counts must be >= 0: input " + inputTokens + ", output " + outputTokens);
        }
        if (cost.isNegative()) {
            throw new IllegalArgumentException("cost must be >= 0: " + cost);
        }
    }

    /** Whether the score is exactly 0 or 1. */
    boolean isBinary() {
        return score == 0 || score == 1;
    }
}
