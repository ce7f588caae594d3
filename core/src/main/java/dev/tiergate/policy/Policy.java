package dev.tiergate.policy;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * A validated task-type policy: tiers, task types with their caps, the default tier and routing rules.
 *
 * <p>Only {@link PolicyLoader} builds one, after every check passed, so a {@code Policy} is always routable:
 * every tier exists, every model is in the catalog. Immutable and thread-safe.
 */
public final class Policy {
    /** The task type of requests that name none. */
    public static final String UNCLASSIFIED = "unclassified";

    private final String source;
    private final Map<String, Tier> tiers;
    private final Map<String, TaskPolicy> taskTypes;
    private final @Nullable String defaultTier;
    private final long defaultMaxTokens;
    private final List<Rule> rules;

    Policy(
            String source,
            Map<String, Tier> tiers,
            Map<String, TaskPolicy> taskTypes,
            @Nullable String defaultTier,
            long defaultMaxTokens,
            List<Rule> rules) {
        this.source = source;
        this.tiers = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(tiers));
        this.taskTypes = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(taskTypes));
        this.defaultTier = defaultTier;
        this.defaultMaxTokens = defaultMaxTokens;
        this.rules = List.copyOf(rules);
    }

    /** Where the policy was read from. */
    public String source() {
        return source;
    }

    /** Tiers by name, in file order. */
    public Map<String, Tier> tiers() {
        return tiers;
    }

    /** Task types by name, in file order. */
    public Map<String, TaskPolicy> taskTypes() {
        return taskTypes;
    }

    /** The tier for task types the policy does not list; empty means such requests are rejected. */
    public Optional<String> defaultTier() {
        return Optional.ofNullable(defaultTier);
    }

    /** The cap for task types the policy does not list (0: none, the request's own {@code max_tokens} stands). */
    public long defaultMaxTokens() {
        return defaultMaxTokens;
    }

    /** Routing rules in file order. */
    public List<Rule> rules() {
        return rules;
    }
}
