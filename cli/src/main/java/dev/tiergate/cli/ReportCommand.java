package dev.tiergate.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tiergate.policy.Policy;
import dev.tiergate.pricing.Money;
import dev.tiergate.pricing.PricingException;
import dev.tiergate.report.Frontier;
import dev.tiergate.report.ReportException;
import dev.tiergate.report.SpendReport;
import java.io.PrintWriter;
import java.math.BigDecimal;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code tiergate report}: spend, frontier share, truncation and counterfactuals from a ledger. */
@Command(
        name = "report",
        mixinStandardHelpOptions = true,
        description = {
            "Spend from the ledger by task type, tier, model and day; frontier share of calls and spend; truncation"
                    + " rate per task type; and counterfactuals: the same recorded usage repriced all-frontier and"
                    + " under each --what-if policy.",
            "Counterfactuals reprice recorded token counts; they do not predict quality or another model's verbosity."
        })
final class ReportCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Mixin
    ReportInput input = new ReportInput();

    @Option(
            names = "--what-if",
            paramLabel = "POLICY",
            description = "Also reprice every call as routed under this policy file (repeatable).")
    List<Path> whatIf = new ArrayList<>();

    @Option(
            names = "--format",
            paramLabel = "FORMAT",
            description = "table, json or csv (one row per task type) (default: ${DEFAULT-VALUE}).")
    String format = "table";

    @Spec
    picocli.CommandLine.Model.CommandSpec spec = picocli.CommandLine.Model.CommandSpec.create();

    @Override
    public Integer call() {
        if (!List.of("table", "json", "csv").contains(format)) {
            throw new CliException("--format must be table, json or csv, got '" + format + "'");
        }
        ReportInput.Loaded loaded = input.load(Clock.systemUTC());
        Optional<Policy> current = input.policy(loaded.catalog());
        List<Policy> whatIfPolicies = whatIf.stream()
                .map(p -> ReportInput.loadPolicy("--what-if", p, loaded.catalog()))
                .toList();
        SpendReport report;
        try {
            Frontier frontier = current.isPresent()
                    ? Frontier.ofPolicy(current.get(), loaded.catalog())
                    : Frontier.ofCalls(loaded.calls(), loaded.catalog());
            report = SpendReport.of(loaded.calls(), loaded.catalog(), frontier, whatIfPolicies);
        } catch (ReportException | PricingException e) {
            throw new CliException(String.valueOf(e.getMessage()));
        }
        PrintWriter out = spec.commandLine().getOut();
        switch (format) {
            case "json" -> out.println(json(report, loaded.simulated()));
            case "csv" -> csv(out, report, loaded.simulated());
            default -> table(out, report, loaded.simulated());
        }
        out.flush();
        return 0;
    }

    private void table(PrintWriter out, SpendReport r, boolean simulated) {
        out.println("Tiergate spend report"
                + (simulated
                        ? " [SIMULATED: built from calls to the simulated upstream;" + " no real model was called]"
                        : ""));
        out.println("window: " + window());
        SpendReport.Line t = r.total();
        out.printf(
                "calls: %d charged, %d denied by budgets (cost nothing), %d interrupted (included at their worst-case"
                        + " charge of %s USD)%n",
                t.calls(),
                t.deniedCalls(),
                t.interruptedCalls(),
                t.interruptedCost().toUsdString());
        out.printf(
                "frontier model: %s (%s)%n", r.frontier().model(), r.frontier().description());
        out.printf(
                "frontier share: %s of calls, %s of spend; truncated: %s of completed calls%n%n",
                pct(t.frontierCallShare()), pct(t.frontierSpendShare()), pct(t.truncationRate()));
        lines(out, "TASK TYPE", r.byTaskType(), t);
        lines(out, "TIER", r.byTier(), t);
        lines(out, "MODEL", r.byModel(), t);
        lines(out, "DAY (UTC)", r.byDay(), t);

        out.println("COUNTERFACTUALS" + (simulated ? " (simulated)" : ""));
        String f = "%-40s %16s %16s %9s %9s%n";
        out.printf(f, "SCENARIO", "COST_USD", "DIFF_USD", "NEW_TRUNC", "UNROUTED");
        out.printf(f, "actual", t.cost().toUsdString(), "", "", "");
        for (SpendReport.Scenario s : r.scenarios()) {
            out.printf(
                    f,
                    s.name(),
                    s.cost().toUsdString(),
                    signed(s.difference()),
                    s.newlyTruncatedCalls(),
                    s.unroutedCalls());
        }
        for (SpendReport.Scenario s : r.scenarios()) {
            out.printf("%n%s: %s%n", s.name(), s.description());
            String g = "  %-26s %16s %16s %16s %9s %9s  %s%n";
            out.printf(g, "TASK TYPE", "ACTUAL_USD", "COST_USD", "DIFF_USD", "NEW_TRUNC", "UNROUTED", "MODELS");
            for (SpendReport.ScenarioLine l : s.byTaskType()) {
                out.printf(
                        g,
                        name(l.taskType()),
                        l.actualCost().toUsdString(),
                        l.cost().toUsdString(),
                        signed(l.difference()),
                        l.newlyTruncatedCalls(),
                        l.unroutedCalls(),
                        String.join(",", l.models()));
            }
        }
        out.printf("%nNote: %s%n", SpendReport.COUNTERFACTUAL_CAVEAT);
    }

    private static void lines(PrintWriter out, String title, List<SpendReport.Line> lines, SpendReport.Line total) {
        String f = "%-28s %7s %7s %7s %16s %9s %9s %9s %9s%n";
        out.printf(f, title, "CALLS", "DENIED", "INTERR", "COST_USD", "FRONT_C%", "FRONT_$%", "TRUNC", "TRUNC%");
        for (SpendReport.Line l : lines) {
            out.printf(
                    f,
                    name(l.key()),
                    l.calls(),
                    l.deniedCalls(),
                    l.interruptedCalls(),
                    l.cost().toUsdString(),
                    pct(l.frontierCallShare()),
                    pct(l.frontierSpendShare()),
                    l.truncatedCalls(),
                    pct(l.truncationRate()));
        }
        out.printf(
                f,
                "TOTAL",
                total.calls(),
                total.deniedCalls(),
                total.interruptedCalls(),
                total.cost().toUsdString(),
                pct(total.frontierCallShare()),
                pct(total.frontierSpendShare()),
                total.truncatedCalls(),
                pct(total.truncationRate()));
        out.println();
    }

    private String json(SpendReport r, boolean simulated) {
        ObjectNode root = JSON.createObjectNode();
        root.put("report", "spend");
        root.put("simulated", simulated);
        root.put("label", ReportInput.label(simulated));
        root.put("since", input.since);
        root.put("until", input.until);
        ObjectNode f = root.putObject("frontier");
        f.put("model", r.frontier().model());
        f.put("basis", r.frontier().basis().name().toLowerCase(Locale.ROOT));
        f.put("description", r.frontier().description());
        line(root.putObject("total"), r.total());
        lineArray(root.putArray("by_task_type"), r.byTaskType());
        lineArray(root.putArray("by_tier"), r.byTier());
        lineArray(root.putArray("by_model"), r.byModel());
        lineArray(root.putArray("by_day"), r.byDay());
        ArrayNode scenarios = root.putArray("scenarios");
        for (SpendReport.Scenario s : r.scenarios()) {
            ObjectNode n = scenarios.addObject();
            n.put("kind", s.kind().name().toLowerCase(Locale.ROOT));
            n.put("name", s.name());
            n.put("description", s.description());
            n.put("actual_cost_usd", s.actualCost().toUsdString());
            n.put("cost_usd", s.cost().toUsdString());
            n.put("difference_usd", s.difference().toUsdString());
            n.put("newly_truncated_calls", s.newlyTruncatedCalls());
            n.put("unrouted_calls", s.unroutedCalls());
            ArrayNode byTask = n.putArray("by_task_type");
            for (SpendReport.ScenarioLine l : s.byTaskType()) {
                ObjectNode ln = byTask.addObject();
                ln.put("task_type", l.taskType());
                l.models().forEach(ln.putArray("models")::add);
                ln.put("actual_cost_usd", l.actualCost().toUsdString());
                ln.put("cost_usd", l.cost().toUsdString());
                ln.put("difference_usd", l.difference().toUsdString());
                ln.put("newly_truncated_calls", l.newlyTruncatedCalls());
                ln.put("unrouted_calls", l.unroutedCalls());
            }
        }
        root.put("caveat", SpendReport.COUNTERFACTUAL_CAVEAT);
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write a JSON tree", e);
        }
    }

    private static void lineArray(ArrayNode array, List<SpendReport.Line> lines) {
        lines.forEach(l -> line(array.addObject(), l));
    }

    private static void line(ObjectNode n, SpendReport.Line l) {
        n.put("key", l.key());
        n.put("calls", l.calls());
        n.put("completed_calls", l.completedCalls());
        n.put("denied_calls", l.deniedCalls());
        n.put("interrupted_calls", l.interruptedCalls());
        n.put("interrupted_cost_usd", l.interruptedCost().toUsdString());
        n.put("cost_usd", l.cost().toUsdString());
        n.put("frontier_calls", l.frontierCalls());
        n.put("frontier_cost_usd", l.frontierCost().toUsdString());
        n.put("frontier_call_share", l.frontierCallShare());
        n.put("frontier_spend_share", l.frontierSpendShare());
        n.put("truncated_calls", l.truncatedCalls());
        n.put("truncation_rate", l.truncationRate());
        n.put("output_tokens", l.outputTokens());
    }

    private static void csv(PrintWriter out, SpendReport r, boolean simulated) {
        List<String> header = new ArrayList<>(List.of(
                "label",
                "task_type",
                "calls",
                "completed_calls",
                "denied_calls",
                "interrupted_calls",
                "cost_usd",
                "frontier_calls",
                "frontier_cost_usd",
                "frontier_call_share",
                "frontier_spend_share",
                "truncated_calls",
                "truncation_rate",
                "output_tokens",
                "all_frontier_cost_usd"));
        for (int i = 1; i < r.scenarios().size(); i++) {
            header.add("what_if_" + i + "_cost_usd");
            header.add("what_if_" + i + "_newly_truncated_calls");
            header.add("what_if_" + i + "_unrouted_calls");
        }
        out.println(String.join(",", header));
        for (int row = 0; row < r.byTaskType().size(); row++) {
            SpendReport.Line l = r.byTaskType().get(row);
            List<String> cells = new ArrayList<>(List.of(
                    ReportInput.label(simulated),
                    csvCell(l.key()),
                    Long.toString(l.calls()),
                    Long.toString(l.completedCalls()),
                    Long.toString(l.deniedCalls()),
                    Long.toString(l.interruptedCalls()),
                    l.cost().toUsdString(),
                    Long.toString(l.frontierCalls()),
                    l.frontierCost().toUsdString(),
                    l.frontierCallShare().toPlainString(),
                    l.frontierSpendShare().toPlainString(),
                    Long.toString(l.truncatedCalls()),
                    l.truncationRate().toPlainString(),
                    Long.toString(l.outputTokens())));
            for (int s = 0; s < r.scenarios().size(); s++) {
                SpendReport.ScenarioLine sl = r.scenarios().get(s).byTaskType().get(row);
                cells.add(sl.cost().toUsdString());
                if (s > 0) {
                    cells.add(Long.toString(sl.newlyTruncatedCalls()));
                    cells.add(Long.toString(sl.unroutedCalls()));
                }
            }
            out.println(String.join(",", cells));
        }
    }

    static String csvCell(String s) {
        return s.contains(",") || s.contains("\"") || s.contains("\n") ? "\"" + s.replace("\"", "\"\"") + "\"" : s;
    }

    private String window() {
        return (input.since.isEmpty() ? "start of ledger" : input.since) + " .. "
                + (input.until.isEmpty() ? "now" : input.until) + " (UTC days, inclusive)";
    }

    static String name(String key) {
        return key.isEmpty() ? "(none)" : key;
    }

    static String pct(BigDecimal share) {
        return share.movePointRight(2)
                        .setScale(2, java.math.RoundingMode.HALF_UP)
                        .toPlainString() + "%";
    }

    static String signed(Money m) {
        return (m.isNegative() ? "" : "+") + m.toUsdString();
    }
}
