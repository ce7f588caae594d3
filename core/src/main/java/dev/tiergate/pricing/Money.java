package dev.tiergate.pricing;

import java.math.BigDecimal;
import java.math.RoundingMode;

/**
 * An amount of US dollars as an exact integer count of nano-USD (1e-9 USD).
 *
 * <p>Money never goes through {@code double}: sums of many per-call costs must equal the cost of the
 * sum to the nano-dollar. Arithmetic throws {@link ArithmeticException} on overflow (about 9.2 billion
 * USD) rather than wrapping. Immutable and thread-safe.
 *
 * @param nanos the amount in nano-USD; may be negative (refunds, differences)
 */
public record Money(long nanos) implements Comparable<Money> {

    /** Nano-USD in one US dollar. */
    public static final long NANOS_PER_USD = 1_000_000_000L;

    /** Zero dollars. */
    public static final Money ZERO = new Money(0);

    /** The amount of {@code nanos} nano-USD. */
    public static Money ofNanos(long nanos) {
        return new Money(nanos);
    }

    /**
     * Parses a decimal USD amount such as {@code "4.50"} or {@code "0.000000001"}.
     *
     * @throws IllegalArgumentException if the text is not a decimal number or has more than nine decimal
     *     places (it would not be exact)
     */
    public static Money parseUsd(String usd) {
        BigDecimal value;
        try {
            value = new BigDecimal(usd.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a USD amount: '" + usd + "'", e);
        }
        return ofUsd(value);
    }

    /**
     * The exact amount of a decimal USD value.
     *
     * @throws IllegalArgumentException if the value has more than nine decimal places
     */
    public static Money ofUsd(BigDecimal usd) {
        try {
            return new Money(
                    usd.movePointRight(9).setScale(0, RoundingMode.UNNECESSARY).longValueExact());
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException(
                    "USD amount " + usd.toPlainString() + " is not a whole number of nano-USD or is too large", e);
        }
    }

    /** This plus {@code other}; throws {@link ArithmeticException} on overflow. */
    public Money plus(Money other) {
        return new Money(Math.addExact(nanos, other.nanos));
    }

    /** This minus {@code other}; throws {@link ArithmeticException} on overflow. */
    public Money minus(Money other) {
        return new Money(Math.subtractExact(nanos, other.nanos));
    }

    /** This times {@code factor}; throws {@link ArithmeticException} on overflow. */
    public Money times(long factor) {
        return new Money(Math.multiplyExact(nanos, factor));
    }

    /** Whether this is greater than {@code other}. */
    public boolean isGreaterThan(Money other) {
        return nanos > other.nanos;
    }

    /** Whether this is below zero. */
    public boolean isNegative() {
        return nanos < 0;
    }

    /** The amount as a decimal USD value with nine decimal places. */
    public BigDecimal toUsd() {
        return BigDecimal.valueOf(nanos, 9);
    }

    /** The amount as a plain decimal string with nine places, e.g. {@code "0.036188000"}. */
    public String toUsdString() {
        return toUsd().toPlainString();
    }

    @Override
    public int compareTo(Money other) {
        return Long.compare(nanos, other.nanos);
    }

    @Override
    public String toString() {
        return toUsdString() + " USD";
    }
}
