package dev.tiergate.policy;

import java.util.Set;

/**
 * A routing rule: when the request's estimated input exceeds {@code inputTokensOver} (and, if
 * {@code taskTypes} is non-empty, the task type is one of them), route to {@code routeTo}. Rules are tried in
 * file order; the first that matches wins.
 */
public record Rule(int line, long inputTokensOver, Set<String> taskTypes, String routeTo) {
    public Rule {
        taskTypes = Set.copyOf(taskTypes);
    }

    /** Whether this rule applies to a request of {@code taskType} with {@code inputTokens} estimated. */
    public boolean matches(String taskType, long inputTokens) {
        return inputTokens > inputTokensOver && (taskTypes.isEmpty() || taskTypes.contains(taskType));
    }

    /** The condition in words, for decisions' reasons. */
    public String describe() {
        return "rule at line " + line + " (input_tokens_over " + inputTokensOver
                + (taskTypes.isEmpty() ? "" : ", task_types " + taskTypes) + ")";
    }
}
