package dev.tiergate.workflow;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.tiergate.pricing.Money;
import java.util.List;
import org.junit.jupiter.api.Test;

class WorkflowRunTest {
    static final JsonNode REQUEST = JsonNodeFactory.instance.objectNode().put("max_tokens", 100);

    static WorkflowTask task(String id, String... dependsOn) {
        return WorkflowTask.of(id, "extraction", REQUEST, dependsOn);
    }

    static WorkflowException invalid(WorkflowTask... tasks) {
        try {
            WorkflowRun.of("r-1", RunBudget.unlimited(), tasks);
        } catch (WorkflowException e) {
            return e;
        }
        throw new AssertionError("expected the run to be invalid");
    }

    @Test
    void acceptsAnAcyclicGraphWithFanOutAndFanIn() {
        WorkflowRun run = WorkflowRun.of(
                "r-1",
                RunBudget.capped(Money.parseUsd("2")),
                task("plan"),
                task("a", "plan"),
                task("b", "plan"),
                task("join", "a", "b"));

        assertThat(run.tasks()).extracting(WorkflowTask::id).containsExactly("plan", "a", "b", "join");
        assertThat(run.budget().limit()).contains(Money.parseUsd("2"));
        assertThat(run.task("join").orElseThrow().dependsOn()).containsExactly("a", "b");
        assertThat(run.task("nope")).isEmpty();
    }

    @Test
    void namesTheCycleStartingAtItsFirstDefinedTask() {
        WorkflowException e = invalid(task("ok"), task("b", "c"), task("a", "b"), task("c", "a"), task("x", "x"));

        assertThat(e.problems()).containsExactly("dependency cycle: b -> c -> a -> b", "dependency cycle: x -> x");
        assertThat(e.getMessage())
                .startsWith("workflow run 'r-1' is invalid (2 problems):")
                .contains("\n  dependency cycle: b -> c -> a -> b");
    }

    @Test
    void listsEveryProblemAtOnce() {
        WorkflowException e = invalid(task("a"), task("a", "ghost"), task("b", "c"), task("c", "b"), task("d", "zz"));

        assertThat(e.problems())
                .containsExactly(
                        "task id 'a' is defined 2 times",
                        "task 'a' depends on unknown task 'ghost'",
                        "task 'd' depends on unknown task 'zz'",
                        "dependency cycle: b -> c -> b");
    }

    @Test
    void rejectsAnEmptyRunAndABlankRunId() {
        assertThatThrownBy(() -> new WorkflowRun(" ", RunBudget.unlimited(), List.of()))
                .isInstanceOf(WorkflowException.class)
                .satisfies(e -> assertThat(((WorkflowException) e).problems())
                        .containsExactly("run id must not be blank", "a run needs at least one task"));
    }

    @Test
    void rejectsBadTasksAndBudgetsWhenBuilt() {
        assertThatThrownBy(() -> task("a", "b", "b"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("task 'a' lists dependency 'b' more than once");
        assertThatThrownBy(() -> task(" ")).hasMessage("task id must not be blank");
        assertThatThrownBy(() -> WorkflowTask.of("a", "", REQUEST)).hasMessage("task 'a': task type must not be blank");
        assertThatThrownBy(() -> RunBudget.capped(Money.ZERO))
                .hasMessage("run budget must be positive, got 0.000000000 USD");
        assertThat(RunBudget.unlimited().limit()).isEmpty();
    }

    @Test
    void keepsItsOwnCopyOfTheRequest() {
        var request = JsonNodeFactory.instance.objectNode().put("max_tokens", 100);
        WorkflowTask task = WorkflowTask.of("a", "extraction", request);
        request.put("max_tokens", 5);

        assertThat(task.request().get("max_tokens").asInt()).isEqualTo(100);
    }
}
