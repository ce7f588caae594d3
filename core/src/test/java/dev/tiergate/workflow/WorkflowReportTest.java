package dev.tiergate.workflow;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import dev.tiergate.pricing.Money;
import dev.tiergate.pricing.Usage;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class WorkflowReportTest {
    static final Instant START = Instant.parse("2026-03-01T09:00:00Z");

    static TaskResult.Ran ran(String id, String type, TaskOutcome outcome, int startMs, int endMs) {
        return new TaskResult.Ran(id, type, outcome, "agent-1", Duration.ofMillis(startMs), Duration.ofMillis(endMs));
    }

    static TaskOutcome.Completed completed(long nanos, long in, long out) {
        return new TaskOutcome.Completed(TextNode.valueOf("ok"), Money.ofNanos(nanos), Usage.of(in, out));
    }

    static final WorkflowReport REPORT = new WorkflowReport(
            "r-9",
            RunBudget.capped(Money.parseUsd("1")),
            START,
            Duration.ofMillis(42),
            new WorkflowReport.End.BudgetExhausted("budget 'run r-9' total limit 1.000000000 USD: spent ..."),
            List.of(
                    ran("plan", "planning", completed(123_456_789, 1_000, 300), 0, 10),
                    ran("x-1", "extraction", completed(333_333_333, 2_000, 40), 10, 20),
                    ran("x-2", "extraction", completed(333_333_333, 2_100, 41), 10, 21),
                    ran("x-3", "extraction", new TaskOutcome.Failed("upstream 529", Money.ofNanos(7)), 10, 22),
                    ran("x-4", "extraction", new TaskOutcome.BudgetDenied("budget 'run r-9' ..."), 21, 21),
                    new TaskResult.Skipped("judge", "judging", "dependency 'x-3' failed: upstream 529"),
                    new TaskResult.Cancelled("synth", "synthesis", "run budget exhausted: budget 'run r-9' ...")));

    @Test
    void sumsCostAndTokensByTaskTypeExactly() {
        assertThat(REPORT.costByType())
                .containsExactly(
                        new WorkflowReport.TypeCost(
                                "planning", 1, 1, 1, Usage.of(1_000, 300), Money.ofNanos(123_456_789)),
                        new WorkflowReport.TypeCost(
                                "extraction", 4, 4, 2, Usage.of(4_100, 81), Money.ofNanos(666_666_673)),
                        new WorkflowReport.TypeCost("judging", 1, 0, 0, Usage.ZERO, Money.ZERO),
                        new WorkflowReport.TypeCost("synthesis", 1, 0, 0, Usage.ZERO, Money.ZERO));
        assertThat(REPORT.totals())
                .isEqualTo(new WorkflowReport.TypeCost(
                        "total", 7, 5, 3, Usage.of(5_100, 381), Money.ofNanos(790_123_462)));
        Money perTypeSum =
                REPORT.costByType().stream().map(WorkflowReport.TypeCost::cost).reduce(Money.ZERO, Money::plus);
        assertThat(perTypeSum).isEqualTo(REPORT.totalCost());
    }

    @Test
    void countsEveryFinalState() {
        assertThat(REPORT.count(TaskResult.State.COMPLETED)).isEqualTo(3);
        assertThat(REPORT.count(TaskResult.State.FAILED)).isEqualTo(1);
        assertThat(REPORT.count(TaskResult.State.BUDGET_DENIED)).isEqualTo(1);
        assertThat(REPORT.count(TaskResult.State.SKIPPED)).isEqualTo(1);
        assertThat(REPORT.count(TaskResult.State.CANCELLED)).isEqualTo(1);
    }

    @Test
    void rendersAReadableTable() {
        assertThat(REPORT.toTable()).isEqualTo("""
                run r-9  budget 1.000000000 USD  elapsed 42.000 ms  stopped: run budget exhausted: budget 'run r-9' \
                total limit 1.000000000 USD: spent ...
                task   type        state          agent    start ms  end ms  cost USD     detail
                plan   planning    COMPLETED      agent-1  0.000     10.000  0.123456789
                x-1    extraction  COMPLETED      agent-1  10.000    20.000  0.333333333
                x-2    extraction  COMPLETED      agent-1  10.000    21.000  0.333333333
                x-3    extraction  FAILED         agent-1  10.000    22.000  0.000000007  upstream 529
                x-4    extraction  BUDGET_DENIED  agent-1  21.000    21.000  0.000000000  budget 'run r-9' ...
                judge  judging     SKIPPED        -        -         -       -            dependency 'x-3' failed: \
                upstream 529
                synth  synthesis   CANCELLED      -        -         -       -            run budget exhausted: \
                budget 'run r-9' ...

                cost by task type
                type        tasks  calls  completed  input tokens  output tokens  cost USD
                planning    1      1      1          1000          300            0.123456789
                extraction  4      4      2          4100          81             0.666666673
                judging     1      0      0          0             0              0.000000000
                synthesis   1      0      0          0             0              0.000000000
                total       7      5      3          5100          381            0.790123462
                """);
    }

    @Test
    void writesJsonWithExactNanos() {
        ObjectNode json = REPORT.toJson();

        assertThat(json.get("run_id").asText()).isEqualTo("r-9");
        assertThat(json.get("budget_usd").asText()).isEqualTo("1.000000000");
        assertThat(json.get("started_at").asText()).isEqualTo("2026-03-01T09:00:00Z");
        assertThat(json.at("/end/kind").asText()).isEqualTo("budget_exhausted");
        assertThat(json.get("tasks")).hasSize(7);
        assertThat(json.at("/tasks/3/state").asText()).isEqualTo("failed");
        assertThat(json.at("/tasks/3/reason").asText()).isEqualTo("upstream 529");
        assertThat(json.at("/tasks/3/cost_nanos").asLong()).isEqualTo(7);
        assertThat(json.at("/tasks/6/state").asText()).isEqualTo("cancelled");
        assertThat(json.at("/tasks/6/agent").isMissingNode()).isTrue();
        assertThat(json.at("/cost_by_type/1/type").asText()).isEqualTo("extraction");
        assertThat(json.at("/cost_by_type/1/cost_nanos").asLong()).isEqualTo(666_666_673);
        assertThat(json.at("/totals/cost_usd").asText()).isEqualTo("0.790123462");
        assertThat(json.at("/totals/input_tokens").asLong()).isEqualTo(5_100);
    }

    @Test
    void writesNullForAnUnlimitedBudget() {
        WorkflowReport report = new WorkflowReport(
                "r-1",
                RunBudget.unlimited(),
                START,
                Duration.ZERO,
                new WorkflowReport.End.Finished(),
                List.of(ran("a", "extraction", completed(1, 1, 1), 0, 0)));

        assertThat(report.toJson().get("budget_usd").isNull()).isTrue();
        assertThat(report.toJson().at("/end/kind").asText()).isEqualTo("finished");
        assertThat(report.toTable()).startsWith("run r-1  budget unlimited  elapsed 0.000 ms  finished\n");
    }
}
