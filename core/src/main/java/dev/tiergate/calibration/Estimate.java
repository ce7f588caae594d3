package dev.tiergate.calibration;

/**
 * A mean quality with a two-sided confidence interval.
 *
 * @param mean the sample mean in [0, 1]
 * @param low the lower end of the interval
 * @param high the upper end of the interval
 * @param n the number of scores; 0 gives the uninformative interval [0, 1]
 */
public record Estimate(double mean, double low, double high, int n) {

    /** Validates {@code low <= mean <= high} and {@code n >= 0}. */
    public Estimate {
        if (n < 0 || !(low <= mean + 1e-12 && mean <= high + 1e-12)) {
            throw new IllegalArgumentException(
                    "need low <= mean <= high and n >= 0: " + low + ", " + mean + ", " + high + ", n=" + n);
        }
    }

    /** The estimate of no scores at all: mean 0, interval [0, 1]. */
    static Estimate none() {
        return new Estimate(0, 0, 1, 0);
    }

    /**
     * The mean of {@code scores} with a two-sided interval at {@code confidence}: Wilson when every score is 0 or 1,
     * Student t otherwise (clamped to [0, 1]).
     */
    static Estimate of(double[] scores, double confidence) {
        int n = scores.length;
        if (n == 0) {
            return none();
        }
        double z = Stats.normalQuantile(1 - (1 - confidence) / 2);
        boolean binary = true;
        int ones = 0;
        for (double s : scores) {
            binary &= s == 0 || s == 1;
            ones += s == 1 ? 1 : 0;
        }
        if (binary) {
            double[] w = Stats.wilson(ones, n, z);
            return new Estimate((double) ones / n, Math.min(w[0], (double) ones / n), w[1], n);
        }
        Stats.MeanSd m = Stats.meanSd(scores);
        if (n < 2) {
            return new Estimate(m.mean(), 0, 1, n);
        }
        double half = Stats.studentTQuantile(1 - (1 - confidence) / 2, n - 1) * m.sd() / Math.sqrt(n);
        return new Estimate(m.mean(), Math.max(0, m.mean() - half), Math.min(1, m.mean() + half), n);
    }
}
