package dev.tiergate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tiergate.ledger.CallQuery;
import dev.tiergate.ledger.CallStatus;
import dev.tiergate.ledger.LedgerRow;
import dev.tiergate.messages.SseEvent;
import dev.tiergate.pricing.Money;
import dev.tiergate.pricing.Usage;
import dev.tiergate.workflow.RunBudget;
import dev.tiergate.workflow.TaskOutcome;
import dev.tiergate.workflow.TaskResult;
import dev.tiergate.workflow.WorkflowReport;
import dev.tiergate.workflow.WorkflowRun;
import dev.tiergate.workflow.WorkflowRunner;
import dev.tiergate.workflow.WorkflowTask;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The in-process API: the gateway's pipeline with no HTTP hop, on the simulated upstream, driving a workflow. */
class TiergateInProcessIT {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private Tiergate open(String extra) throws Exception {
        Files.writeString(dir.resolve("policy.yaml"), GatewayHarness.POLICY);
        Files.writeString(dir.resolve("tiergate.yaml"), """
                policy: policy.yaml
                upstream: { base_url: simulated, simulator_seed: 7, simulator_time_compression: 1000000 }
                keys: []
                ledger: { sqlite: ledger.db }
                %s
                """.formatted(extra));
        GatewayConfig config = GatewayConfig.load(dir.resolve("tiergate.yaml"), Map.of(), LocalDate.of(2026, 11, 29));
        return Tiergate.open(config, c -> {}, Clock.systemUTC());
    }

    private static JsonNode request(int maxTokens) throws Exception {
        return JSON.readTree("{\"max_tokens\":" + maxTokens
                + ",\"messages\":[{\"role\":\"user\",\"content\":\"Summarise the quarterly report for the board.\"}]}");
    }

    @Test
    void callRoutesCapsCostsAndRecordsWithoutHttp() throws Exception {
        try (Tiergate tg = open("")) {
            Tiergate.Response r = tg.call("synthesis", request(8000), Tiergate.Caller.named("planner"));
            assertThat(r.ok()).isTrue();
            assertThat(r.header("x-tiergate-model")).contains("claude-opus-4-6");
            assertThat(r.header("x-tiergate-max-tokens")).contains("2000");
            assertThat(r.body().path("content").get(0).path("text").asText()).contains("simulated");
            Usage usage = Usage.fromJson(r.body().path("usage"));
            Money expected = tg.config()
                    .catalog()
                    .cost("claude-opus-4-6", usage, dev.tiergate.pricing.CostOptions.STANDARD)
                    .total();
            assertThat(r.header("x-tiergate-cost-usd")).contains(expected.toUsdString());
            LedgerRow row = tg.ledger().calls(CallQuery.latest(10)).rows().get(0);
            assertThat(row.call().keyName()).isEqualTo("planner");
            // answered by the simulator: the request id says so, in the ledger and in the response header
            assertThat(row.call().requestId()).startsWith(Gateway.SIMULATED_REQUEST_ID_PREFIX);
            assertThat(r.header("x-tiergate-request-id")).contains(row.call().requestId());
            assertThat(row.outcome().cost()).isEqualTo(expected);
        }
    }

    @Test
    void streamDeliversEventsAsTheyComeAndSettlesTheUsage() throws Exception {
        try (Tiergate tg = open("")) {
            List<SseEvent> events = new ArrayList<>();
            Tiergate.Response r =
                    tg.stream("extraction", request(4000), Tiergate.Caller.named("extractor"), events::add);
            assertThat(r.ok()).isTrue();
            assertThat(events).first().satisfies(e -> assertThat(e.name()).isEqualTo("message_start"));
            assertThat(events).last().satisfies(e -> assertThat(e.name()).isEqualTo("message_stop"));
            LedgerRow row = tg.ledger().calls(CallQuery.latest(10)).rows().get(0);
            assertThat(row.outcome().status()).isEqualTo(CallStatus.OK);
            assertThat(row.outcome().usage().outputTokens()).isPositive().isLessThanOrEqualTo(300);
            assertThat(row.outcome().cost().nanos()).isPositive();
        }
    }

    @Test
    void aWorkflowRunStopsCleanlyWhenItsBudgetIsSpent() throws Exception {
        try (Tiergate tg =
                open("budgets:\n  - { name: runs, scope: run, per_run: true, window: total, limit_usd: 0.5 }\n")) {
            List<WorkflowTask> tasks = new ArrayList<>();
            List<String> all = new ArrayList<>();
            for (int i = 0; i < 40; i++) {
                tasks.add(WorkflowTask.of("s" + i, "synthesis", request(2000)));
                all.add("s" + i);
            }
            tasks.add(WorkflowTask.of("judge", "judge", request(500), all.toArray(String[]::new)));
            WorkflowRun run = WorkflowRun.of(
                    "run-1", RunBudget.capped(Money.parseUsd("0.5")), tasks.toArray(WorkflowTask[]::new));
            WorkflowReport report = WorkflowRunner.of(4).run(run, (task, ctx) -> {
                Tiergate.Response r = tg.call(
                        task.taskType(),
                        task.request(),
                        Tiergate.Caller.named("orchestrator").inRun(ctx.runId(), ctx.agentId()));
                if (r.status() == 429) {
                    return new TaskOutcome.BudgetDenied(
                            r.body().path("error").path("message").asText());
                }
                if (!r.ok()) {
                    return TaskOutcome.Failed.of(r.body().toString());
                }
                Money cost = Money.parseUsd(r.header("x-tiergate-cost-usd").orElseThrow());
                return new TaskOutcome.Completed(
                        r.body(), cost, Usage.fromJson(r.body().path("usage")));
            });
            assertThat(report.count(TaskResult.State.BUDGET_DENIED)).isPositive();
            assertThat(report.count(TaskResult.State.COMPLETED)).isPositive();
            assertThat(report.count(TaskResult.State.CANCELLED) + report.count(TaskResult.State.SKIPPED))
                    .isPositive();
            assertThat(report.result("judge").orElseThrow().state()).isNotEqualTo(TaskResult.State.COMPLETED);
            Money ledgerRun = tg.ledger().calls(CallQuery.latest(1000)).rows().stream()
                    .filter(r -> r.call().runId().equals("run-1"))
                    .map(r -> r.outcome().cost())
                    .reduce(Money.ZERO, Money::plus);
            assertThat(report.totalCost()).isEqualTo(ledgerRun);
            assertThat(ledgerRun.isGreaterThan(Money.parseUsd("0.5"))).isFalse();
        }
    }
}
