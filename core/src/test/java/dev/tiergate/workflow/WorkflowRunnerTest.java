package dev.tiergate.workflow;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.TextNode;
import dev.tiergate.pricing.Money;
import dev.tiergate.pricing.Usage;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class WorkflowRunnerTest {
    static final JsonNode REQUEST = JsonNodeFactory.instance.objectNode().put("max_tokens", 100);
    static final Money CENT = Money.parseUsd("0.01");

    static WorkflowTask task(String id, String... dependsOn) {
        return WorkflowTask.of(id, "extraction", REQUEST, dependsOn);
    }

    static TaskOutcome.Completed completed(String text) {
        return new TaskOutcome.Completed(TextNode.valueOf(text), CENT, Usage.of(100, 10));
    }

    /** Waits for {@code latch} or fails the calling task: a test that hangs here is a failing test. */
    static void await(CountDownLatch latch) throws InterruptedException {
        if (!latch.await(10, TimeUnit.SECONDS)) {
            throw new IllegalStateException("timed out waiting for a latch");
        }
    }

    /** Runs on a virtual thread so the test thread can steer the executor; returns the report. */
    static final class Background {
        final AtomicReference<WorkflowReport> report = new AtomicReference<>();
        final AtomicReference<Boolean> interruptedAfter = new AtomicReference<>(false);
        final Thread thread;

        Background(WorkflowRunner runner, WorkflowRun run, TaskExecutor executor, WorkflowRunner.Listener listener) {
            thread = Thread.ofVirtual().start(() -> {
                report.set(runner.run(run, executor, listener));
                interruptedAfter.set(Thread.currentThread().isInterrupted());
            });
        }

        WorkflowReport join() throws InterruptedException {
            assertThat(thread.join(Duration.ofSeconds(10))).as("run finished").isTrue();
            return report.get();
        }
    }

    @Test
    void startsReadyTasksInDefinitionOrder() {
        List<String> starts = new CopyOnWriteArrayList<>();
        WorkflowRun run = WorkflowRun.of("r-1", RunBudget.unlimited(), task("a"), task("b", "c"), task("c"), task("d"));

        WorkflowReport report = WorkflowRunner.of(1).run(run, (t, ctx) -> {
            starts.add(t.id());
            return completed(t.id());
        });

        // after a: c and d are ready (b waits for c); c is defined first; then b (defined before d)
        assertThat(starts).containsExactly("a", "c", "b", "d");
        assertThat(report.count(TaskResult.State.COMPLETED)).isEqualTo(4);
        assertThat(report.end()).isEqualTo(new WorkflowReport.End.Finished());
    }

    @Test
    void aDependentNeverStartsBeforeItsDependenciesComplete() {
        List<WorkflowTask> tasks = new ArrayList<>();
        tasks.add(task("root"));
        for (int i = 0; i < 6; i++) {
            tasks.add(task("left-" + i, i == 0 ? "root" : "left-" + (i - 1)));
            tasks.add(task("wide-" + i, "root"));
        }
        tasks.add(task("join", "left-5", "wide-0", "wide-1", "wide-2", "wide-3", "wide-4", "wide-5"));
        tasks.add(task("after-join", "join", "root"));
        WorkflowRun run = new WorkflowRun("r-1", RunBudget.unlimited(), tasks);
        List<String> log = new CopyOnWriteArrayList<>();

        WorkflowReport report = WorkflowRunner.of(4).run(run, (t, ctx) -> {
            log.add("start " + t.id());
            log.add("complete " + t.id());
            return completed(t.id());
        });

        for (WorkflowTask t : tasks) {
            for (String dependency : t.dependsOn()) {
                assertThat(log.indexOf("complete " + dependency))
                        .as("%s completes before %s starts", dependency, t.id())
                        .isLessThan(log.indexOf("start " + t.id()));
            }
        }
        assertThat(log).hasSize(2 * tasks.size());
        assertThat(report.count(TaskResult.State.COMPLETED)).isEqualTo(tasks.size());
    }

    @Test
    void aJoinTaskSeesEveryDependencyOutput() {
        List<WorkflowTask> tasks = new ArrayList<>();
        tasks.add(WorkflowTask.of("plan", "planning", REQUEST));
        List<String> extracts = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            extracts.add("extract-" + i);
            tasks.add(WorkflowTask.of("extract-" + i, "extraction", REQUEST, "plan"));
        }
        tasks.add(WorkflowTask.of("synthesis", "synthesis", REQUEST, extracts.toArray(String[]::new)));
        WorkflowRun run = new WorkflowRun("r-7", RunBudget.capped(Money.parseUsd("1.5")), tasks);
        Map<String, TaskContext> contexts = new ConcurrentHashMap<>();

        WorkflowReport report = WorkflowRunner.of(3).run(run, (t, ctx) -> {
            contexts.put(t.id(), ctx);
            String text = switch (t.taskType()) {
                case "planning" -> "plan";
                case "extraction" -> t.id() + " after " + ctx.dependency("plan").text();
                default ->
                    String.join(
                            " | ",
                            ctx.dependencies().values().stream()
                                    .map(TaskOutcome.Completed::text)
                                    .toList());
            };
            return completed(text);
        });

        TaskContext join = contexts.get("synthesis");
        assertThat(join.dependencies()).containsOnlyKeys(extracts);
        assertThat(List.copyOf(join.dependencies().keySet())).isEqualTo(extracts);
        assertThat(join.runId()).isEqualTo("r-7");
        assertThat(join.runBudget()).isEqualTo(RunBudget.capped(Money.parseUsd("1.5")));
        assertThat(contexts.get("plan").dependencies()).isEmpty();
        TaskResult.Ran synthesis = (TaskResult.Ran) report.result("synthesis").orElseThrow();
        assertThat(((TaskOutcome.Completed) synthesis.outcome()).text())
                .isEqualTo("extract-0 after plan | extract-1 after plan | extract-2 after plan | extract-3 after plan"
                        + " | extract-4 after plan");
        assertThat(report.tasks())
                .allSatisfy(r -> assertThat(((TaskResult.Ran) r).agentId()).isIn("agent-1", "agent-2", "agent-3"));
    }

    @Test
    void neverRunsMoreTasksAtOnceThanItHasAgents() throws InterruptedException {
        List<WorkflowTask> tasks = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            tasks.add(task("t-" + i));
        }
        WorkflowRun run = new WorkflowRun("r-1", RunBudget.unlimited(), tasks);
        AtomicInteger inFlight = new AtomicInteger();
        AtomicInteger peak = new AtomicInteger();
        CountDownLatch threeRunning = new CountDownLatch(3);
        CountDownLatch gate = new CountDownLatch(1);
        Set<String> agents = ConcurrentHashMap.newKeySet();
        Set<String> busyAgents = ConcurrentHashMap.newKeySet();
        AtomicInteger slotClashes = new AtomicInteger();
        TaskExecutor executor = (t, ctx) -> {
            if (!busyAgents.add(ctx.agentId())) {
                slotClashes.incrementAndGet();
            }
            agents.add(ctx.agentId());
            peak.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
            threeRunning.countDown();
            await(gate);
            inFlight.decrementAndGet();
            busyAgents.remove(ctx.agentId());
            return completed(t.id());
        };

        Background background = new Background(
                new WorkflowRunner(3, Clock.systemUTC()), run, executor, new WorkflowRunner.Listener() {});
        await(threeRunning);
        assertThat(inFlight.get()).isEqualTo(3);
        gate.countDown();
        WorkflowReport report = background.join();

        assertThat(peak.get()).isEqualTo(3);
        assertThat(slotClashes.get()).isZero();
        assertThat(agents).containsExactlyInAnyOrder("agent-1", "agent-2", "agent-3");
        assertThat(report.count(TaskResult.State.COMPLETED)).isEqualTo(20);
    }

    @Test
    void cancelsTasksNotYetStartedOnTheFirstBudgetDenialAndLetsInFlightOnesFinish() throws InterruptedException {
        List<WorkflowTask> tasks = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            tasks.add(task("t-" + i));
        }
        WorkflowRun run = new WorkflowRun("r-1", RunBudget.capped(Money.parseUsd("0.05")), tasks);
        String denial = "budget 'run r-1' total limit 0.050000000 USD: spent 0.040000000 + reserved 0.020000000 +"
                + " this call's estimate 0.010000000 would exceed it";
        AtomicInteger calls = new AtomicInteger();
        CountDownLatch twoOthersRunning = new CountDownLatch(2);
        CountDownLatch denialHeard = new CountDownLatch(1);
        TaskExecutor executor = (t, ctx) -> {
            int call = calls.incrementAndGet();
            if (call < 5) {
                return completed(t.id());
            }
            if (call == 5) {
                await(twoOthersRunning); // the other two agents are mid-call when the denial comes back
                return new TaskOutcome.BudgetDenied(denial);
            }
            twoOthersRunning.countDown();
            await(denialHeard);
            return completed(t.id()); // calls 6 and 7 were admitted before the denial: they finish
        };
        WorkflowRunner.Listener listener = new WorkflowRunner.Listener() {
            @Override
            public void ended(TaskResult result) {
                if (result.state() == TaskResult.State.BUDGET_DENIED) {
                    denialHeard.countDown();
                }
            }
        };

        WorkflowReport report = WorkflowRunner.of(3).run(run, executor, listener);

        assertThat(calls.get()).isEqualTo(7);
        assertThat(report.count(TaskResult.State.COMPLETED)).isEqualTo(6);
        assertThat(report.count(TaskResult.State.BUDGET_DENIED)).isEqualTo(1);
        assertThat(report.count(TaskResult.State.CANCELLED)).isEqualTo(3);
        assertThat(report.tasks())
                .filteredOn(r -> r.state() == TaskResult.State.CANCELLED)
                .allSatisfy(r ->
                        assertThat(((TaskResult.Cancelled) r).reason()).isEqualTo("run budget exhausted: " + denial));
        assertThat(report.tasks().subList(7, 10))
                .allSatisfy(r -> assertThat(r.state()).isEqualTo(TaskResult.State.CANCELLED));
        assertThat(report.end()).isEqualTo(new WorkflowReport.End.BudgetExhausted(denial));
        assertThat(report.totalCost()).isEqualTo(CENT.times(6));
        assertThat(report.totals().calls()).isEqualTo(7);
    }

    @Test
    void skipsEveryTaskDownstreamOfAFailureAndRunsTheRest() {
        WorkflowRun run = WorkflowRun.of(
                "r-1",
                RunBudget.unlimited(),
                task("c", "b"),
                task("a"),
                task("b", "a"),
                task("d"),
                task("e", "d", "a"),
                task("f", "d"));
        Money failedCost = Money.ofNanos(1_234);

        WorkflowReport report = WorkflowRunner.of(2)
                .run(
                        run,
                        (t, ctx) -> t.id().equals("a")
                                ? new TaskOutcome.Failed("upstream 500 api_error", failedCost)
                                : completed(t.id()));

        assertThat(report.tasks())
                .extracting(TaskResult::taskId, TaskResult::state)
                .containsExactly(
                        tuple("c", TaskResult.State.SKIPPED),
                        tuple("a", TaskResult.State.FAILED),
                        tuple("b", TaskResult.State.SKIPPED),
                        tuple("d", TaskResult.State.COMPLETED),
                        tuple("e", TaskResult.State.SKIPPED),
                        tuple("f", TaskResult.State.COMPLETED));
        assertThat(report.result("b").orElseThrow())
                .isEqualTo(new TaskResult.Skipped("b", "extraction", "dependency 'a' failed: upstream 500 api_error"));
        assertThat(report.result("c").orElseThrow())
                .isEqualTo(new TaskResult.Skipped("c", "extraction", "dependency 'b' was skipped"));
        assertThat(report.result("e").orElseThrow())
                .isEqualTo(new TaskResult.Skipped("e", "extraction", "dependency 'a' failed: upstream 500 api_error"));
        assertThat(report.totalCost()).isEqualTo(CENT.times(2).plus(failedCost));
        assertThat(report.end()).isEqualTo(new WorkflowReport.End.Finished());
    }

    @Test
    void recordsAnExecutorExceptionAsAFailure() {
        WorkflowRun run = WorkflowRun.of("r-1", RunBudget.unlimited(), task("a"), task("b", "a"));

        WorkflowReport report = WorkflowRunner.of(2).run(run, (t, ctx) -> {
            throw new IllegalStateException("boom");
        });

        assertThat(((TaskResult.Ran) report.result("a").orElseThrow()).outcome())
                .isEqualTo(TaskOutcome.Failed.of("executor threw java.lang.IllegalStateException: boom"));
        assertThat(report.result("b").orElseThrow().state()).isEqualTo(TaskResult.State.SKIPPED);
    }

    @Test
    void anInterruptedRunCancelsWhatHasNotStartedAndInterruptsWhatRuns() throws InterruptedException {
        WorkflowRun run = WorkflowRun.of("r-1", RunBudget.unlimited(), task("a"), task("b"), task("c", "a"));
        CountDownLatch running = new CountDownLatch(1);
        CountDownLatch never = new CountDownLatch(1);
        TaskExecutor executor = (t, ctx) -> {
            running.countDown();
            never.await();
            return completed(t.id());
        };

        Background background = new Background(WorkflowRunner.of(1), run, executor, new WorkflowRunner.Listener() {});
        await(running);
        background.thread.interrupt();
        WorkflowReport report = background.join();

        assertThat(report.end()).isEqualTo(new WorkflowReport.End.Interrupted());
        assertThat(((TaskResult.Ran) report.result("a").orElseThrow()).outcome())
                .isEqualTo(TaskOutcome.Failed.of("interrupted: the run was interrupted"));
        assertThat(report.result("b").orElseThrow())
                .isEqualTo(new TaskResult.Cancelled("b", "extraction", "run interrupted"));
        assertThat(report.result("c").orElseThrow().state()).isEqualTo(TaskResult.State.CANCELLED);
        assertThat(background.interruptedAfter.get()).isTrue();
    }

    @Test
    void tellsTheListenerAboutEveryTaskOnce() {
        WorkflowRun run = WorkflowRun.of("r-1", RunBudget.unlimited(), task("a"), task("b", "a"), task("c"));
        List<String> events = new CopyOnWriteArrayList<>();
        WorkflowRunner.Listener listener = new WorkflowRunner.Listener() {
            @Override
            public void started(WorkflowTask task, String agentId) {
                events.add("started " + task.id() + " on " + agentId);
            }

            @Override
            public void ended(TaskResult result) {
                events.add("ended " + result.taskId() + " " + result.state());
            }
        };

        WorkflowRunner.of(1)
                .run(run, (t, ctx) -> t.id().equals("a") ? TaskOutcome.Failed.of("bad") : completed(t.id()), listener);

        assertThat(events)
                .containsExactly(
                        "started a on agent-1",
                        "ended a FAILED",
                        "ended b SKIPPED",
                        "started c on agent-1",
                        "ended c COMPLETED");
    }
}
