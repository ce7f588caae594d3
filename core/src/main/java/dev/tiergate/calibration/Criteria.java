package dev.tiergate.calibration;

/**
 * When a cheaper model may replace the current one.
 *
 * <p>A cheaper model is non-inferior when the one-sided lower confidence bound of {@code quality(candidate) -
 * quality(current)}, on the items both answered, is above {@code -epsilon}, and it has at least {@code minSamples}
 * such items. See {@link Calibration} for the method and {@code docs/calibration.md} for why these defaults.
 *
 * @param epsilon the non-inferiority margin on the quality scale [0, 1] (0.01 = one percentage point)
 * @param confidence the one-sided confidence level 1 - alpha, in (0.5, 1)
 * @param minSamples the fewest paired items a comparison needs before it can change a decision, {@code >= 2}
 */
public record Criteria(double epsilon, double confidence, int minSamples) {

    /** Margin 0.01, one-sided confidence 0.95, at least 30 paired items. */
    public static final Criteria DEFAULT = new Criteria(0.01, 0.95, 30);

    /** Validates the ranges; throws {@link IllegalArgumentException} naming the bad value. */
    public Criteria {
        if (!(epsilon >= 0 && epsilon < 1)) {
            throw new IllegalArgumentException("epsilon must be in [0, 1): " + epsilon);
        }
        if (!(confidence > 0.5 && confidence < 1)) {
            throw new IllegalArgumentException("confidence must be in (0.5, 1): " + confidence);
        }
        if (minSamples < 2) {
            throw new IllegalArgumentException("min-samples must be >= 2: " + minSamples);
        }
    }

    /** alpha = 1 - confidence. */
    public double alpha() {
        return 1 - confidence;
    }
}
