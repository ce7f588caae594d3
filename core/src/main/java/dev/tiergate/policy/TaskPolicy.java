package dev.tiergate.policy;

/**
 * What one task type gets.
 *
 * @param name the task type, e.g. {@code extraction}
 * @param tier the tier that serves it
 * @param maxTokens the output cap in tokens; requests asking for more are capped to it
 * @param priority how it fares under budget pressure
 * @param description what the type covers, for people reading reports
 */
public record TaskPolicy(String name, String tier, long maxTokens, Priority priority, String description) {
    public TaskPolicy {
        if (maxTokens <= 0) {
            throw new IllegalArgumentException("task type " + name + ": max_tokens must be positive, got " + maxTokens);
        }
    }
}
