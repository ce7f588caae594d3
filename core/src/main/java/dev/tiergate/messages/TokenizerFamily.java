package dev.tiergate.messages;

import dev.tiergate.pricing.ModelSpec;
import java.math.BigDecimal;

/**
 * How a group of Claude models turns input into billed tokens, as far as the conservative estimate needs it.
 *
 * <p>The text weights of {@link InputTokenEstimator} are calibrated against the public legacy Claude tokenizer;
 * {@code textFactor} scales them for models whose tokenizer counts more tokens for the same text. Image tokens
 * do not depend on the text tokenizer, so they have their own per-image cap. The model catalog's {@code
 * tokenizer_factor} is the source of truth for which family a model belongs to: see {@link #forModel(ModelSpec)}.
 * Immutable and thread-safe.
 *
 * @param name a label for logs and error messages, such as {@code "claude-4.7+"}; not blank
 * @param textFactor multiplier applied to text and formatting tokens; finite and at least 1.0, because the
 *     estimate must never get less conservative than the calibrated one
 * @param maxImageTokens the most tokens one image can cost after the API's own downscaling; positive
 */
public record TokenizerFamily(String name, double textFactor, long maxImageTokens) {

    // Only models with the newer tokenizer have a factor above 1, and they all take the larger images.
    private static final long NEWER_IMAGE_CAP = 4_800;

    /**
     * Claude 3 through 4.6 and Haiku 4.5: the calibration baseline (factor 1.0), images downscaled to a
     * 1568 px long edge and about 1,600 tokens.
     */
    public static final TokenizerFamily CLASSIC = new TokenizerFamily("classic", 1.0, 1_600);

    /**
     * Claude 4.7 and later, the 5.x models and Haiku 5.5. Anthropic documents that their tokenizer counts about
     * 30% more tokens than Haiku 4.5's for the same text; 1.35 leaves room for "about". Images go up to a
     * 2576 px long edge, about 3.75 megapixels, that is 4,784 patches of 28x28 px; the cap rounds that up. The
     * bundled catalog gives these models {@code tokenizer_factor: 1.35}, the same factor.
     */
    public static final TokenizerFamily CLAUDE_4_7_PLUS = new TokenizerFamily("claude-4.7+", 1.35, NEWER_IMAGE_CAP);

    public TokenizerFamily {
        if (name.isBlank()) {
            throw new IllegalArgumentException("tokenizer family name is blank");
        }
        if (!(textFactor >= 1.0) || Double.isInfinite(textFactor)) {
            throw new IllegalArgumentException(
                    "tokenizer family '" + name + "' textFactor " + textFactor + ": must be finite and >= 1.0");
        }
        if (maxImageTokens <= 0) {
            throw new IllegalArgumentException(
                    "tokenizer family '" + name + "' maxImageTokens " + maxImageTokens + ": must be > 0");
        }
    }

    /**
     * The family of a catalog model, from its {@link ModelSpec#tokenizerFactor() tokenizer factor}; see {@link
     * #forFactor(BigDecimal)}.
     */
    public static TokenizerFamily forModel(ModelSpec model) {
        return forFactor(model.tokenizerFactor());
    }

    /**
     * The family for a catalog {@code tokenizer_factor}: {@link #CLASSIC} for exactly 1, {@link #CLAUDE_4_7_PLUS}
     * for 1.35, and for any other factor above 1 a family with that text factor and the newer models' image cap
     * of 4,800 tokens (named {@code tokenizer-x<factor>}).
     *
     * @throws IllegalArgumentException naming the factor, if it is below 1
     */
    public static TokenizerFamily forFactor(BigDecimal factor) {
        int vsOne = factor.compareTo(BigDecimal.ONE);
        if (vsOne < 0) {
            throw new IllegalArgumentException(
                    "tokenizer factor " + factor.toPlainString() + ": must be >= 1 (1 is the classic tokenizer)");
        }
        if (vsOne == 0) {
            return CLASSIC;
        }
        if (factor.compareTo(BigDecimal.valueOf(CLAUDE_4_7_PLUS.textFactor())) == 0) {
            return CLAUDE_4_7_PLUS;
        }
        String plain = factor.stripTrailingZeros().toPlainString();
        return new TokenizerFamily("tokenizer-x" + plain, factor.doubleValue(), NEWER_IMAGE_CAP);
    }
}
