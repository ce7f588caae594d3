package dev.tiergate.pricing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

/**
 * Golden costs, each worked out by hand in the comment above it (prices in USD per million tokens from the
 * bundled catalog). One test per price rule, then combinations.
 */
class CostGoldenTest {
    private static final ModelCatalog CATALOG = CatalogLoader.bundled();
    private static final ObjectMapper JSON = new ObjectMapper();

    private static Cost cost(String model, String usageJson) {
        JsonNode usage = read(usageJson);
        return CATALOG.cost(model, Usage.fromJson(usage), CostOptions.fromUsage(usage));
    }

    private static Cost batch(String model, String usageJson) {
        JsonNode usage = read(usageJson);
        return CATALOG.cost(
                model, Usage.fromJson(usage), CostOptions.fromUsage(usage).withBatch());
    }

    private static JsonNode read(String json) {
        try {
            return JSON.readTree(json);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void inputAndOutputAtListPrice() {
        // Opus 4.6: 1,000 x $5 + 500 x $25 = $0.005 + $0.0125 = $0.0175
        Cost c = cost("claude-opus-4-6", "{\"input_tokens\":1000,\"output_tokens\":500}");
        assertThat(c.total().toUsdString()).isEqualTo("0.017500000");
        assertThat(c.input().nanos()).isEqualTo(5_000_000);
        assertThat(c.output().nanos()).isEqualTo(12_500_000);
    }

    @Test
    void issueExampleOpus55WithCacheRead() {
        // Opus 5.5: 5,000 x $4 + 940 x $0.20 + 800 x $20 = 0.02 + 0.000188 + 0.016 = $0.036188
        Cost c = cost(
                "claude-opus-5-5", "{\"input_tokens\":5000,\"cache_read_input_tokens\":940,\"output_tokens\":800}");
        assertThat(c.total().toUsdString()).isEqualTo("0.036188000");
        assertThat(c.cacheRead().nanos()).isEqualTo(188_000);
    }

    @Test
    void cacheWritesBillByTtlFromTheSplit() {
        // Haiku 4.5: 2,048 1h writes x $2 = 0.004096; 1,000 5m writes x $1.25 = 0.00125; 10 in x $1 = 0.00001;
        // 20 out x $5 = 0.0001 -> $0.005456
        Cost c = cost(
                "claude-haiku-4-5-20251001",
                "{\"input_tokens\":10,\"output_tokens\":20,\"cache_creation_input_tokens\":3048,"
                        + "\"cache_creation\":{\"ephemeral_5m_input_tokens\":1000,\"ephemeral_1h_input_tokens\":2048}}");
        assertThat(c.cacheWrite1h().nanos()).isEqualTo(4_096_000);
        assertThat(c.cacheWrite5m().nanos()).isEqualTo(1_250_000);
        assertThat(c.total().toUsdString()).isEqualTo("0.005456000");
    }

    @Test
    void cacheWriteTotalWithoutSplitCountsAsFiveMinute() {
        // Sonnet 4.6: 4,000 writes, no split -> 5m at $3.75 = $0.015
        Cost c = cost(
                "claude-sonnet-4-6", "{\"input_tokens\":0,\"output_tokens\":0,\"cache_creation_input_tokens\":4000}");
        assertThat(c.cacheWrite5m().toUsdString()).isEqualTo("0.015000000");
        assertThat(c.cacheWrite1h()).isEqualTo(Money.ZERO);
    }

    @Test
    void nullAndMissingFieldsCountAsZero() {
        Cost c = cost(
                "claude-opus-4-6",
                "{\"input_tokens\":null,\"output_tokens\":100,\"cache_creation_input_tokens\":null,"
                        + "\"cache_read_input_tokens\":null,\"cache_creation\":null,\"server_tool_use\":null}");
        // 100 x $25 = $0.0025
        assertThat(c.total().toUsdString()).isEqualTo("0.002500000");
    }

    @Test
    void haiku55PromptAtTheBandEdgeStaysLow() {
        // Exactly 100,000 prompt tokens is not "over 100K": 100,000 x $0.10 + 1,000 x $0.50 = 0.01 + 0.0005
        Cost c = cost("claude-haiku-5-5", "{\"input_tokens\":100000,\"output_tokens\":1000}");
        assertThat(c.total().toUsdString()).isEqualTo("0.010500000");
        assertThat(c.rules()).isEmpty();
    }

    @Test
    void haiku55PromptOverTheBandBillsWholeRequestHigh() {
        // 90,000 input + 10,001 cache read = 100,001 prompt tokens > 100K: everything at the high band.
        // 90,000 x $0.50 = 0.045; 10,001 x $0.05 = 0.00050005; 1,000 out x $2.50 = 0.0025 -> $0.04800005
        Cost c = cost(
                "claude-haiku-5-5",
                "{\"input_tokens\":90000,\"cache_read_input_tokens\":10001,\"output_tokens\":1000}");
        assertThat(c.total().toUsdString()).isEqualTo("0.048000050");
        assertThat(c.output().nanos()).isEqualTo(2_500_000);
        assertThat(c.rules()).anyMatch(r -> r.contains("band"));
    }

    @Test
    void cacheWritesCountTowardThePromptBand() {
        // Sonnet 4.5: 150,000 in + 60,000 1h writes = 210,000 > 200K -> long-context prices.
        // 150,000 x $6 = 0.9; 60,000 x $12 = 0.72; 2,000 out x $22.50 = 0.045 -> $1.665
        Cost c = cost(
                "claude-sonnet-4-5",
                "{\"input_tokens\":150000,\"output_tokens\":2000,\"cache_creation_input_tokens\":60000,"
                        + "\"cache_creation\":{\"ephemeral_5m_input_tokens\":0,\"ephemeral_1h_input_tokens\":60000}}");
        assertThat(c.model()).isEqualTo("claude-sonnet-4-5-20250929");
        assertThat(c.total().toUsdString()).isEqualTo("1.665000000");
    }

    @Test
    void batchHalvesEveryTokenClass() {
        // Opus 4.6 batch: (1,000 x $5 + 2,000 x $0.50 + 400 x $6.25 + 500 x $25) / 2
        //   = (0.005 + 0.001 + 0.0025 + 0.0125) / 2 = $0.0105
        Cost c = batch(
                "claude-opus-4-6",
                "{\"input_tokens\":1000,\"cache_read_input_tokens\":2000,\"cache_creation_input_tokens\":400,"
                        + "\"output_tokens\":500}");
        assertThat(c.total().toUsdString()).isEqualTo("0.010500000");
    }

    @Test
    void serviceTierBatchInUsageMeansBatch() {
        Cost c = cost("claude-opus-4-6", "{\"input_tokens\":1000,\"output_tokens\":500,\"service_tier\":\"batch\"}");
        assertThat(c.total().toUsdString()).isEqualTo("0.008750000");
    }

    @Test
    void batchPlusOneHourWritePlusHighBand() {
        // Haiku 5.5, batch, prompt 50,000 in + 60,000 1h writes = 110,000 > 100K -> high band, then x 1/2:
        // 50,000 x $0.50 = 0.025; 60,000 x $1.00 = 0.06; 4,000 out x $2.50 = 0.01; sum 0.095 / 2 = $0.0475
        Cost c = batch(
                "claude-haiku-5-5",
                "{\"input_tokens\":50000,\"output_tokens\":4000,\"cache_creation_input_tokens\":60000,"
                        + "\"cache_creation\":{\"ephemeral_5m_input_tokens\":0,\"ephemeral_1h_input_tokens\":60000}}");
        assertThat(c.cacheWrite1h().toUsdString()).isEqualTo("0.030000000");
        assertThat(c.total().toUsdString()).isEqualTo("0.047500000");
        assertThat(c.rules()).hasSize(2);
    }

    @Test
    void usInferenceGeoCostsTenPercentMore() {
        // Sonnet 5.5 in the US: (1,000 x $2 + 1,000 x $10) x 1.1 = 0.012 x 1.1 = $0.0132
        Cost c = cost("claude-sonnet-5-5", "{\"input_tokens\":1000,\"output_tokens\":1000,\"inference_geo\":\"us\"}");
        assertThat(c.total().toUsdString()).isEqualTo("0.013200000");
    }

    @Test
    void fastSpeedUsesTheModelsMultiplier() {
        // Opus 4.6 fast x6: (1,000 x $5 + 100 x $25) x 6 = 0.0075 x 6 = $0.045
        Cost c = cost("claude-opus-4-6", "{\"input_tokens\":1000,\"output_tokens\":100,\"speed\":\"fast\"}");
        assertThat(c.total().toUsdString()).isEqualTo("0.045000000");
    }

    @Test
    void fastSpeedWithoutAPriceIsAnErrorNotAGuess() {
        assertThatThrownBy(
                        () -> cost("claude-haiku-4-5", "{\"input_tokens\":1,\"output_tokens\":1,\"speed\":\"fast\"}"))
                .isInstanceOf(PricingException.class)
                .hasMessageContaining("claude-haiku-4-5-20251001")
                .hasMessageContaining("fast");
    }

    @Test
    void webSearchesArePricedPerThousand() {
        // 3 searches at $10 per 1,000 = $0.03, plus 10 in x $1 = 0.00001 on Haiku 4.5
        Cost c = cost(
                "claude-haiku-4-5",
                "{\"input_tokens\":10,\"output_tokens\":0,\"server_tool_use\":{\"web_search_requests\":3}}");
        assertThat(c.webSearch().toUsdString()).isEqualTo("0.030000000");
        assertThat(c.total().toUsdString()).isEqualTo("0.030010000");
    }

    @Test
    void fractionsOfANanoDollarRoundHalfUpOncePerClass() {
        // Haiku 5.5 cache read $0.01/MTok = 10 nano per token; batch x 1/2 x us 1.1 = 5.5 nano -> 6
        Cost c = batch("claude-haiku-5-5", "{\"cache_read_input_tokens\":1,\"inference_geo\":\"us\"}");
        assertThat(c.cacheRead().nanos()).isEqualTo(6);
        // 3 tokens: 16.5 -> 17 (rounded once for the class, not per token: 3 x 6 would be 18)
        assertThat(batch("claude-haiku-5-5", "{\"cache_read_input_tokens\":3,\"inference_geo\":\"us\"}")
                        .cacheRead()
                        .nanos())
                .isEqualTo(17);
    }

    @Test
    void fable51CacheReadIsNotTheStandardTenthOfInput() {
        // Fable 5.1 reads at $0.25 (0.025x of $10), not $1: 1,000,000 reads = $0.25
        Cost c = cost("claude-fable-5-1", "{\"cache_read_input_tokens\":1000000}");
        assertThat(c.total().toUsdString()).isEqualTo("0.250000000");
    }

    @Test
    void aliasesPriceAsTheirModel() {
        assertThat(cost("claude-haiku-4-5", "{\"input_tokens\":1000000}").model())
                .isEqualTo("claude-haiku-4-5-20251001");
    }

    @Test
    void unknownModelNamesWhatIsKnown() {
        assertThatThrownBy(() -> cost("gpt-9", "{\"input_tokens\":1}"))
                .isInstanceOf(PricingException.class)
                .hasMessageContaining("gpt-9")
                .hasMessageContaining("claude-opus-4-6");
    }

    @Test
    void malformedUsageNamesTheField() {
        assertThatThrownBy(() -> Usage.fromJson(read("{\"input_tokens\":-3}")))
                .hasMessageContaining("usage.input_tokens")
                .hasMessageContaining("-3");
        assertThatThrownBy(() -> Usage.fromJson(read("{\"output_tokens\":1.5}")))
                .hasMessageContaining("usage.output_tokens");
        assertThatThrownBy(() -> Usage.fromJson(read("[1]"))).hasMessageContaining("object");
    }

    @Test
    void worstCaseUsesTheHighestBandAndInputSidePrice() {
        // Haiku 5.5 worst case: input side at the high band's highest class ($1.00 1h write), output $2.50.
        // 1,000 x $1.00 + 500 x $2.50 = 0.001 + 0.00125
        Money w = CATALOG.worstCase("claude-haiku-5-5", 1000, 500, CostOptions.STANDARD);
        assertThat(w.toUsdString()).isEqualTo("0.002250000");
    }
}
