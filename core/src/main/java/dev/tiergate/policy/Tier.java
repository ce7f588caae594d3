package dev.tiergate.policy;

import java.util.List;

/**
 * A named model tier: the model that serves it and the fallbacks tried, in order, when it fails before the
 * first byte reaches the caller.
 */
public record Tier(String name, String model, List<String> fallbacks) {
    public Tier {
        fallbacks = List.copyOf(fallbacks);
    }
}
