package dev.tiergate.pricing;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * How a call was billed, beyond its token counts.
 *
 * @param batch billed through Message Batches (usage {@code service_tier: batch})
 * @param inferenceGeo the usage's {@code inference_geo} ({@code "us"}, ...), or empty for the default
 * @param speed the usage's {@code speed}; {@code "standard"} when absent
 */
public record CostOptions(boolean batch, String inferenceGeo, String speed) {

    /** A standard call: no batch, default geography, standard speed. */
    public static final CostOptions STANDARD = new CostOptions(false, "", "standard");

    /** Reads the billing modifiers an Anthropic {@code usage} object reports; missing fields mean standard. */
    public static CostOptions fromUsage(JsonNode usage) {
        boolean batch = "batch".equals(usage.path("service_tier").asText(""));
        String geo = usage.path("inference_geo").isTextual()
                ? usage.path("inference_geo").asText()
                : "";
        String speed = usage.path("speed").isTextual() ? usage.path("speed").asText() : "standard";
        return new CostOptions(batch, geo, speed);
    }

    /** The same options, billed as a batch. */
    public CostOptions withBatch() {
        return new CostOptions(true, inferenceGeo, speed);
    }
}
