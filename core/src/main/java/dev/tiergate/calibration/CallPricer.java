package dev.tiergate.calibration;

import dev.tiergate.pricing.Money;
import java.util.Optional;

/**
 * Prices one call from its token counts, for evidence rows whose {@code cost_usd} is empty.
 *
 * <p>The catalog-backed pricer lives with the model catalog in {@code dev.tiergate.pricing} and is wired in on
 * main; until then callers pass {@link #NONE}, so a row without a cost is an error that names its line.
 * Implementations must be thread-safe.
 */
@FunctionalInterface
public interface CallPricer {

    /** Knows no prices: every lookup is empty. */
    CallPricer NONE = (model, inputTokens, outputTokens) -> Optional.empty();

    /**
     * The list-price cost of one call, or empty when the model's price is unknown.
     *
     * @param model the model id as written in the evidence
     * @param inputTokens input tokens, {@code >= 0}
     * @param outputTokens output tokens, {@code >= 0}
     */
    Optional<Money> cost(String model, long inputTokens, long outputTokens);
}
