package dev.tiergate.pricing;

import java.math.BigDecimal;

/**
 * An exact non-negative multiplier {@code numerator / denominator}, e.g. the batch discount 1/2 or the
 * {@code inference_geo: us} surcharge 11/10. Never a {@code double}, so costs stay exact.
 */
public record Ratio(long numerator, long denominator) {
    /** The multiplier 1. */
    public static final Ratio ONE = new Ratio(1, 1);

    public Ratio {
        if (numerator < 0 || denominator <= 0) {
            throw new IllegalArgumentException(
                    "ratio must be >= 0 with a positive denominator, got " + numerator + "/" + denominator);
        }
    }

    /** The exact ratio of a decimal such as {@code 1.1}. */
    public static Ratio of(BigDecimal value) {
        BigDecimal v = value.stripTrailingZeros();
        if (v.scale() <= 0) {
            return new Ratio(v.longValueExact(), 1);
        }
        return new Ratio(
                v.unscaledValue().longValueExact(),
                BigDecimal.TEN.pow(v.scale()).longValueExact());
    }

    /** This times {@code other}. */
    public Ratio times(Ratio other) {
        return new Ratio(
                Math.multiplyExact(numerator, other.numerator), Math.multiplyExact(denominator, other.denominator));
    }

    /** Whether this is exactly 1. */
    public boolean isOne() {
        return numerator == denominator;
    }

    @Override
    public String toString() {
        return BigDecimal.valueOf(numerator)
                .divide(BigDecimal.valueOf(denominator), java.math.MathContext.DECIMAL64)
                .stripTrailingZeros()
                .toPlainString();
    }
}
