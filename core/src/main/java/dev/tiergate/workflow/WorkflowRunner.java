package dev.tiergate.workflow;

import java.time.Clock;

/**
 * Runs a {@link WorkflowRun}: N agents execute ready tasks in parallel, one virtual thread per task, and the run ends
 * with a {@link WorkflowReport}.
 *
 * <p><b>Scheduling.</b> A task starts only when every task it depends on has completed, and it receives their
 * outputs ({@link TaskContext#dependencies()}). At most {@link #agents()} tasks run at once (a {@link
 * java.util.concurrent.Semaphore} of that many permits); each running task holds one agent slot, {@code agent-1} to
 * {@code agent-N}, the lowest free one. Among tasks ready at the same time, the earliest in definition order starts
 * first, so a run with one agent is fully deterministic.
 *
 * <p><b>Failures.</b> A task whose executor returns {@link TaskOutcome.Failed} (or throws) does not stop the run:
 * the tasks that depend on it, directly or through others, are {@link TaskResult.Skipped} with the reason, and
 * independent tasks go on.
 *
 * <p><b>Budget.</b> The first {@link TaskOutcome.BudgetDenied} stops the run from admitting tasks: every task not yet
 * started is {@link TaskResult.Cancelled} with {@code run budget exhausted: <message>}. Tasks already in flight are
 * not interrupted and finish normally: they already hold budget reservations, their work is paid for (up to the
 * worst case), and cutting them off would waste that money and leave partial results; their outcomes are reported
 * like any other. The runner does not add up costs against the run's {@link RunBudget} itself: the executor's
 * admission (the gateway's or the ledger's run budget) is exact and counts in-flight reservations, which a local
 * sum of settled costs cannot, and a second local cap would either agree with it or stop the run on a number that
 * is not the ledger's.
 *
 * <p><b>Interruption.</b> If the thread calling {@link #run} is interrupted, tasks not yet started are cancelled
 * ({@code run interrupted}), in-flight executors are interrupted, the runner waits for them to return, and it
 * returns the report with the thread's interrupt status set again.
 *
 * <p>Thread-safe: one runner may run many workflow runs at once; each run has its own bound of N agents.
 */
public final class WorkflowRunner {

    /**
     * Hears about a run's tasks as they start and end, e.g. to show progress. Called on the task's own virtual
     * thread (started, ended for tasks that ran) or on the thread running {@link WorkflowRunner#run} (ended for
     * skipped and cancelled tasks), so it must be thread-safe. A task's {@code ended} call happens before any of its
     * dependents start, a skipped task's before the next task starts, and all of them before the run returns.
     */
    public interface Listener {

        /** Task {@code task} is about to run on agent slot {@code agentId}. */
        default void started(WorkflowTask task, String agentId) {}

        /** A task reached its final state. */
        default void ended(TaskResult result) {}
    }

    private static final Listener SILENT = new Listener() {};

    private final int agents;
    private final Clock clock;

    /**
     * A runner with {@code agents} parallel agents, timing from {@code clock}.
     *
     * @param agents how many tasks of one run may run at once; at least 1
     * @param clock the source of the report's start time and task offsets
     * @throws IllegalArgumentException if {@code agents} is below 1
     */
    public WorkflowRunner(int agents, Clock clock) {
        if (agents < 1) {
            throw new IllegalArgumentException("a workflow runner needs at least 1 agent, got " + agents);
        }
        this.agents = agents;
        this.clock = clock;
    }

    /** A runner with {@code agents} parallel agents on the system UTC clock. */
    public static WorkflowRunner of(int agents) {
        return new WorkflowRunner(agents, Clock.systemUTC());
    }

    /** How many tasks of one run may run at once. */
    public int agents() {
        return agents;
    }

    /**
     * Runs every task of {@code run} through {@code executor} and blocks until all have ended.
     *
     * @return every task's final state, timing and the cost summary
     */
    public WorkflowReport run(WorkflowRun run, TaskExecutor executor) {
        return run(run, executor, SILENT);
    }

    /** As {@link #run(WorkflowRun, TaskExecutor)}, telling {@code listener} about each task as it starts and ends. */
    public WorkflowReport run(WorkflowRun run, TaskExecutor executor, Listener listener) {
        return new Execution(run, executor, listener, agents, clock).run();
    }
}
