package dev.tiergate.pricing;

/**
 * Prices of one model (or one price band) per token class, in nano-USD per million tokens.
 *
 * <p>{@code $5 / MTok} is {@code 5_000_000_000}. Storing per million tokens keeps every published price
 * (down to {@code $0.000000001 / MTok}) an exact integer.
 */
public record PriceCard(
        long inputPerMTok,
        long cacheWrite5mPerMTok,
        long cacheWrite1hPerMTok,
        long cacheReadPerMTok,
        long outputPerMTok) {

    public PriceCard {
        if (inputPerMTok < 0
                || cacheWrite5mPerMTok < 0
                || cacheWrite1hPerMTok < 0
                || cacheReadPerMTok < 0
                || outputPerMTok < 0) {
            throw new IllegalArgumentException(
                    "prices must not be negative: " + inputPerMTok + ", " + cacheWrite5mPerMTok + ", "
                            + cacheWrite1hPerMTok + ", " + cacheReadPerMTok + ", " + outputPerMTok);
        }
    }

    /** The highest price any input-side token can bill at: used for worst-case reservations. */
    public long maxInputSidePerMTok() {
        return Math.max(Math.max(inputPerMTok, cacheReadPerMTok), Math.max(cacheWrite5mPerMTok, cacheWrite1hPerMTok));
    }
}
