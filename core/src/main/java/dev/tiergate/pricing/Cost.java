package dev.tiergate.pricing;

import java.util.List;

/**
 * The exact cost of one call and how it breaks down.
 *
 * <p>Each token class is computed exactly and rounded half-up to the nano-dollar once; the total is the sum of
 * the rounded classes, so the breakdown always adds up to the total.
 *
 * @param model the catalog id the call was priced as
 * @param total the whole cost
 * @param input uncached input tokens
 * @param cacheWrite5m 5-minute cache writes
 * @param cacheWrite1h 1-hour cache writes
 * @param cacheRead cache reads
 * @param output output tokens
 * @param webSearch server-side web searches
 * @param rules the price rules that applied, in words (band, batch, geography, speed)
 */
public record Cost(
        String model,
        Money total,
        Money input,
        Money cacheWrite5m,
        Money cacheWrite1h,
        Money cacheRead,
        Money output,
        Money webSearch,
        List<String> rules) {

    public Cost {
        rules = List.copyOf(rules);
        Money sum = input.plus(cacheWrite5m)
                .plus(cacheWrite1h)
                .plus(cacheRead)
                .plus(output)
                .plus(webSearch);
        if (!sum.equals(total)) {
            throw new IllegalArgumentException("cost breakdown " + sum + " does not add up to total " + total);
        }
    }
}
