package dev.tiergate.workflow;

/**
 * Runs one task: the caller's side of a {@link WorkflowRunner}. Typically it sends the task's request through
 * Tiergate (in process, or over HTTP to the gateway with {@code x-tiergate-task}, {@code x-tiergate-run}, {@code
 * x-tiergate-agent} and {@code x-tiergate-run-budget-usd}) and maps the answer to a {@link TaskOutcome}.
 *
 * <p>Called concurrently, on one virtual thread per task, by up to the runner's number of agents at once; an
 * implementation must be thread-safe. It should block (no futures) and answer interrupts by throwing {@link
 * InterruptedException}. Expected outcomes are values: return {@link TaskOutcome.Failed} or {@link
 * TaskOutcome.BudgetDenied} rather than throwing. A {@link RuntimeException} it throws is recorded as a {@code
 * Failed} outcome that cost nothing.
 */
@FunctionalInterface
public interface TaskExecutor {

    /**
     * Runs {@code task} and reports how it went.
     *
     * @param task the task, with its request
     * @param context the run id and budget, the agent running it, and the outputs of its dependencies
     * @throws InterruptedException if interrupted while blocked (the run was interrupted)
     */
    TaskOutcome execute(WorkflowTask task, TaskContext context) throws InterruptedException;
}
