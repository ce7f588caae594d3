package dev.tiergate.workflow;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Semaphore;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * One run of a {@link WorkflowRunner}: the scheduling state of every task and the loop that starts them.
 *
 * <p>The calling thread schedules; each task runs on its own virtual thread. All state below is guarded by {@code
 * lock}; {@code changed} is signalled whenever a task ends.
 */
final class Execution {

    private enum Status {
        PENDING,
        RUNNING,
        DONE
    }

    private final WorkflowRun run;
    private final TaskExecutor executor;
    private final WorkflowRunner.Listener listener;
    private final Clock clock;
    private final List<WorkflowTask> tasks;
    private final Map<String, Integer> indexById = new HashMap<>();
    private final Semaphore permits;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final Instant startedAt;

    // guarded by lock
    private final Status[] status;
    private final Map<String, TaskResult> results = new HashMap<>();
    private final boolean[] slotBusy;
    private final Set<Thread> workers = new HashSet<>();
    private int inFlight;
    private WorkflowReport.End end = new WorkflowReport.End.Finished();

    Execution(WorkflowRun run, TaskExecutor executor, WorkflowRunner.Listener listener, int agents, Clock clock) {
        this.run = run;
        this.executor = executor;
        this.listener = listener;
        this.clock = clock;
        this.tasks = run.tasks();
        for (int i = 0; i < tasks.size(); i++) {
            indexById.put(tasks.get(i).id(), i);
        }
        this.permits = new Semaphore(agents);
        this.status = new Status[tasks.size()];
        Arrays.fill(status, Status.PENDING);
        this.slotBusy = new boolean[agents];
        this.startedAt = clock.instant();
    }

    WorkflowReport run() {
        boolean interrupted = false;
        try {
            while (awaitReady()) {
                permits.acquire();
                if (!startFirstReady()) {
                    permits.release();
                }
            }
        } catch (InterruptedException e) {
            interrupted = true;
            drainAfterInterrupt();
        }
        List<TaskResult> ordered = new ArrayList<>();
        lock.lock();
        try {
            for (WorkflowTask task : tasks) {
                TaskResult result = results.get(task.id());
                if (result == null) {
                    throw new IllegalStateException("task '" + task.id() + "' never reached a final state");
                }
                ordered.add(result);
            }
        } finally {
            lock.unlock();
        }
        WorkflowReport report =
                new WorkflowReport(run.id(), run.budget(), startedAt, sinceStart(), currentEnd(), ordered);
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        return report;
    }

    /** Waits until a task is ready (true) or nothing is ready or running any more (false). */
    private boolean awaitReady() throws InterruptedException {
        List<TaskResult> resolved = new ArrayList<>();
        lock.lock();
        try {
            while (true) {
                resolved.addAll(resolveBlocked());
                if (firstReady() >= 0) {
                    return true;
                }
                if (inFlight == 0) {
                    return false;
                }
                changed.await();
            }
        } finally {
            lock.unlock();
            announce(resolved);
        }
    }

    /**
     * With a permit held, starts the earliest ready task. False if it started nothing: the run stopped while this
     * thread waited for the permit, or tasks were just skipped or cancelled, which the listener hears of before any
     * later start.
     */
    private boolean startFirstReady() {
        List<TaskResult> resolved;
        boolean started = false;
        lock.lock();
        try {
            resolved = resolveBlocked();
            int next = firstReady();
            if (resolved.isEmpty() && next >= 0) {
                start(next);
                started = true;
            }
        } finally {
            lock.unlock();
        }
        announce(resolved);
        return started;
    }

    private void drainAfterInterrupt() {
        List<TaskResult> resolved;
        lock.lock();
        try {
            if (end instanceof WorkflowReport.End.Finished) {
                end = new WorkflowReport.End.Interrupted();
            }
            for (Thread worker : workers) {
                worker.interrupt();
            }
            while (inFlight > 0) {
                changed.awaitUninterruptibly();
            }
            resolved = resolveBlocked();
        } finally {
            lock.unlock();
        }
        announce(resolved);
    }

    /**
     * Gives every pending task that can no longer run its final state: all of them once the run has stopped
     * (Cancelled), otherwise those with a dependency that ended without completing (Skipped). Repeats until nothing
     * changes, as definition order need not follow dependency order. Holds the lock.
     */
    private List<TaskResult> resolveBlocked() {
        List<TaskResult> resolved = new ArrayList<>();
        boolean again = true;
        while (again) {
            again = false;
            for (int i = 0; i < tasks.size(); i++) {
                if (status[i] != Status.PENDING) {
                    continue;
                }
                WorkflowTask task = tasks.get(i);
                TaskResult result = blockedResult(task);
                if (result != null) {
                    status[i] = Status.DONE;
                    results.put(task.id(), result);
                    resolved.add(result);
                    again = true;
                }
            }
        }
        return resolved;
    }

    private @Nullable TaskResult blockedResult(WorkflowTask task) {
        String stopped = switch (end) {
            case WorkflowReport.End.Finished f -> "";
            case WorkflowReport.End.BudgetExhausted b -> "run budget exhausted: " + b.message();
            case WorkflowReport.End.Interrupted x -> "run interrupted";
        };
        if (!stopped.isEmpty()) {
            return new TaskResult.Cancelled(task.id(), task.taskType(), stopped);
        }
        for (String dependency : task.dependsOn()) {
            TaskResult done = results.get(dependency);
            if (done == null || done.state() == TaskResult.State.COMPLETED) {
                continue;
            }
            String how = switch (done) {
                case TaskResult.Ran r ->
                    switch (r.outcome()) {
                        case TaskOutcome.Completed c -> "completed";
                        case TaskOutcome.Failed f -> "failed: " + f.reason();
                        case TaskOutcome.BudgetDenied d -> "was denied by the budget: " + d.message();
                    };
                case TaskResult.Skipped s -> "was skipped";
                case TaskResult.Cancelled c -> "was cancelled";
            };
            return new TaskResult.Skipped(task.id(), task.taskType(), "dependency '" + dependency + "' " + how);
        }
        return null;
    }

    /** The earliest pending task whose dependencies all completed, or -1. Holds the lock. */
    private int firstReady() {
        if (!(end instanceof WorkflowReport.End.Finished)) {
            return -1;
        }
        for (int i = 0; i < tasks.size(); i++) {
            if (status[i] == Status.PENDING && allCompleted(tasks.get(i))) {
                return i;
            }
        }
        return -1;
    }

    private boolean allCompleted(WorkflowTask task) {
        for (String dependency : task.dependsOn()) {
            TaskResult done = results.get(dependency);
            if (done == null || done.state() != TaskResult.State.COMPLETED) {
                return false;
            }
        }
        return true;
    }

    /** Starts task {@code index} on the lowest free agent slot. Holds the lock and a permit. */
    private void start(int index) {
        WorkflowTask task = tasks.get(index);
        int slot = 0;
        while (slotBusy[slot]) {
            slot++; // a permit is held, so a slot is free
        }
        slotBusy[slot] = true;
        status[index] = Status.RUNNING;
        inFlight++;
        Map<String, TaskOutcome.Completed> inputs = new LinkedHashMap<>();
        for (String dependency : task.dependsOn()) {
            if (results.get(dependency) instanceof TaskResult.Ran r && r.outcome() instanceof TaskOutcome.Completed c) {
                inputs.put(dependency, c);
            }
        }
        String agentId = "agent-" + (slot + 1);
        TaskContext context = new TaskContext(run.id(), run.budget(), agentId, inputs);
        int slotIndex = slot;
        Thread worker = Thread.ofVirtual()
                .name("tiergate-run-" + run.id() + "-" + task.id())
                .unstarted(() -> work(index, slotIndex, task, context));
        workers.add(worker);
        worker.start();
    }

    private void work(int index, int slot, WorkflowTask task, TaskContext context) {
        Duration started = sinceStart();
        TaskOutcome outcome = TaskOutcome.Failed.of("executor ended abnormally");
        try {
            listener.started(task, context.agentId());
            outcome = Objects.requireNonNull(executor.execute(task, context), "executor returned no outcome");
        } catch (InterruptedException e) {
            outcome = TaskOutcome.Failed.of("interrupted: the run was interrupted");
        } catch (RuntimeException e) {
            outcome = TaskOutcome.Failed.of("executor threw " + e);
        } finally {
            finish(
                    index,
                    slot,
                    new TaskResult.Ran(task.id(), task.taskType(), outcome, context.agentId(), started, sinceStart()));
        }
    }

    private void finish(int index, int slot, TaskResult.Ran result) {
        lock.lock();
        try {
            // stop admitting at once, before anyone hears of the denial and before this permit is free
            if (result.outcome() instanceof TaskOutcome.BudgetDenied denied
                    && end instanceof WorkflowReport.End.Finished) {
                end = new WorkflowReport.End.BudgetExhausted(denied.message());
            }
        } finally {
            lock.unlock();
        }
        try {
            listener.ended(result);
        } finally {
            lock.lock();
            try {
                // only now may dependents start: they see this result after the listener has
                results.put(result.taskId(), result);
                status[index] = Status.DONE;
                slotBusy[slot] = false;
                inFlight--;
                workers.remove(Thread.currentThread());
                changed.signalAll();
            } finally {
                lock.unlock();
            }
            permits.release();
        }
    }

    private void announce(List<TaskResult> resolved) {
        for (TaskResult result : resolved) {
            listener.ended(result);
        }
    }

    private WorkflowReport.End currentEnd() {
        lock.lock();
        try {
            return end;
        } finally {
            lock.unlock();
        }
    }

    private Duration sinceStart() {
        return Duration.between(startedAt, clock.instant());
    }
}
