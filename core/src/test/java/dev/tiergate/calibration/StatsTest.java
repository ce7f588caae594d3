package dev.tiergate.calibration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class StatsTest {

    @Test
    void normalQuantileMatchesReferenceValues() {
        assertThat(Stats.normalQuantile(0.5)).isEqualTo(0.0);
        assertThat(Stats.normalQuantile(0.95)).isCloseTo(1.6448536269514722, within(1e-12));
        assertThat(Stats.normalQuantile(0.975)).isCloseTo(1.959963984540054, within(1e-12));
        assertThat(Stats.normalQuantile(0.001)).isCloseTo(-3.090232306167813, within(1e-12));
        assertThat(Stats.normalQuantile(1e-10)).isCloseTo(-6.361340902404056, within(1e-9));
    }

    @Test
    void studentTQuantileMatchesReferenceValues() {
        assertThat(Stats.studentTQuantile(0.975, 10)).isCloseTo(2.2281388519649385, within(1e-8));
        assertThat(Stats.studentTQuantile(0.95, 29)).isCloseTo(1.6991270265334972, within(1e-8));
        assertThat(Stats.studentTQuantile(0.95, 1)).isCloseTo(6.313751514675043, within(1e-7));
        assertThat(Stats.studentTQuantile(0.05, 5)).isCloseTo(-2.015048372669157, within(1e-8));
        assertThat(Stats.studentTQuantile(0.975, 1e6)).isCloseTo(1.959963984540054, within(1e-5));
    }

    @Test
    void tangoBoundWithOnlyTiesIsWilsonLikeNotZeroWidth() {
        double z = Stats.normalQuantile(0.95);
        // With no discordant pairs the score bound is -z^2 / (n + z^2), the paired analogue of the rule of three.
        assertThat(Stats.tangoLowerBound(30, 0, 0, z)).isCloseTo(-z * z / (30 + z * z), within(1e-9));
        assertThat(Stats.tangoLowerBound(400, 0, 0, z)).isCloseTo(-z * z / (400 + z * z), within(1e-9));
    }

    @Test
    void tangoBoundIsBelowTheEstimateAndTightensWithN() {
        double z = Stats.normalQuantile(0.95);
        double small = Stats.tangoLowerBound(100, 10, 5, z);
        double large = Stats.tangoLowerBound(1000, 100, 50, z);
        assertThat(small).isLessThan(0.05);
        assertThat(large).isLessThan(0.05).isGreaterThan(small);
        // Close to the Wald bound for large n: 0.05 - z * sqrt((0.15 - 0.0025) / 1000) = 0.03003
        assertThat(large).isCloseTo(0.0300, within(0.002));
        assertThat(Stats.tangoScore(1000, 100, 50, 0.05)).isCloseTo(0.0, within(1e-12));
    }

    @Test
    void wilsonIntervalMatchesTheTextbookValue() {
        double[] w = Stats.wilson(8, 10, Stats.normalQuantile(0.975));
        assertThat(w[0]).isCloseTo(0.4902, within(1e-4));
        assertThat(w[1]).isCloseTo(0.9433, within(1e-4));
    }

    /**
     * 2,000 simulated experiments of paired 0/1 outcomes: the one-sided 95% Tango bound must cover the true
     * difference in about 95% of them. Binomial sd of the coverage over 2,000 runs is 0.005, so [0.93, 0.97] is
     * ~4 sd wide: a wrong quantile (90% or 99%) or an unpaired variance fails it.
     */
    @Test
    void tangoBoundCoversTheTrueDifferenceAtTheStatedRate() {
        assertThat(binaryCoverage(200, 0.06, 0.09, 11)).isBetween(0.93, 0.97);
        // Few discordant pairs, where a Wald or paired-t bound undercovers badly.
        assertThat(binaryCoverage(150, 0.01, 0.03, 12)).isBetween(0.93, 0.975);
    }

    @Test
    void hallBoundCoversSkewedGradedDifferencesAtTheStatedRate() {
        // A plain t bound covers only ~0.93 here and ~0.88 at n = 30: the differences are skewed.
        assertThat(gradedCoverage(100, 0.7, 13, false)).isBetween(0.93, 0.97);
    }

    @Test
    void gradedBoundStaysHonestWhenMostItemsTie() {
        // 90% ties at n = 30: a t bound (plain or Hall) covers under 0.82; the sign floor restores coverage.
        assertThat(gradedCoverage(30, 0.9, 14, false)).isLessThan(0.9);
        assertThat(gradedCoverage(30, 0.9, 14, true)).isGreaterThanOrEqualTo(0.95);
    }

    @Test
    void gradedBoundWithAllTiesFallsBackToTheSignBound() {
        double[] ties = new double[50];
        double z = Stats.normalQuantile(0.95);
        assertThat(Stats.gradedLowerBound(ties, 0.95)).isCloseTo(-z * z / (50 + z * z), within(1e-9));
        assertThat(Stats.hallLowerBound(ties, 0.95)).isEqualTo(0.0);
    }

    /** Fraction of runs where the one-sided 95% bound is at most the true difference p10 - p01. */
    static double binaryCoverage(int n, double p10, double p01, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        double z = Stats.normalQuantile(0.95);
        double truth = p10 - p01;
        int covered = 0;
        int runs = 2000;
        for (int r = 0; r < runs; r++) {
            int better = 0;
            int worse = 0;
            for (int i = 0; i < n; i++) {
                double u = rng.nextDouble();
                if (u < p10) {
                    better++;
                } else if (u < p10 + p01) {
                    worse++;
                }
            }
            covered += Stats.tangoLowerBound(n, better, worse, z) <= truth ? 1 : 0;
        }
        return (double) covered / runs;
    }

    /**
     * Judge-like scores on a 0.0..1.0 grid in steps of 0.1: the current model's score is uniform on {0.5..1.0}; the
     * candidate copies it with probability {@code copy}, else draws uniformly from {0.0..1.0}. True difference:
     * {@code (1 - copy) * (0.5 - 0.75)}.
     *
     * @param withSignFloor {@link Stats#gradedLowerBound} if true, else {@link Stats#hallLowerBound} alone
     */
    static double gradedCoverage(int n, double copy, long seed, boolean withSignFloor) {
        SplittableRandom rng = new SplittableRandom(seed);
        double truth = (1 - copy) * (0.5 - 0.75);
        int covered = 0;
        int runs = 2000;
        for (int r = 0; r < runs; r++) {
            double[] d = new double[n];
            for (int i = 0; i < n; i++) {
                double current = (5 + rng.nextInt(6)) / 10.0;
                double candidate = rng.nextDouble() < copy ? current : rng.nextInt(11) / 10.0;
                d[i] = candidate - current;
            }
            double bound = withSignFloor ? Stats.gradedLowerBound(d, 0.95) : Stats.hallLowerBound(d, 0.95);
            covered += bound <= truth ? 1 : 0;
        }
        return (double) covered / runs;
    }
}
