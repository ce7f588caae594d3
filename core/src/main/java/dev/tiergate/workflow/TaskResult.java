package dev.tiergate.workflow;

import dev.tiergate.pricing.Money;
import dev.tiergate.pricing.Usage;
import java.time.Duration;

/**
 * How one task of a run ended: it {@link Ran} (and then completed, failed or was denied by the budget), it was
 * {@link Skipped} because a dependency did not complete, or it was {@link Cancelled} before it started.
 */
public sealed interface TaskResult permits TaskResult.Ran, TaskResult.Skipped, TaskResult.Cancelled {

    /** The final state of a task, flattened for counting and reports. */
    enum State {
        /** Ran and returned {@link TaskOutcome.Completed}. */
        COMPLETED,
        /** Ran and returned {@link TaskOutcome.Failed} (or threw). */
        FAILED,
        /** Ran and budget admission refused it: {@link TaskOutcome.BudgetDenied}. */
        BUDGET_DENIED,
        /** Never ran: a dependency failed or was skipped. */
        SKIPPED,
        /** Never ran: the run stopped admitting tasks (budget exhausted, or interrupted). */
        CANCELLED
    }

    /** The task's id. */
    String taskId();

    /** The task's type. */
    String taskType();

    /** The final state. */
    State state();

    /** What the task cost; zero if it never ran. */
    default Money cost() {
        return Money.ZERO;
    }

    /** The task's tokens; {@link Usage#ZERO} if it never ran. */
    default Usage usage() {
        return Usage.ZERO;
    }

    /**
     * The executor ran the task.
     *
     * @param taskId the task's id
     * @param taskType the task's type
     * @param outcome what the executor reported
     * @param agentId the agent slot that ran it, {@code agent-1} to {@code agent-N}
     * @param started when the executor was called, from the start of the run
     * @param ended when the executor returned, from the start of the run
     */
    record Ran(String taskId, String taskType, TaskOutcome outcome, String agentId, Duration started, Duration ended)
            implements TaskResult {

        @Override
        public State state() {
            return switch (outcome) {
                case TaskOutcome.Completed c -> State.COMPLETED;
                case TaskOutcome.Failed f -> State.FAILED;
                case TaskOutcome.BudgetDenied d -> State.BUDGET_DENIED;
            };
        }

        @Override
        public Money cost() {
            return outcome.cost();
        }

        @Override
        public Usage usage() {
            return outcome.usage();
        }

        /** How long the executor took. */
        public Duration duration() {
            return ended.minus(started);
        }
    }

    /**
     * The task never ran because a dependency did not complete.
     *
     * @param taskId the task's id
     * @param taskType the task's type
     * @param reason which dependency, and how it ended
     */
    record Skipped(String taskId, String taskType, String reason) implements TaskResult {
        @Override
        public State state() {
            return State.SKIPPED;
        }
    }

    /**
     * The task never ran because the run stopped admitting tasks.
     *
     * @param taskId the task's id
     * @param taskType the task's type
     * @param reason why the run stopped, e.g. {@code run budget exhausted: budget 'run r-1' ...}
     */
    record Cancelled(String taskId, String taskType, String reason) implements TaskResult {
        @Override
        public State state() {
            return State.CANCELLED;
        }
    }
}
