package dev.tiergate.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tiergate.policy.Policy;
import dev.tiergate.pricing.PricingException;
import dev.tiergate.report.CapReport;
import java.io.PrintWriter;
import java.time.Clock;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code tiergate caps}: output-cap suggestions per task type from recorded output lengths and truncation. */
@Command(
        name = "caps",
        mixinStandardHelpOptions = true,
        description = {
            "Suggest a max_tokens cap per task type from the ledger: p99 of untruncated output plus 20%%, rounded up"
                    + " to a tidy number; raise instead when more than 5%% of calls were cut at the cap.",
            "See docs/report.md for the rule and what each projected number means."
        })
final class CapsCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    static final String RULE = "suggested cap = tidy(ceil(1.2 x p99 of untruncated output tokens)), at least 10 and"
            + " at most the model's max output; when more than 5% of completed calls stopped at max_tokens the cap is"
            + " under-capped: raise to tidy(2 x the cap they hit) (at least the rule above) and re-measure. tidy"
            + " rounds up to a multiple of 10 (up to 100), 50 (up to 1000), 250 (up to 10000), else 1000.";

    static final String MEANING = "reserve/call: budget each call reserves less (lower) or more (raise) at the"
            + " model's highest output price; budget headroom, not spend. expected saving: over the calls read,"
            + " the cost of output tokens above the suggested cap, repriced on each call's model at standard prices"
            + " (assumes the same output up to the cap; a raise's added spend is not projected, as cut outputs'"
            + " full lengths are unknown).";

    @Mixin
    ReportInput input = new ReportInput();

    @Option(
            names = "--min-samples",
            paramLabel = "N",
            description = "Completed calls a task type needs before a cap is suggested (default: ${DEFAULT-VALUE}).")
    long minSamples = CapReport.DEFAULT_MIN_SAMPLES;

    @Option(names = "--format", paramLabel = "FORMAT", description = "table or json (default: ${DEFAULT-VALUE}).")
    String format = "table";

    @Spec
    picocli.CommandLine.Model.CommandSpec spec = picocli.CommandLine.Model.CommandSpec.create();

    @Override
    public Integer call() {
        if (!List.of("table", "json").contains(format)) {
            throw new CliException("--format must be table or json, got '" + format + "'");
        }
        if (minSamples < 1) {
            throw new CliException("--min-samples must be at least 1, got " + minSamples);
        }
        ReportInput.Loaded loaded = input.load(Clock.systemUTC());
        Optional<Policy> policy = input.policy(loaded.catalog());
        CapReport report;
        try {
            report = policy.isPresent()
                    ? CapReport.of(loaded.calls(), loaded.catalog(), policy.get(), minSamples)
                    : CapReport.of(loaded.calls(), loaded.catalog(), minSamples);
        } catch (PricingException e) {
            throw new CliException(e.getMessage() + " (give its prices with --models FILE)");
        }
        PrintWriter out = spec.commandLine().getOut();
        if (format.equals("json")) {
            out.println(json(report, loaded.simulated()));
        } else {
            table(out, report, loaded.simulated());
        }
        out.flush();
        return 0;
    }

    private static void table(PrintWriter out, CapReport r, boolean simulated) {
        out.println("Tiergate output-cap suggestions"
                + (simulated
                        ? " [SIMULATED: built from calls to the simulated" + " upstream; no real model was called]"
                        : ""));
        String f = "%-22s %-26s %7s %7s %6s %6s %6s %6s %10s %-16s %14s %16s%n";
        out.printf(
                f,
                "TASK TYPE",
                "MODEL",
                "CALLS",
                "TRUNC%",
                "P50",
                "P95",
                "P99",
                "MAX",
                "CAP",
                "ADVICE",
                "RESERVE/CALL",
                "EXPECTED_SAVING");
        StringBuilder notes = new StringBuilder();
        for (CapReport.TaskCaps t : r.taskTypes()) {
            String cap = t.currentCap() + (t.capSource() == CapReport.CapSource.OBSERVED ? "*" : "");
            String advice;
            String reserve = "";
            String saving = "";
            switch (t.advice()) {
                case CapReport.Advice.NotEnoughData n -> advice = "not enough data";
                case CapReport.Advice.Keep k -> advice = "keep " + k.cap();
                case CapReport.Advice.Lower l -> {
                    advice = "lower to " + l.cap();
                    reserve = "-" + l.reservationSavingPerCall().toUsdString();
                    saving = l.expectedSaving().toUsdString();
                    if (l.wouldTruncateCalls() > 0) {
                        notes.append(String.format(
                                "%s: %d recorded untruncated call(s) were longer than %d tokens and would have been"
                                        + " cut%n",
                                t.taskType(), l.wouldTruncateCalls(), l.cap()));
                    }
                }
                case CapReport.Advice.Raise ra -> {
                    advice = (ra.underCapped() ? "RAISE to " : "raise to ") + ra.cap();
                    reserve = "+" + ra.reservationIncreasePerCall().toUsdString();
                    saving = "n/a";
                    notes.append(t.taskType()).append(": ").append(ra.reason()).append('\n');
                }
            }
            out.printf(
                    f,
                    ReportCommand.name(t.taskType()),
                    t.model(),
                    t.completedCalls(),
                    ReportCommand.pct(t.truncationRate()),
                    t.p50(),
                    t.p95(),
                    t.p99(),
                    t.maxUntruncated(),
                    cap,
                    advice,
                    reserve,
                    saving);
        }
        out.println();
        out.print(notes);
        if (r.taskTypes().stream().anyMatch(t -> t.capSource() == CapReport.CapSource.OBSERVED)) {
            out.println("* no policy cap (give --policy): the largest max_tokens recorded.");
        }
        out.println("Minimum sample: " + r.minSamples() + " completed calls.");
        out.println("Rule: " + RULE);
        out.println("Meaning: " + MEANING);
    }

    private static String json(CapReport r, boolean simulated) {
        ObjectNode root = JSON.createObjectNode();
        root.put("report", "caps");
        root.put("simulated", simulated);
        root.put("label", ReportInput.label(simulated));
        root.put("min_samples", r.minSamples());
        root.put("rule", RULE);
        root.put("meaning", MEANING);
        ArrayNode types = root.putArray("task_types");
        for (CapReport.TaskCaps t : r.taskTypes()) {
            ObjectNode n = types.addObject();
            n.put("task_type", t.taskType());
            n.put("model", t.model());
            n.put("completed_calls", t.completedCalls());
            n.put("truncated_calls", t.truncatedCalls());
            n.put("truncation_rate", t.truncationRate());
            n.put("p50_output_tokens", t.p50());
            n.put("p95_output_tokens", t.p95());
            n.put("p99_output_tokens", t.p99());
            n.put("max_untruncated_output_tokens", t.maxUntruncated());
            n.put("current_cap", t.currentCap());
            n.put("cap_source", t.capSource().name().toLowerCase(Locale.ROOT));
            switch (t.advice()) {
                case CapReport.Advice.NotEnoughData d -> {
                    n.put("advice", "not_enough_data");
                    n.put("needed_calls", d.needed());
                }
                case CapReport.Advice.Keep k -> {
                    n.put("advice", "keep");
                    n.put("suggested_cap", k.cap());
                }
                case CapReport.Advice.Lower l -> {
                    n.put("advice", "lower");
                    n.put("suggested_cap", l.cap());
                    n.put("would_truncate_calls", l.wouldTruncateCalls());
                    n.put(
                            "reservation_saving_per_call_usd",
                            l.reservationSavingPerCall().toUsdString());
                    n.put("expected_saving_usd", l.expectedSaving().toUsdString());
                }
                case CapReport.Advice.Raise ra -> {
                    n.put("advice", "raise");
                    n.put("suggested_cap", ra.cap());
                    n.put("under_capped", ra.underCapped());
                    n.put(
                            "reservation_increase_per_call_usd",
                            ra.reservationIncreasePerCall().toUsdString());
                    n.put("reason", ra.reason());
                }
            }
        }
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write a JSON tree", e);
        }
    }
}
