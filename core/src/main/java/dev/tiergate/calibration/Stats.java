package dev.tiergate.calibration;

/**
 * The statistics calibration needs, written out from first principles so {@code core} stays JDK-only.
 *
 * <p>Two interval methods for a mean paired difference {@code d = candidate - current}, both one-sided lower
 * bounds:
 *
 * <ul>
 *   <li>{@link #tangoLowerBound}: for 0/1 scores, the score interval of Tango (1998) for the difference of
 *       paired proportions. It is the asymptotic score test that non-inferiority trials with matched binary data
 *       use, and Fagerland, Lydersen and Laake (2014, "Recommended tests and confidence intervals for paired
 *       binomial proportions") recommend it. Unlike the Wald or paired-t interval it stays honest when there are
 *       few or no discordant items: with n ties it gives {@code -z^2/(n+z^2)}, not a zero-width interval.
 *   <li>{@link #gradedLowerBound}: for graded scores (e.g. judge score / 10), the smaller of two bounds. First,
 *       Hall's (1992) skewness-corrected t bound on the per-item differences: a plain t bound undercovers badly
 *       here (about 88% at n = 30 in our simulation) because differences are mostly zero with a long tail to one
 *       side. Second, Tango's bound on the signs alone (each strictly better or worse item counted as +1 or -1),
 *       which keeps mostly-tied samples honest where any t bound collapses to zero width. Taking the minimum can
 *       only raise coverage; it is conservative (simulated 0.98 or more) and costs some power on graded scores.
 * </ul>
 *
 * <p>Stateless; all methods are thread-safe.
 */
final class Stats {

    private Stats() {}

    /** Standard normal quantile (Wichura's AS 241, about 1e-16 relative accuracy); {@code p} in (0, 1). */
    static double normalQuantile(double p) {
        if (!(p > 0 && p < 1)) {
            throw new IllegalArgumentException("probability must be in (0, 1): " + p);
        }
        double q = p - 0.5;
        if (Math.abs(q) <= 0.425) {
            double r = 0.180625 - q * q;
            return q
                    * (((((((r * 2509.0809287301227 + 33430.57558358813) * r + 67265.7709270087) * r
                                                                                            + 45921.95393154987)
                                                                                    * r
                                                                            + 13731.69376550946)
                                                                    * r
                                                            + 1971.5909503065513)
                                                    * r
                                            + 133.14166789178438)
                                    * r
                            + 3.3871328727963665)
                    / (((((((r * 5226.495278852546 + 28729.085735721943) * r + 39307.89580009271) * r
                                                                                            + 21213.794301586597)
                                                                                    * r
                                                                            + 5394.196021424751)
                                                                    * r
                                                            + 687.1870074920579)
                                                    * r
                                            + 42.31333070160091)
                                    * r
                            + 1.0);
        }
        double r = q < 0 ? p : 1 - p;
        r = Math.sqrt(-Math.log(r));
        double val;
        if (r <= 5) {
            r -= 1.6;
            val = (((((((r * 0.0007745450142783414 + 0.022723844989269184) * r + 0.2417807251774506) * r
                                                                                            + 1.2704582524523684)
                                                                                    * r
                                                                            + 3.6478483247632045)
                                                                    * r
                                                            + 5.769497221460691)
                                                    * r
                                            + 4.630337846156546)
                                    * r
                            + 1.4234371107496835)
                    / (((((((r * 1.0507500716444169e-09 + 0.0005475938084995345) * r + 0.015198666563616457) * r
                                                                                            + 0.14810397642748008)
                                                                                    * r
                                                                            + 0.6897673349851)
                                                                    * r
                                                            + 1.6763848301838038)
                                                    * r
                                            + 2.053191626637759)
                                    * r
                            + 1.0);
        } else {
            r -= 5;
            val = (((((((r * 2.0103343992922881e-07 + 2.7115555687434876e-05) * r + 0.0012426609473880784) * r
                                                                                            + 0.026532189526576124)
                                                                                    * r
                                                                            + 0.29656057182850487)
                                                                    * r
                                                            + 1.7848265399172913)
                                                    * r
                                            + 5.463784911164114)
                                    * r
                            + 6.657904643501103)
                    / (((((((r * 2.0442631033899397e-15 + 1.421511758316446e-07) * r + 1.8463183175100548e-05) * r
                                                                                            + 0.0007868691311456133)
                                                                                    * r
                                                                            + 0.014875361290850615)
                                                                    * r
                                                            + 0.1369298809227358)
                                                    * r
                                            + 0.599832206555888)
                                    * r
                            + 1.0);
        }
        return q < 0 ? -val : val;
    }

    /** Student t quantile with {@code df} degrees of freedom ({@code df >= 1}); {@code p} in (0, 1). */
    static double studentTQuantile(double p, double df) {
        if (!(p > 0 && p < 1) || !(df >= 1)) {
            throw new IllegalArgumentException("need p in (0, 1) and df >= 1: p=" + p + ", df=" + df);
        }
        if (p == 0.5) {
            return 0;
        }
        if (p < 0.5) {
            return -studentTQuantile(1 - p, df);
        }
        // Bisection on the CDF: slow-ish but simple and exact enough; the t quantile exceeds the normal one.
        double lo = normalQuantile(p);
        double hi = Math.max(2 * lo, 1);
        while (studentTCdf(hi, df) < p) {
            hi *= 2;
        }
        for (int i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
            double mid = (lo + hi) / 2;
            if (studentTCdf(mid, df) < p) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        return (lo + hi) / 2;
    }

    /** Student t cumulative distribution function. */
    static double studentTCdf(double t, double df) {
        double x = df / (df + t * t);
        double tail = 0.5 * regularizedIncompleteBeta(x, df / 2, 0.5);
        return t >= 0 ? 1 - tail : tail;
    }

    /** The regularized incomplete beta function I_x(a, b), by Lentz's continued fraction. */
    static double regularizedIncompleteBeta(double x, double a, double b) {
        if (x <= 0) {
            return 0;
        }
        if (x >= 1) {
            return 1;
        }
        double front = Math.exp(lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log1p(-x));
        // The continued fraction converges fast only for x < (a+1)/(a+b+2); use the symmetry otherwise.
        if (x < (a + 1) / (a + b + 2)) {
            return front * betaContinuedFraction(x, a, b) / a;
        }
        return 1 - front * betaContinuedFraction(1 - x, b, a) / b;
    }

    private static double betaContinuedFraction(double x, double a, double b) {
        final double tiny = 1e-300;
        double c = 1;
        double d = 1 - (a + b) * x / (a + 1);
        d = 1 / (Math.abs(d) < tiny ? tiny : d);
        double h = d;
        for (int m = 1; m <= 10_000; m++) {
            int m2 = 2 * m;
            double aa = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
            d = 1 + aa * d;
            d = 1 / (Math.abs(d) < tiny ? tiny : d);
            c = 1 + aa / c;
            c = Math.abs(c) < tiny ? tiny : c;
            h *= d * c;
            aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
            d = 1 + aa * d;
            d = 1 / (Math.abs(d) < tiny ? tiny : d);
            c = 1 + aa / c;
            c = Math.abs(c) < tiny ? tiny : c;
            double del = d * c;
            h *= del;
            if (Math.abs(del - 1) < 1e-15) {
                break;
            }
        }
        return h;
    }

    /** log Gamma(x) for x > 0 (Lanczos, g = 7, n = 9; about 1e-15 relative accuracy). */
    static double lnGamma(double x) {
        if (x < 0.5) {
            // Reflection keeps the Lanczos series in its accurate range.
            return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lnGamma(1 - x);
        }
        double[] g = {
            0.9999999999998099,
            676.5203681218851,
            -1259.1392167224028,
            771.3234287776531,
            -176.6150291621406,
            12.507343278686905,
            -0.13857109526572012,
            9.984369578019572e-6,
            1.5056327351493116e-7
        };
        double xm1 = x - 1;
        double sum = g[0];
        for (int i = 1; i < g.length; i++) {
            sum += g[i] / (xm1 + i);
        }
        double t = xm1 + 7.5;
        return 0.5 * Math.log(2 * Math.PI) + (xm1 + 0.5) * Math.log(t) - t + Math.log(sum);
    }

    /**
     * One-sided lower confidence bound for {@code p_candidate - p_current} from paired 0/1 outcomes (Tango's score
     * interval).
     *
     * @param n paired items
     * @param better items where the candidate scored 1 and the current model 0
     * @param worse items where the candidate scored 0 and the current model 1
     * @param z the normal quantile of the one-sided confidence level, e.g. 1.645 for 95%
     * @return the bound in [-1, 1]; -1 when {@code n == 0}
     */
    static double tangoLowerBound(int n, int better, int worse, double z) {
        if (n == 0) {
            return -1;
        }
        double estimate = (double) (better - worse) / n;
        if (estimate <= -1) {
            return -1;
        }
        // The score statistic falls from +infinity near -1 to 0 at the estimate: bisect for where it equals z.
        double lo = -1;
        double hi = estimate;
        for (int i = 0; i < 100; i++) {
            double mid = (lo + hi) / 2;
            if (tangoScore(n, better, worse, mid) > z) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        return hi;
    }

    /**
     * Tango's score statistic for H0: p12 - p21 = delta, where p12 is the probability of (candidate 1, current 0)
     * and p21 of (candidate 0, current 1). The variance uses the constrained maximum-likelihood estimate of p21,
     * the positive root of 2n q^2 + B q + C = 0.
     */
    static double tangoScore(int n, int better, int worse, double delta) {
        double b = better;
        double c = worse;
        double bq = -(b + c) + (2.0 * n - b + c) * delta;
        double cq = -c * delta * (1 - delta);
        double q = (-bq + Math.sqrt(Math.max(0, bq * bq - 8.0 * n * cq))) / (4.0 * n);
        double variance = n * (2 * q + delta * (1 - delta));
        double numerator = b - c - n * delta;
        if (variance <= 0) {
            return numerator > 0 ? Double.POSITIVE_INFINITY : numerator < 0 ? Double.NEGATIVE_INFINITY : 0;
        }
        return numerator / Math.sqrt(variance);
    }

    /**
     * One-sided lower bound for the mean of graded paired differences: the smaller of {@link #hallLowerBound} and
     * {@link #tangoLowerBound} on the signs of the differences.
     *
     * @param confidence one-sided level, e.g. 0.95
     * @return the bound in [-1, 1]; -1 with fewer than two differences
     */
    static double gradedLowerBound(double[] differences, double confidence) {
        int n = differences.length;
        if (n < 2) {
            return -1;
        }
        int better = 0;
        int worse = 0;
        for (double d : differences) {
            better += d > 0 ? 1 : 0;
            worse += d < 0 ? 1 : 0;
        }
        double signs = tangoLowerBound(n, better, worse, normalQuantile(confidence));
        return Math.min(hallLowerBound(differences, confidence), signs);
    }

    /**
     * One-sided lower bound for a mean by Hall's (1992) transformation of the t statistic, which corrects the
     * first-order effect of skewness: {@code g(T) = T + a T^2 / 3 + a^2 T^3 / 27 + a / 6} with {@code a =
     * skewness / sqrt(n)} is close to standard normal, and g is monotone with a closed-form inverse.
     *
     * @return the bound clamped to [-1, 1]; the mean itself when all differences are equal
     */
    static double hallLowerBound(double[] differences, double confidence) {
        int n = differences.length;
        MeanSd m = meanSd(differences);
        if (n < 2 || m.sd() == 0) {
            return n < 2 ? -1 : m.mean();
        }
        double m3 = 0;
        for (double d : differences) {
            m3 += Math.pow(d - m.mean(), 3);
        }
        m3 /= n;
        double skewness = m3 / Math.pow(m.sd() * Math.sqrt((n - 1.0) / n), 3);
        double a = skewness / Math.sqrt(n);
        double z = normalQuantile(confidence);
        double t = Math.abs(a) < 1e-12 ? z : 3 / a * (Math.cbrt(1 + a * (z - a / 6)) - 1);
        return Math.max(-1, Math.min(1, m.mean() - t * m.sd() / Math.sqrt(n)));
    }

    /**
     * Two-sided Wilson score interval for a proportion.
     *
     * @return {low, high}; {0, 1} when {@code n == 0}
     */
    static double[] wilson(int successes, int n, double z) {
        if (n == 0) {
            return new double[] {0, 1};
        }
        double p = (double) successes / n;
        double z2 = z * z;
        double centre = (p + z2 / (2 * n)) / (1 + z2 / n);
        double half = z / (1 + z2 / n) * Math.sqrt(p * (1 - p) / n + z2 / (4.0 * n * n));
        return new double[] {Math.max(0, centre - half), Math.min(1, centre + half)};
    }

    /** Sample mean and standard deviation (n - 1 denominator; 0 for fewer than two values). */
    static MeanSd meanSd(double[] values) {
        int n = values.length;
        if (n == 0) {
            return new MeanSd(0, 0);
        }
        double mean = 0;
        for (double v : values) {
            mean += v;
        }
        mean /= n;
        double ss = 0;
        for (double v : values) {
            ss += (v - mean) * (v - mean);
        }
        return new MeanSd(mean, n < 2 ? 0 : Math.sqrt(ss / (n - 1)));
    }

    record MeanSd(double mean, double sd) {}
}
