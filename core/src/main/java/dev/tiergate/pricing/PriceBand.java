package dev.tiergate.pricing;

/**
 * A second price card that applies to the whole request, output included, when the prompt (uncached input +
 * cache writes + cache reads) exceeds {@code promptTokensOver} tokens.
 */
public record PriceBand(long promptTokensOver, PriceCard prices) {
    public PriceBand {
        if (promptTokensOver < 0) {
            throw new IllegalArgumentException("prompt_tokens_over must not be negative, got " + promptTokensOver);
        }
    }
}
