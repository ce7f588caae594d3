package dev.tiergate.messages;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tiergate.pricing.CatalogLoader;
import dev.tiergate.pricing.ModelCatalog;
import dev.tiergate.pricing.ModelSpec;
import java.math.BigDecimal;
import org.junit.jupiter.api.Test;

class TokenizerFamilyTest {

    private final ModelCatalog catalog = CatalogLoader.bundled();

    @Test
    void bundledCatalogPutsEachModelInTheFamilyOfItsTokenizer() {
        assertThat(TokenizerFamily.forModel(catalog.require("claude-haiku-4-5")))
                .isEqualTo(TokenizerFamily.CLASSIC);
        assertThat(TokenizerFamily.forModel(catalog.require("claude-opus-4-6"))).isEqualTo(TokenizerFamily.CLASSIC);
        assertThat(TokenizerFamily.forModel(catalog.require("claude-haiku-5-5")))
                .isEqualTo(TokenizerFamily.CLAUDE_4_7_PLUS);
        assertThat(TokenizerFamily.forModel(catalog.require("claude-opus-4-7")))
                .isEqualTo(TokenizerFamily.CLAUDE_4_7_PLUS);
    }

    @Test
    void everyBundledModelAboveFactorOneUsesTheNewerFamilysFactor() {
        for (ModelSpec m : catalog.models()) {
            TokenizerFamily family = TokenizerFamily.forModel(m);
            assertThat(family)
                    .as("%s with tokenizer_factor %s", m.id(), m.tokenizerFactor())
                    .isIn(TokenizerFamily.CLASSIC, TokenizerFamily.CLAUDE_4_7_PLUS);
        }
    }

    @Test
    void otherFactorsAboveOneGetThatFactorAndTheLargeImageCap() {
        TokenizerFamily f = TokenizerFamily.forFactor(new BigDecimal("1.20"));

        assertThat(f.textFactor()).isEqualTo(1.2);
        assertThat(f.maxImageTokens()).isEqualTo(4_800);
        assertThat(f.name()).isEqualTo("tokenizer-x1.2");
        assertThat(TokenizerFamily.forFactor(new BigDecimal("1.00"))).isEqualTo(TokenizerFamily.CLASSIC);
        assertThat(TokenizerFamily.forFactor(new BigDecimal("1.350"))).isEqualTo(TokenizerFamily.CLAUDE_4_7_PLUS);
    }

    @Test
    void rejectsAFactorBelowOne() {
        assertThatThrownBy(() -> TokenizerFamily.forFactor(new BigDecimal("0.9")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("tokenizer factor 0.9: must be >= 1 (1 is the classic tokenizer)");
    }
}
