package dev.tiergate.pricing;

import java.math.BigDecimal;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * One model in the catalog: identity, limits, prices and where each price came from.
 *
 * @param id the API model id, e.g. {@code claude-opus-4-6}
 * @param aliases other ids that name the same model (e.g. the dated or undated form)
 * @param provider {@code anthropic}, or whatever a user's own entry says ({@code openai-compatible}, ...)
 * @param displayName a human name
 * @param status current, legacy, deprecated or retired
 * @param contextWindow tokens
 * @param maxOutput the largest {@code max_tokens} the model accepts
 * @param prices the base price card
 * @param bands price bands, ascending by threshold; the highest band whose threshold the prompt exceeds applies
 * @param speedMultipliers price multipliers per {@code speed} value other than standard (e.g. {@code fast: 6})
 * @param tokenizerFactor how many more tokens this model's tokenizer counts than the classic Claude tokenizer
 *     (1 for the classic one; 1.35 for the newer tokenizer of Claude 4.7+, the 5.x models and Haiku 5.5); input
 *     estimates are scaled by it, see {@code dev.tiergate.messages.TokenizerFamily.forModel}
 * @param unconfirmed names of fields whose value is third-party only or disputed
 * @param source where the values come from
 */
public record ModelSpec(
        String id,
        List<String> aliases,
        String provider,
        String displayName,
        ModelStatus status,
        long contextWindow,
        long maxOutput,
        PriceCard prices,
        List<PriceBand> bands,
        Map<String, Ratio> speedMultipliers,
        BigDecimal tokenizerFactor,
        Set<String> unconfirmed,
        String source) {

    public ModelSpec {
        if (id.isBlank()) {
            throw new IllegalArgumentException("model id must not be blank");
        }
        if (contextWindow <= 0 || maxOutput <= 0) {
            throw new IllegalArgumentException("model " + id + ": context_window and max_output must be positive, got "
                    + contextWindow + " and " + maxOutput);
        }
        aliases = List.copyOf(aliases);
        bands = List.copyOf(bands);
        speedMultipliers = Map.copyOf(speedMultipliers);
        unconfirmed = Set.copyOf(unconfirmed);
    }

    /** The band that applies to a request whose prompt has {@code promptTokens} tokens, if any. */
    public Optional<PriceBand> bandFor(long promptTokens) {
        PriceBand applies = null;
        for (PriceBand band : bands) {
            if (promptTokens > band.promptTokensOver()) {
                applies = band;
            }
        }
        return Optional.ofNullable(applies);
    }

    /** The most expensive price card of this model (the highest band, or the base card). */
    public PriceCard highestPrices() {
        return bands.isEmpty() ? prices : bands.get(bands.size() - 1).prices();
    }
}
