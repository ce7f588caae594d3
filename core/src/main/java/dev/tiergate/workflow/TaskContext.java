package dev.tiergate.workflow;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What a {@link TaskExecutor} knows about the task it runs, besides the task itself.
 *
 * @param runId the run's id ({@code x-tiergate-run})
 * @param runBudget the run's cap ({@code x-tiergate-run-budget-usd} when {@link RunBudget.Capped})
 * @param agentId the agent slot running the task, {@code agent-1} to {@code agent-N} ({@code x-tiergate-agent})
 * @param dependencies the outcome of each dependency, keyed by task id in the task's {@code dependsOn} order; all
 *     completed, since a task starts only then; empty for a task without dependencies
 */
public record TaskContext(
        String runId, RunBudget runBudget, String agentId, Map<String, TaskOutcome.Completed> dependencies) {

    /** Copies the dependencies, keeping their order. */
    public TaskContext {
        dependencies = Collections.unmodifiableMap(new LinkedHashMap<>(dependencies));
    }

    /**
     * The outcome of dependency {@code taskId}.
     *
     * @throws IllegalArgumentException if {@code taskId} is not one of this task's dependencies
     */
    public TaskOutcome.Completed dependency(String taskId) {
        TaskOutcome.Completed outcome = dependencies.get(taskId);
        if (outcome == null) {
            throw new IllegalArgumentException(
                    "'" + taskId + "' is not a dependency of this task; dependencies: " + dependencies.keySet());
        }
        return outcome;
    }
}
