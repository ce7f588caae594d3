package dev.tiergate.ledger;

import dev.tiergate.pricing.Money;

/**
 * Spend of the calls sharing one value of a {@link GroupBy}.
 *
 * @param group the value (task type, tier, model, key name, team, run id, or a UTC day YYYY-MM-DD)
 * @param calls number of calls, denied ones included
 * @param cost exact total cost
 * @param inputTokens uncached input tokens
 * @param cacheWriteTokens tokens written to the cache (5-minute and 1-hour)
 * @param cacheReadTokens tokens read from the cache
 * @param outputTokens output tokens
 * @param cappedCalls calls whose output hit {@code max_tokens}
 */
public record SpendGroup(
        String group,
        long calls,
        Money cost,
        long inputTokens,
        long cacheWriteTokens,
        long cacheReadTokens,
        long outputTokens,
        long cappedCalls) {}
