package dev.tiergate.pricing;

import java.util.Map;

/**
 * Price rules that apply across models.
 *
 * @param batchMultiplier applied to every token class of a batch call (1/2)
 * @param inferenceGeoMultipliers per {@code inference_geo} value, applied to every token class
 * @param webSearchPer1k nano-USD per 1,000 web searches
 */
public record CatalogModifiers(Ratio batchMultiplier, Map<String, Ratio> inferenceGeoMultipliers, long webSearchPer1k) {
    public CatalogModifiers {
        inferenceGeoMultipliers = Map.copyOf(inferenceGeoMultipliers);
    }
}
