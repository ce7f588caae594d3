package dev.tiergate.calibration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.InstanceOfAssertFactories.LIST;

import dev.tiergate.RouterException;
import dev.tiergate.pricing.CatalogLoader;
import dev.tiergate.pricing.CostOptions;
import dev.tiergate.pricing.ModelCatalog;
import dev.tiergate.pricing.Money;
import dev.tiergate.pricing.Usage;
import java.util.List;
import org.junit.jupiter.api.Test;

class CallPricerTest {

    private static final String HEADER = "item_id,task_type,model,score,input_tokens,output_tokens,cost_usd";
    private final ModelCatalog catalog = CatalogLoader.bundled();
    private final CallPricer pricer = CallPricer.fromCatalog(catalog);

    @Test
    void pricesAtTheCatalogsStandardListPricesByIdOrAlias() {
        // Haiku 4.5: $1 input and $5 output per million tokens.
        Money expected = Money.parseUsd("0.002");

        assertThat(pricer.cost("claude-haiku-4-5", 1_000, 200)).contains(expected);
        assertThat(pricer.cost("claude-haiku-4-5-20251001", 1_000, 200)).contains(expected);
        assertThat(catalog.cost("claude-haiku-4-5", Usage.of(1_000, 200), CostOptions.STANDARD)
                        .total())
                .isEqualTo(expected);
    }

    @Test
    void appliesTheLongContextBandToTheWholeCall() {
        // Haiku 5.5 above 100,000 prompt tokens: $0.50 input and $2.50 output per million, for every token.
        assertThat(pricer.cost("claude-haiku-5-5", 200_000, 1_000)).contains(Money.parseUsd("0.1025"));
        assertThat(pricer.cost("claude-haiku-5-5", 100_000, 1_000)).contains(Money.parseUsd("0.0105"));
    }

    @Test
    void knowsNoPriceForAModelOutsideTheCatalog() {
        assertThat(pricer.cost("gpt-9", 1_000, 200)).isEmpty();
    }

    @Test
    void evidenceRowsWithoutACostArePricedFromTheCatalog() {
        Evidence ev = Evidence.parse(
                "e.csv",
                List.of(HEADER, "q1,t,claude-haiku-4-5,1,1000,200,", "q1,t,claude-opus-4-6,1,1000,200,0.5"),
                pricer);

        assertThat(ev.outcome("t", "q1", "claude-haiku-4-5").orElseThrow().cost())
                .isEqualTo(Money.parseUsd("0.002"));
        assertThat(ev.outcome("t", "q1", "claude-opus-4-6").orElseThrow().cost())
                .as("a given cost_usd wins over the catalog")
                .isEqualTo(Money.parseUsd("0.5"));
    }

    @Test
    void evidenceRowOfAnUnknownModelWithoutACostIsAnErrorNamingItsLine() {
        assertThatThrownBy(() -> Evidence.parse(
                        "e.csv", List.of(HEADER, "q1,t,claude-haiku-4-5,1,1000,200,", "q1,t,gpt-9,1,10,2,"), pricer))
                .isInstanceOf(EvidenceException.class)
                .isInstanceOf(RouterException.class)
                .extracting(e -> ((EvidenceException) e).problems(), LIST)
                .containsExactly("e.csv:3: cost_usd is empty and no price is known for model 'gpt-9'; give cost_usd or"
                        + " use a model from the catalog");
    }
}
