package dev.tiergate.policy;

import dev.tiergate.pricing.ModelCatalog;
import dev.tiergate.pricing.ModelSpec;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * Routes a task type to a tier, a model and an output cap under a {@link Policy}.
 *
 * <p>Unknown task types (including {@link Policy#UNCLASSIFIED}) go to the policy's default tier; rules may
 * promote a request to another tier (e.g. very long inputs); effective {@code max_tokens} is
 * min(requested, task cap, model max output), and a request without one gets the task cap. Immutable,
 * thread-safe, and allocation-light: a decision is a map lookup plus a rule scan.
 */
public final class Router {
    private final Policy policy;
    private final ModelCatalog catalog;
    private final Map<String, ModelSpec> modelByTier = new HashMap<>();

    public Router(Policy policy, ModelCatalog catalog) {
        this.policy = policy;
        this.catalog = catalog;
        policy.tiers().forEach((name, tier) -> modelByTier.put(name, catalog.require(tier.model())));
    }

    /** The policy this router applies. */
    public Policy policy() {
        return policy;
    }

    /** The catalog models are looked up in. */
    public ModelCatalog catalog() {
        return catalog;
    }

    /**
     * Decides where a request goes.
     *
     * @param taskType the task type as classified (any string; unknown ones go to the default tier)
     * @param facts the request's estimated input and requested {@code max_tokens}
     */
    public RoutingDecision route(String taskType, RequestFacts facts) {
        return decide(taskType, null, facts);
    }

    /**
     * Decides for a request that names its tier ({@code model: "tier:NAME"}): that tier, with the task type's
     * cap if the task type is known, else the policy's default cap. Rules still apply.
     */
    public RoutingDecision routeToTier(String tierName, String taskType, RequestFacts facts) {
        if (!policy.tiers().containsKey(tierName)) {
            return new RoutingDecision.Reject(
                    taskType,
                    "unknown tier '" + tierName + "'; tiers are "
                            + policy.tiers().keySet());
        }
        return decide(taskType, tierName, facts);
    }

    private RoutingDecision decide(String taskType, @Nullable String forcedTier, RequestFacts facts) {
        TaskPolicy task = policy.taskTypes().get(taskType);
        List<String> reasons = new ArrayList<>(3);
        String tierName;
        long cap;
        if (forcedTier != null) {
            tierName = forcedTier;
            cap = task != null ? task.maxTokens() : policy.defaultMaxTokens();
            reasons.add("request names tier '" + tierName + "'" + (cap > 0 ? " (cap " + cap + ")" : ""));
        } else if (task != null) {
            tierName = task.tier();
            cap = task.maxTokens();
            reasons.add("task type '" + taskType + "' -> tier '" + tierName + "' (cap " + cap + ")");
        } else if (policy.defaultTier().isPresent()) {
            tierName = policy.defaultTier().get();
            cap = policy.defaultMaxTokens();
            reasons.add((taskType.equals(Policy.UNCLASSIFIED)
                            ? "no task type"
                            : "task type '" + taskType + "' is not in the policy")
                    + " -> default tier '" + tierName + "'" + (cap > 0 ? " (cap " + cap + ")" : ""));
        } else {
            return new RoutingDecision.Reject(
                    taskType,
                    "task type '" + taskType + "' is not in the policy and the policy has no default_tier; known: "
                            + policy.taskTypes().keySet());
        }
        for (Rule rule : policy.rules()) {
            if (rule.matches(taskType, facts.estimatedInputTokens())) {
                if (!rule.routeTo().equals(tierName)) {
                    reasons.add(rule.describe() + ": estimated input " + facts.estimatedInputTokens()
                            + " tokens -> tier '" + rule.routeTo() + "'");
                    tierName = rule.routeTo();
                }
                break;
            }
        }
        Tier tier = policy.tiers().get(tierName);
        ModelSpec model = modelByTier.get(tierName);
        if (tier == null || model == null) {
            throw new IllegalStateException("validated policy routes to missing tier " + tierName);
        }
        if (facts.estimatedInputTokens() > model.contextWindow()) {
            return new RoutingDecision.Reject(
                    taskType,
                    "estimated input of " + facts.estimatedInputTokens() + " tokens exceeds the context window of "
                            + model.id() + " (" + model.contextWindow() + ") in tier '" + tierName + "'");
        }
        long effective;
        boolean capped;
        if (facts.hasRequestedMaxTokens()) {
            long requested = facts.requestedMaxTokensValue();
            if (requested < 0) {
                return new RoutingDecision.Reject(taskType, "max_tokens must not be negative, got " + requested);
            }
            effective = cap > 0 ? Math.min(requested, cap) : requested;
            capped = effective < requested;
            if (capped) {
                reasons.add("max_tokens " + requested + " capped to " + effective);
            }
        } else if (cap > 0) {
            effective = cap;
            capped = true;
            reasons.add("no max_tokens in request: task cap " + cap + " applies");
        } else {
            return new RoutingDecision.Reject(
                    taskType,
                    "the request has no max_tokens and task type '" + taskType
                            + "' has no cap (set default_max_tokens in the policy)");
        }
        if (effective > model.maxOutput()) {
            reasons.add("max_tokens " + effective + " lowered to " + model.id() + "'s max output " + model.maxOutput());
            effective = model.maxOutput();
            capped = true;
        }
        return new RoutingDecision.Route(taskType, tierName, model.id(), tier.fallbacks(), effective, capped, reasons);
    }
}
