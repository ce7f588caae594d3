package dev.tiergate.workflow;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tiergate.pricing.Money;
import dev.tiergate.pricing.Usage;
import java.math.BigDecimal;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The result of one workflow run: every task's final state in definition order, timing, and cost by task type.
 *
 * <p>Cost sums are exact: each is the nano-USD sum of the executor's reported costs, and the per-type sums add up to
 * {@link #totals()} to the nano-dollar. Costs count every task that ran, failed ones included (a failed call can
 * still be billed); skipped and cancelled tasks cost nothing. Immutable and thread-safe.
 *
 * @param runId the run's id
 * @param budget the run's cap as defined
 * @param startedAt when the run started, from the runner's clock
 * @param elapsed from the start of the run until the last task ended
 * @param end whether the run finished or stopped early, and why
 * @param tasks one result per task, in definition order
 */
public record WorkflowReport(
        String runId, RunBudget budget, Instant startedAt, Duration elapsed, End end, List<TaskResult> tasks) {

    /** Copies the task list. */
    public WorkflowReport {
        tasks = List.copyOf(tasks);
    }

    /** How a run ended. */
    public sealed interface End permits End.Finished, End.BudgetExhausted, End.Interrupted {

        /** Every task was started or skipped; none was cancelled. */
        record Finished() implements End {}

        /**
         * A task's budget admission was denied; tasks not yet started were cancelled.
         *
         * @param message the first denial's message
         */
        record BudgetExhausted(String message) implements End {}

        /** The thread running {@link WorkflowRunner#run} was interrupted; tasks not yet started were cancelled. */
        record Interrupted() implements End {}
    }

    /**
     * Cost and tokens of the tasks of one type (or of all, in {@link #totals()}).
     *
     * @param taskType the task type, or {@code total}
     * @param tasks tasks of this type in the run
     * @param calls tasks that the executor ran (completed, failed or denied)
     * @param completed tasks that completed
     * @param usage summed tokens of the tasks that ran
     * @param cost summed cost of the tasks that ran, in nano-USD
     */
    public record TypeCost(String taskType, int tasks, int calls, int completed, Usage usage, Money cost) {

        TypeCost plus(TaskResult result) {
            boolean ran = result instanceof TaskResult.Ran;
            return new TypeCost(
                    taskType,
                    tasks + 1,
                    calls + (ran ? 1 : 0),
                    completed + (result.state() == TaskResult.State.COMPLETED ? 1 : 0),
                    usage.plus(result.usage()),
                    cost.plus(result.cost()));
        }

        static TypeCost empty(String taskType) {
            return new TypeCost(taskType, 0, 0, 0, Usage.ZERO, Money.ZERO);
        }
    }

    /** The result of task {@code taskId}, if the run has such a task. */
    public Optional<TaskResult> result(String taskId) {
        return tasks.stream().filter(t -> t.taskId().equals(taskId)).findFirst();
    }

    /** How many tasks ended in {@code state}. */
    public int count(TaskResult.State state) {
        return (int) tasks.stream().filter(t -> t.state() == state).count();
    }

    /** Cost by task type, types in order of first appearance in the run. */
    public List<TypeCost> costByType() {
        Map<String, TypeCost> byType = new LinkedHashMap<>();
        for (TaskResult result : tasks) {
            String type = result.taskType();
            byType.put(type, byType.getOrDefault(type, TypeCost.empty(type)).plus(result));
        }
        return List.copyOf(byType.values());
    }

    /** Cost and tokens of the whole run, labelled {@code total}. */
    public TypeCost totals() {
        TypeCost total = TypeCost.empty("total");
        for (TaskResult result : tasks) {
            total = total.plus(result);
        }
        return total;
    }

    /** The total cost of the run in nano-USD. */
    public Money totalCost() {
        return totals().cost();
    }

    /** A plain-text report: a header, one row per task, and the cost by task type with a total row. */
    public String toTable() {
        StringBuilder sb = new StringBuilder();
        sb.append("run ")
                .append(runId)
                .append("  budget ")
                .append(budget)
                .append("  elapsed ")
                .append(millis(elapsed))
                .append(" ms  ")
                .append(describe(end))
                .append('\n');
        List<List<String>> rows = new ArrayList<>();
        rows.add(List.of("task", "type", "state", "agent", "start ms", "end ms", "cost USD", "detail"));
        for (TaskResult t : tasks) {
            rows.add(
                    switch (t) {
                        case TaskResult.Ran r ->
                            List.of(
                                    r.taskId(),
                                    r.taskType(),
                                    r.state().name(),
                                    r.agentId(),
                                    millis(r.started()).toPlainString(),
                                    millis(r.ended()).toPlainString(),
                                    r.cost().toUsdString(),
                                    detail(r.outcome()));
                        case TaskResult.Skipped s ->
                            List.of(s.taskId(), s.taskType(), s.state().name(), "-", "-", "-", "-", s.reason());
                        case TaskResult.Cancelled c ->
                            List.of(c.taskId(), c.taskType(), c.state().name(), "-", "-", "-", "-", c.reason());
                    });
        }
        appendTable(sb, rows);
        sb.append('\n').append("cost by task type\n");
        List<List<String>> costs = new ArrayList<>();
        costs.add(List.of("type", "tasks", "calls", "completed", "input tokens", "output tokens", "cost USD"));
        for (TypeCost c : costByType()) {
            costs.add(costRow(c));
        }
        costs.add(costRow(totals()));
        appendTable(sb, costs);
        return sb.toString();
    }

    /**
     * The report as JSON: {@code run_id}, {@code budget_usd} (null when unlimited), {@code started_at}, {@code
     * elapsed_ms}, {@code end}, {@code tasks}, {@code cost_by_type} and {@code totals}. Money appears twice, as a
     * decimal USD string ({@code cost_usd}) and as exact integer {@code cost_nanos}.
     */
    public ObjectNode toJson() {
        JsonNodeFactory f = JsonNodeFactory.instance;
        ObjectNode root = f.objectNode();
        root.put("run_id", runId);
        switch (budget) {
            case RunBudget.Unlimited u -> root.putNull("budget_usd");
            case RunBudget.Capped c -> root.put("budget_usd", c.cap().toUsdString());
        }
        root.put("started_at", startedAt.toString());
        root.put("elapsed_ms", millis(elapsed));
        ObjectNode endNode = root.putObject("end");
        switch (end) {
            case End.Finished x -> endNode.put("kind", "finished");
            case End.BudgetExhausted b ->
                endNode.put("kind", "budget_exhausted").put("message", b.message());
            case End.Interrupted x -> endNode.put("kind", "interrupted");
        }
        var taskArray = root.putArray("tasks");
        for (TaskResult t : tasks) {
            ObjectNode n = taskArray.addObject();
            n.put("id", t.taskId());
            n.put("type", t.taskType());
            n.put("state", t.state().name().toLowerCase(Locale.ROOT));
            switch (t) {
                case TaskResult.Ran r -> {
                    n.put("agent", r.agentId());
                    n.put("started_ms", millis(r.started()));
                    n.put("ended_ms", millis(r.ended()));
                    putCost(n, r.usage(), r.cost());
                    String detail = detail(r.outcome());
                    if (!detail.isEmpty()) {
                        n.put("reason", detail);
                    }
                }
                case TaskResult.Skipped s -> n.put("reason", s.reason());
                case TaskResult.Cancelled c -> n.put("reason", c.reason());
            }
        }
        var types = root.putArray("cost_by_type");
        for (TypeCost c : costByType()) {
            types.add(costJson(c));
        }
        root.set("totals", costJson(totals()));
        return root;
    }

    private static ObjectNode costJson(TypeCost c) {
        ObjectNode n = JsonNodeFactory.instance.objectNode();
        n.put("type", c.taskType());
        n.put("tasks", c.tasks());
        n.put("calls", c.calls());
        n.put("completed", c.completed());
        putCost(n, c.usage(), c.cost());
        return n;
    }

    private static void putCost(ObjectNode n, Usage usage, Money cost) {
        n.put("input_tokens", usage.promptTokens());
        n.put("output_tokens", usage.outputTokens());
        n.put("cost_usd", cost.toUsdString());
        n.put("cost_nanos", cost.nanos());
    }

    private static List<String> costRow(TypeCost c) {
        return List.of(
                c.taskType(),
                Integer.toString(c.tasks()),
                Integer.toString(c.calls()),
                Integer.toString(c.completed()),
                Long.toString(c.usage().promptTokens()),
                Long.toString(c.usage().outputTokens()),
                c.cost().toUsdString());
    }

    private static String detail(TaskOutcome outcome) {
        return switch (outcome) {
            case TaskOutcome.Completed c -> "";
            case TaskOutcome.Failed f -> f.reason();
            case TaskOutcome.BudgetDenied d -> d.message();
        };
    }

    private static String describe(End end) {
        return switch (end) {
            case End.Finished x -> "finished";
            case End.BudgetExhausted b -> "stopped: run budget exhausted: " + b.message();
            case End.Interrupted x -> "stopped: interrupted";
        };
    }

    /** Milliseconds with microsecond precision. */
    private static BigDecimal millis(Duration d) {
        return BigDecimal.valueOf(d.toNanos() / 1_000, 3);
    }

    private static void appendTable(StringBuilder sb, List<List<String>> rows) {
        int columns = rows.get(0).size();
        int[] widths = new int[columns];
        for (List<String> row : rows) {
            for (int i = 0; i < columns; i++) {
                widths[i] = Math.max(widths[i], row.get(i).length());
            }
        }
        for (List<String> row : rows) {
            StringBuilder line = new StringBuilder();
            for (int i = 0; i < columns; i++) {
                line.append(row.get(i));
                if (i < columns - 1) {
                    line.append(" ".repeat(widths[i] - row.get(i).length() + 2));
                }
            }
            sb.append(line.toString().stripTrailing()).append('\n');
        }
    }
}
