package dev.tiergate.calibration;

/**
 * Settings of an offline routing evaluation.
 *
 * @param frontier the frontier model: the current model calibration starts from, and the all-frontier baseline
 * @param trainFraction share of each task type's items used to calibrate, in (0, 1); the rest is the test set
 * @param criteria the calibration criteria
 * @param seed the first seed
 * @param seeds how many seeds to run: {@code seed, seed + 1, ..., seed + seeds - 1}
 */
public record EvaluationSettings(String frontier, double trainFraction, Criteria criteria, long seed, int seeds) {

    /** Validates the ranges; throws {@link IllegalArgumentException} naming the bad value. */
    public EvaluationSettings {
        if (frontier.isBlank()) {
            throw new IllegalArgumentException("frontier model must not be blank");
        }
        if (!(trainFraction > 0 && trainFraction < 1)) {
            throw new IllegalArgumentException("train fraction must be in (0, 1): " + trainFraction);
        }
        if (seeds < 1 || seeds > 1000) {
            throw new IllegalArgumentException("seeds must be in [1, 1000]: " + seeds);
        }
    }
}
