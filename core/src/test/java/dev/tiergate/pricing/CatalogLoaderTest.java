package dev.tiergate.pricing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tiergate.config.ConfigException;
import java.time.LocalDate;
import org.junit.jupiter.api.Test;

class CatalogLoaderTest {

    @Test
    void bundledCatalogHoldsTheSeedModelsWithDateAndSources() {
        ModelCatalog c = CatalogLoader.bundled();
        assertThat(c.date()).isEqualTo(LocalDate.of(2026, 11, 29));
        assertThat(c.find("claude-opus-4-6")).isPresent();
        assertThat(c.find("claude-haiku-4-5-20251001")).isPresent();
        assertThat(c.models()).allSatisfy(m -> assertThat(m.source()).isNotBlank());
        assertThat(c.require("claude-sonnet-4-5").status().isRetiredOn(LocalDate.of(2026, 11, 30)))
                .isTrue();
        assertThat(c.require("claude-sonnet-5-5").unconfirmed()).contains("cache_read");
        assertThat(c.require("claude-haiku-5-5").unconfirmed()).contains("bands[0].cache_read");
        assertThat(c.require("claude-3-5-haiku-20241022").status().kind()).isEqualTo(ModelStatus.Kind.RETIRED);
    }

    @Test
    void userEntriesAddAndReplaceModelsWithoutRebuilding() {
        ModelCatalog base = CatalogLoader.bundled();
        String user = """
                models:
                  - id: claude-haiku-4-5-20251001
                    context_window: 200000
                    max_output: 64000
                    prices: { input: 0.9, output: 4.5 }
                  - id: llama-3.3-70b-local
                    provider: openai-compatible
                    context_window: 128000
                    max_output: 8192
                    prices: { input: 0.05, output: 0.10 }
                """;
        ModelCatalog c = CatalogLoader.withOverrides(base, "tiergate.yaml", user);
        assertThat(c.require("claude-haiku-4-5").prices().inputPerMTok()).isEqualTo(900_000_000L);
        ModelSpec local = c.require("llama-3.3-70b-local");
        assertThat(local.provider()).isEqualTo("openai-compatible");
        // no cache prices given: cache classes bill as plain input
        assertThat(local.prices().cacheReadPerMTok()).isEqualTo(50_000_000L);
        assertThat(c.models()).hasSize(base.models().size() + 1);
    }

    @Test
    void badUserEntriesAreAllReportedWithPositions() {
        String user = """
                models:
                  - id: a
                    context_window: -1
                    max_output: 10
                    prices: { input: 1 }
                  - id: b
                    contxt_window: 5
                    max_output: 10
                    prices: { input: 1, output: -2 }
                """;
        assertThatThrownBy(() -> CatalogLoader.withOverrides(CatalogLoader.bundled(), "my.yaml", user))
                .isInstanceOfSatisfying(
                        ConfigException.class,
                        e -> assertThat(e.problems())
                                .extracting(p -> p.format())
                                .anySatisfy(s ->
                                        assertThat(s).startsWith("my.yaml:3:").contains("context_window"))
                                .anySatisfy(s ->
                                        assertThat(s).startsWith("my.yaml:5:").contains("needs `output`"))
                                .anySatisfy(s ->
                                        assertThat(s).startsWith("my.yaml:7:").contains("unknown key 'contxt_window'"))
                                .anySatisfy(s ->
                                        assertThat(s).startsWith("my.yaml:9:").contains("must not be negative")));
    }
}
