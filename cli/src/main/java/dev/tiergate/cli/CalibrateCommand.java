package dev.tiergate.cli;

import static dev.tiergate.cli.EvidenceInput.num;
import static dev.tiergate.cli.EvidenceInput.pct;
import static dev.tiergate.cli.EvidenceInput.round;

import dev.tiergate.calibration.Calibration;
import dev.tiergate.calibration.Comparison;
import dev.tiergate.calibration.Criteria;
import dev.tiergate.calibration.Decision;
import dev.tiergate.calibration.Estimate;
import dev.tiergate.calibration.Evidence;
import dev.tiergate.calibration.TaskTypeCalibration;
import dev.tiergate.config.ConfigException;
import dev.tiergate.ledger.Ledger;
import dev.tiergate.policy.Policy;
import dev.tiergate.pricing.ModelCatalog;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code tiergate calibrate}: the cheapest non-inferior model per task type, from recorded evidence. */
@Command(
        name = "calibrate",
        mixinStandardHelpOptions = true,
        description = {
            "Recommends, per task type, the cheapest model whose quality is non-inferior to the current model's by"
                    + " margin epsilon at the given one-sided confidence (paired comparison on the same items),"
                    + " and flags task types whose current model is measurably worse than another"
                    + " (under-classification).",
            "Costs are estimates from the evidence file, or the model catalog's list prices where it gives none."
        })
final class CalibrateCommand implements Callable<Integer> {

    @Spec
    @Nullable
    CommandSpec spec;

    @Option(
            names = "--evidence",
            paramLabel = "FILE",
            description = "Evidence CSV: item_id,task_type,model,score,input_tokens,output_tokens,cost_usd; an empty"
                    + " cost_usd is priced from the token counts at the model catalog's list prices. With --db or"
                    + " --postgres, combined with the ledger's evidence.")
    @Nullable
    Path evidenceFile;

    @Mixin
    LedgerOption ledger = new LedgerOption();

    /** Where the evidence came from, for the output. */
    private String evidence = "";

    @Option(
            names = "--policy",
            paramLabel = "FILE",
            description = "Policy file: each task type's current model is the model of its tier; evidence task types"
                    + " the policy lacks use the default tier's model, or are skipped without one.")
    @Nullable
    Path policy;

    @Option(
            names = "--current",
            paramLabel = "MODEL",
            description = "The model every task type uses today; instead of --policy.")
    @Nullable
    String current;

    @Mixin
    CatalogOption catalog = new CatalogOption();

    @Option(
            names = "--epsilon",
            defaultValue = "0.01",
            description = "Non-inferiority margin on the 0-1 quality scale (default: ${DEFAULT-VALUE}).")
    double epsilon;

    @Option(
            names = "--confidence",
            defaultValue = "0.95",
            description = "One-sided confidence level 1 - alpha (default: ${DEFAULT-VALUE}).")
    double confidence;

    @Option(
            names = "--min-samples",
            defaultValue = "30",
            description = "Fewest paired items before a comparison may change a decision (default: ${DEFAULT-VALUE}).")
    int minSamples;

    @Option(
            names = "--write-policy",
            paramLabel = "OUT",
            description = "With --policy: write the policy with every switched task type moved to a tier of its"
                    + " recommended model, the evidence as comments. With --current: write a YAML fragment of"
                    + " task_types entries with model overrides, to review and merge by hand.")
    @Nullable
    Path writePolicy;

    @Option(
            names = "--since",
            paramLabel = "YYYY-MM-DD",
            description = "With --db or --postgres: only the ledger's evidence recorded on or after this UTC day"
                    + " (default: all of it), e.g. since the last policy change.")
    @Nullable
    String since;

    @Option(
            names = "--format",
            defaultValue = "table",
            description = "Output format: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    EvidenceInput.Format format = EvidenceInput.Format.table;

    @Override
    public Integer call() {
        Criteria criteria = EvidenceInput.criteria(epsilon, confidence, minSamples);
        if (policy != null && current != null) {
            throw new CliException("give either --policy FILE or --current MODEL, not both (--policy " + policy
                    + ", --current " + current + ")");
        }
        ModelCatalog models = catalog.load();
        Evidence ev = loadEvidence(models);
        Optional<Policy> routing = Optional.ofNullable(policy).map(p -> loadPolicy(p, models));
        CalibratedPolicy.Plan plan =
                routing.map(p -> CalibratedPolicy.plan(ev, p, models)).orElseGet(() -> currentForAll(ev));
        List<TaskTypeCalibration> results = Calibration.run(ev, plan.currentModels(), criteria);
        Optional<CalibratedPolicy.Written> written = Optional.empty();
        if (writePolicy != null && routing.isPresent()) {
            written = Optional.of(CalibratedPolicy.write(
                    routing.get(),
                    plan,
                    results,
                    models,
                    today(),
                    header(criteria, routing),
                    evidenceComments(results, criteria)));
        }
        PrintWriter out = out();
        switch (format) {
            case table -> out.print(table(results, criteria) + policyNotes(plan, routing, written));
            case json -> out.println(EvidenceInput.json(json(results, criteria, plan, routing, written)));
        }
        if (writePolicy != null) {
            String text =
                    written.map(CalibratedPolicy.Written::yaml).orElseGet(() -> policyFragment(results, criteria));
            try {
                Files.writeString(writePolicy, text, StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new CliException("cannot write " + writePolicy + ": " + e.getMessage());
            }
            if (format == EvidenceInput.Format.table) {
                out.println(
                        written.isPresent()
                                ? "Wrote the calibrated policy to " + writePolicy
                                        + " (check it with: tiergate policy check " + writePolicy + ")"
                                : "Wrote suggested task_types overrides to " + writePolicy);
            }
        }
        out.flush();
        return 0;
    }

    private static LocalDate today() {
        return LocalDate.now(Clock.systemUTC());
    }

    private static Policy loadPolicy(Path file, ModelCatalog models) {
        try {
            return PolicyCommand.loadPolicy(file, models);
        } catch (ConfigException e) {
            throw new CliException("invalid policy:\n" + e.lines());
        } catch (UncheckedIOException e) {
            throw new CliException(String.valueOf(e.getMessage()));
        }
    }

    /**
     * The evidence file, the ledger's shadow and feedback evidence ({@code --db} or {@code --postgres}), or both.
     */
    private Evidence loadEvidence(ModelCatalog models) {
        boolean fromLedger = ledger.postgresUrl != null
                || (spec != null && spec.commandLine().getParseResult().hasMatchedOption("--db"));
        if (evidenceFile == null && !fromLedger) {
            throw new CliException("give --evidence FILE, or --db FILE / --postgres URL to read the gateway ledger's"
                    + " shadow evidence, or both");
        }
        Instant from = Instant.EPOCH;
        if (since != null) {
            if (!fromLedger) {
                throw new CliException("--since selects the ledger's evidence: give it with --db FILE or"
                        + " --postgres URL (an --evidence file is always read whole)");
            }
            try {
                from = LocalDate.parse(since).atStartOfDay(ZoneOffset.UTC).toInstant();
            } catch (DateTimeParseException e) {
                throw new CliException("--since must be a day YYYY-MM-DD, got '" + since + "'");
            }
        }
        List<dev.tiergate.calibration.Outcome> outcomes = new ArrayList<>();
        List<String> sources = new ArrayList<>();
        if (evidenceFile != null) {
            outcomes.addAll(EvidenceInput.load(evidenceFile, models).outcomes());
            sources.add(evidenceFile.toString());
        }
        if (fromLedger) {
            try (Ledger l = ledger.open(Clock.systemUTC())) {
                List<dev.tiergate.calibration.Outcome> fromDb = LedgerEvidence.outcomes(l.evidence(from));
                outcomes.addAll(fromDb);
                sources.add("ledger "
                        + (ledger.postgresUrl != null
                                ? ledger.postgresUrl
                                : ledger.dbFile().toString()) + " (" + fromDb.size() + " outcomes"
                        + (since == null ? "" : " since " + since) + ")");
            }
        }
        evidence = String.join(" + ", sources);
        try {
            return Evidence.of(outcomes);
        } catch (IllegalArgumentException e) {
            throw new CliException("cannot combine the evidence of " + evidence + ": " + e.getMessage());
        }
    }

    /** Without a policy: every evidence task type against {@code --current}. */
    private CalibratedPolicy.Plan currentForAll(Evidence ev) {
        String model = current;
        if (model == null) {
            throw new CliException("calibrate needs the current model: pass --current MODEL (or --policy FILE)."
                    + " Models in " + evidence + ": " + String.join(", ", ev.models()));
        }
        if (!ev.models().contains(model)) {
            throw new CliException("--current " + model + ": no such model in " + evidence + "; models: "
                    + String.join(", ", ev.models()));
        }
        Map<String, CalibratedPolicy.Current> map = new TreeMap<>();
        for (String type : ev.taskTypes()) {
            map.put(type, new CalibratedPolicy.Current(type, "", model, false));
        }
        return new CalibratedPolicy.Plan(map, List.of(), List.of());
    }

    /** With a policy: where current models came from, what was skipped, and what the written policy changed. */
    private static String policyNotes(
            CalibratedPolicy.Plan plan, Optional<Policy> routing, Optional<CalibratedPolicy.Written> written) {
        if (routing.isEmpty()) {
            return "";
        }
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(
                "%nCurrent models from policy %s:%n", routing.get().source()));
        new TreeMap<>(plan.current())
                .values()
                .forEach(c -> sb.append(String.format(
                        Locale.ROOT,
                        "  %s: tier '%s' (%s)%s%n",
                        c.taskType(),
                        c.tier(),
                        c.model(),
                        c.viaDefaultTier() ? ", the default tier: the policy does not list this task type" : "")));
        for (CalibratedPolicy.Skipped s : plan.skipped()) {
            sb.append(String.format("  %s: skipped, %s%n", s.taskType(), s.reason()));
        }
        if (!plan.policyTypesWithoutEvidence().isEmpty()) {
            sb.append("  not calibrated, no evidence: ")
                    .append(String.join(", ", plan.policyTypesWithoutEvidence()))
                    .append('\n');
        }
        written.ifPresent(w -> {
            sb.append(String.format("%nWritten policy:%n"));
            w.changes().forEach(ch -> sb.append(String.format("  %s: %s%n", ch.taskType(), ch.text())));
        });
        return sb.toString();
    }

    private PrintWriter out() {
        return EvidenceInput.out(spec);
    }

    static String reason(TaskTypeCalibration r) {
        return switch (r.decision()) {
            case Decision.Switch s -> "non-inferior";
            case Decision.Keep k -> k.reason().text();
        };
    }

    private String table(List<TaskTypeCalibration> results, Criteria c) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(
                Locale.ROOT,
                "Calibration of %s: margin %s, one-sided confidence %s (Bonferroni across candidates), min-samples"
                        + " %d.%nQuality is the mean score with a two-sided %s interval; 'lower' is the one-sided lower"
                        + " bound of recommended - current on paired items.%nNote: %s.%n%n",
                evidence,
                c.epsilon(),
                c.confidence(),
                c.minSamples(),
                pct(c.confidence()),
                EvidenceInput.COST_NOTE));
        String fmt = "%-28s %6s  %-22s %-21s  %-22s %-21s %7s %7s  %11s %11s %7s  %s%n";
        sb.append(String.format(
                Locale.ROOT,
                fmt,
                "task type",
                "n",
                "current",
                "quality [interval]",
                "recommended",
                "quality (paired)",
                "diff",
                "lower",
                "USD/call cur",
                "USD/call rec",
                "saving",
                "reason"));
        for (TaskTypeCalibration r : results) {
            var rec = r.recommendation();
            sb.append(String.format(
                    Locale.ROOT,
                    fmt,
                    r.taskType(),
                    r.currentQuality().n(),
                    shorten(r.currentModel()),
                    estimate(r.currentQuality()),
                    shorten(r.recommendedModel()),
                    rec.map(x -> estimate(x.quality())).orElse("-"),
                    rec.map(x -> num(x.difference())).orElse("-"),
                    rec.map(x -> num(x.differenceLowerBound())).orElse("-"),
                    r.currentCostPerCall().toUsd().setScale(6, java.math.RoundingMode.HALF_EVEN),
                    rec.map(x -> x.costPerCall()
                                    .toUsd()
                                    .setScale(6, java.math.RoundingMode.HALF_EVEN)
                                    .toString())
                            .orElse("-"),
                    pct(r.savingFraction()),
                    reason(r)));
        }
        List<TaskTypeCalibration> flagged =
                results.stream().filter(TaskTypeCalibration::underClassified).toList();
        sb.append(String.format("%nUnder-classification (a model costing at least as much is better by more than the"
                + " margin, with confidence):%n"));
        if (flagged.isEmpty()) {
            sb.append("  none\n");
        }
        for (TaskTypeCalibration r : flagged) {
            Comparison b = r.measurablyBetter().get(0);
            sb.append(String.format(
                    Locale.ROOT,
                    "  %s: %s scores %s vs %s for %s on %d paired items (lower bound of the gain %s)%n",
                    r.taskType(),
                    b.model(),
                    num(b.quality().mean()),
                    num(b.currentQuality().mean()),
                    r.currentModel(),
                    b.pairedItems(),
                    num(b.differenceLowerBound())));
        }
        return sb.toString();
    }

    private static String shorten(String model) {
        return model.length() <= 22 ? model : model.substring(0, 21) + "~";
    }

    private static String estimate(Estimate e) {
        return num(e.mean()) + " [" + num(e.low()) + "," + num(e.high()) + "]";
    }

    private Map<String, Object> json(
            List<TaskTypeCalibration> results,
            Criteria c,
            CalibratedPolicy.Plan plan,
            Optional<Policy> routing,
            Optional<CalibratedPolicy.Written> written) {
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("evidence", evidence);
        routing.ifPresent(p -> root.put("policy", p.source()));
        root.put("epsilon", c.epsilon());
        root.put("confidence", c.confidence());
        root.put("min_samples", c.minSamples());
        root.put("cost_note", EvidenceInput.COST_NOTE);
        List<Object> types = new ArrayList<>();
        for (TaskTypeCalibration r : results) {
            Map<String, Object> t = new LinkedHashMap<>();
            t.put("type", r.taskType());
            t.put("current_model", r.currentModel());
            if (routing.isPresent()) {
                CalibratedPolicy.Current cur = plan.current().get(r.taskType());
                if (cur != null) {
                    t.put("current_tier", cur.tier());
                    t.put("via_default_tier", cur.viaDefaultTier());
                }
            }
            written.flatMap(w -> w.changes().stream()
                            .filter(ch -> ch.taskType().equals(r.taskType()))
                            .findFirst())
                    .ifPresent(ch -> t.put("written_policy", ch.text()));
            t.put("recommended_model", r.recommendedModel());
            t.put("decision", r.decision() instanceof Decision.Switch ? "switch" : "keep");
            t.put("reason", reason(r));
            t.put("current_quality", estimateJson(r.currentQuality()));
            t.put("current_cost_per_call_usd", r.currentCostPerCall().toUsd());
            t.put("saving_per_call_usd", r.savingPerCall().toUsd());
            t.put("saving", round(r.savingFraction()));
            t.put("under_classified", r.underClassified());
            List<Object> candidates = new ArrayList<>();
            r.cheaper().forEach(x -> candidates.add(comparisonJson(x, true)));
            r.others().forEach(x -> candidates.add(comparisonJson(x, false)));
            t.put("candidates", candidates);
            types.add(t);
        }
        root.put("task_types", types);
        if (routing.isPresent()) {
            List<Object> skipped = new ArrayList<>();
            for (CalibratedPolicy.Skipped sk : plan.skipped()) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("type", sk.taskType());
                m.put("reason", sk.reason());
                skipped.add(m);
            }
            root.put("skipped", skipped);
            root.put("policy_types_without_evidence", plan.policyTypesWithoutEvidence());
        }
        return root;
    }

    private static Map<String, Object> estimateJson(Estimate e) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("mean", round(e.mean()));
        m.put("low", round(e.low()));
        m.put("high", round(e.high()));
        m.put("n", e.n());
        return m;
    }

    private static Map<String, Object> comparisonJson(Comparison x, boolean cheaper) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("model", x.model());
        m.put("cheaper", cheaper);
        m.put("paired_items", x.pairedItems());
        m.put("quality", estimateJson(x.quality()));
        m.put("current_quality", estimateJson(x.currentQuality()));
        m.put("difference", round(x.difference()));
        m.put("difference_lower_bound", round(x.differenceLowerBound()));
        m.put("bound_confidence", round(x.boundConfidence()));
        m.put("method", x.method().name().toLowerCase(Locale.ROOT));
        m.put("cost_per_call_usd", x.costPerCall().toUsd());
        m.put("current_cost_per_call_usd", x.currentCostPerCall().toUsd());
        m.put("enough_samples", x.enoughSamples());
        m.put("non_inferior", x.nonInferior());
        m.put("measurably_better", x.measurablyBetter());
        return m;
    }

    private static final Pattern PLAIN_YAML = Pattern.compile("[A-Za-z][A-Za-z0-9_./-]*");
    private static final Pattern YAML_WORDS = Pattern.compile("(?i)null|true|false|yes|no|on|off|y|n");

    /** A YAML scalar that reads back as this string: plain when safe, else double-quoted with escapes. */
    static String yamlScalar(String s) {
        if (PLAIN_YAML.matcher(s).matches() && !YAML_WORDS.matcher(s).matches()) {
            return s;
        }
        return "\""
                + s.replace("\\", "\\\\")
                        .replace("\"", "\\\"")
                        .replace("\n", "\\n")
                        .replace("\r", "\\r")
                        .replace("\t", "\\t")
                + "\"";
    }

    /** Comment lines (without {@code #}) opening a written policy or fragment. */
    private List<String> header(Criteria c, Optional<Policy> routing) {
        List<String> lines = new ArrayList<>();
        lines.add(routing.map(p -> "Calibrated by `tiergate calibrate` from policy " + p.source() + " and evidence ")
                        .orElse("Suggested by `tiergate calibrate` from ")
                + evidence);
        lines.add(String.format(
                Locale.ROOT,
                "margin %s, one-sided confidence %s, min-samples %d. Review before %s.",
                c.epsilon(),
                c.confidence(),
                c.minSamples(),
                routing.isPresent() ? "deploying" : "merging into your policy"));
        lines.add("Savings are per call; " + EvidenceInput.COST_NOTE + ".");
        if (routing.isPresent()) {
            lines.add("Regenerated from the loaded policy: the original's comments, layout and any `models:`"
                    + " section are not carried over.");
        }
        return lines;
    }

    /** Per task type, the evidence behind its decision as comment lines (without {@code #}). */
    private static Map<String, List<String>> evidenceComments(List<TaskTypeCalibration> results, Criteria c) {
        Map<String, List<String>> byType = new LinkedHashMap<>();
        for (TaskTypeCalibration r : results) {
            List<String> lines = new ArrayList<>();
            Estimate q = r.currentQuality();
            var rec = r.recommendation();
            if (rec.isPresent()) {
                Comparison x = rec.get();
                lines.add(String.format(
                        Locale.ROOT,
                        "switch from %s: quality %s vs %s on n=%d paired items, difference %s (one-sided lower"
                                + " bound %s > -%s); saving %s per call (%s -> %s USD)",
                        r.currentModel(),
                        num(x.quality().mean()),
                        num(x.currentQuality().mean()),
                        x.pairedItems(),
                        num(x.difference()),
                        num(x.differenceLowerBound()),
                        c.epsilon(),
                        pct(r.savingFraction()),
                        x.currentCostPerCall().toUsdString(),
                        x.costPerCall().toUsdString()));
            } else {
                lines.add(String.format(
                        Locale.ROOT,
                        "keep %s (%s): quality %s [%s, %s], n=%d",
                        r.currentModel(),
                        reason(r),
                        num(q.mean()),
                        num(q.low()),
                        num(q.high()),
                        q.n()));
            }
            for (Comparison b : r.measurablyBetter()) {
                lines.add(String.format(
                        Locale.ROOT,
                        "UNDER-CLASSIFIED: %s scores %s vs %s (n=%d, lower bound of the gain %s); consider"
                                + " a stronger tier",
                        b.model(),
                        num(b.quality().mean()),
                        num(b.currentQuality().mean()),
                        b.pairedItems(),
                        num(b.differenceLowerBound())));
            }
            byType.put(r.taskType(), lines);
        }
        return byType;
    }

    /**
     * The suggested policy without {@code --policy}: a {@code task_types:} fragment with one {@code model:}
     * override per task type and the evidence as comments, for a human to review and merge into the policy file.
     */
    private String policyFragment(List<TaskTypeCalibration> results, Criteria c) {
        StringBuilder sb = new StringBuilder();
        header(c, Optional.empty())
                .forEach(line -> sb.append("# ").append(line.replace('\n', ' ')).append('\n'));
        sb.append("task_types:\n");
        Map<String, List<String>> comments = evidenceComments(results, c);
        for (TaskTypeCalibration r : results) {
            sb.append("  ").append(yamlScalar(r.taskType())).append(":\n");
            comments.getOrDefault(r.taskType(), List.of())
                    .forEach(line -> sb.append("    # ").append(line).append('\n'));
            sb.append("    model: ").append(yamlScalar(r.recommendedModel())).append('\n');
        }
        return sb.toString();
    }
}
