package dev.tiergate.policy;

import java.util.List;

/** What the router decided for one request: a route, or a rejection with the reason. */
public sealed interface RoutingDecision permits RoutingDecision.Route, RoutingDecision.Reject {

    /** The task type the decision is for. */
    String taskType();

    /**
     * Send the request to {@code model} (then {@code fallbacks} in order) with {@code maxTokens} as the cap.
     *
     * @param taskType the task type as classified
     * @param tier the tier chosen
     * @param model the tier's model
     * @param fallbacks models to try, in order, if {@code model} fails before the first byte
     * @param maxTokens effective {@code max_tokens}: min(requested, task cap, model max output)
     * @param capped whether the request asked for more than {@code maxTokens} (or for nothing)
     * @param reasons why, in words, in the order the decision was made
     */
    record Route(
            String taskType,
            String tier,
            String model,
            List<String> fallbacks,
            long maxTokens,
            boolean capped,
            List<String> reasons)
            implements RoutingDecision {
        public Route {
            fallbacks = List.copyOf(fallbacks);
            reasons = List.copyOf(reasons);
        }
    }

    /** Do not send the request; {@code reason} says why, for the caller's error message. */
    record Reject(String taskType, String reason) implements RoutingDecision {}
}
