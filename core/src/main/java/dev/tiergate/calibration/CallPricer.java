package dev.tiergate.calibration;

import dev.tiergate.pricing.CostOptions;
import dev.tiergate.pricing.ModelCatalog;
import dev.tiergate.pricing.Money;
import dev.tiergate.pricing.Usage;
import java.util.Optional;

/**
 * Prices one call from its token counts, for evidence rows whose {@code cost_usd} is empty.
 *
 * <p>{@link #fromCatalog(ModelCatalog)} prices at a model catalog's list prices; {@link #NONE} knows no prices, so
 * a row without a cost is an error that names its line. Implementations must be thread-safe.
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

    /**
     * Prices calls exactly at {@code catalog}'s standard prices: {@code inputTokens} as uncached input, no batch,
     * default geography, standard speed, and the long-context band when the input exceeds its threshold (see
     * {@link ModelCatalog#cost}). Models are looked up by id or alias; a model the catalog lacks prices as empty.
     * Thread-safe, as the catalog is immutable.
     */
    static CallPricer fromCatalog(ModelCatalog catalog) {
        return (model, inputTokens, outputTokens) -> catalog.find(model)
                .map(spec -> catalog.cost(spec.id(), Usage.of(inputTokens, outputTokens), CostOptions.STANDARD)
                        .total());
    }
}
