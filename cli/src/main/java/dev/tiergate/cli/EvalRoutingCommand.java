package dev.tiergate.cli;

import static dev.tiergate.cli.EvidenceInput.num;
import static dev.tiergate.cli.EvidenceInput.pct;
import static dev.tiergate.cli.EvidenceInput.round;

import dev.tiergate.calibration.EvaluationReport;
import dev.tiergate.calibration.EvaluationSettings;
import dev.tiergate.calibration.Evidence;
import dev.tiergate.calibration.RoutingEvaluation;
import java.io.PrintWriter;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code tiergate eval-routing}: honest offline evaluation of calibrated routing against baselines and oracles. */
@Command(
        name = "eval-routing",
        mixinStandardHelpOptions = true,
        description = {
            "Splits each task type's items into a calibration sample and a test set (deterministic from the seed),"
                    + " calibrates on the sample with the frontier as the current model, and reports on the test set"
                    + " the quality and cost of: all-frontier, all-cheapest, random, calibrated, oracle-per-type"
                    + " and oracle-per-query, with paired intervals for the saving and quality difference vs"
                    + " all-frontier.",
            "Costs are estimates from the evidence file, or the model catalog's list prices where it gives none."
        })
final class EvalRoutingCommand implements Callable<Integer> {

    @Spec
    @Nullable
    CommandSpec spec;

    @Option(
            names = "--evidence",
            required = true,
            paramLabel = "FILE",
            description = "Evidence CSV: item_id,task_type,model,score,input_tokens,output_tokens,cost_usd; an empty"
                    + " cost_usd is priced from the token counts at the model catalog's list prices.")
    Path evidence = Path.of("");

    @Mixin
    CatalogOption catalog = new CatalogOption();

    @Option(
            names = "--frontier",
            required = true,
            paramLabel = "MODEL",
            description = "The frontier model: calibration's current model and the all-frontier baseline.")
    String frontier = "";

    @Option(
            names = "--train-fraction",
            defaultValue = "0.2",
            description = "Share of each task type's items used to calibrate (default: ${DEFAULT-VALUE}).")
    double trainFraction;

    @Option(
            names = "--epsilon",
            defaultValue = "0.01",
            description = "Non-inferiority margin on the 0-1 quality scale (default: ${DEFAULT-VALUE}).")
    double epsilon;

    @Option(
            names = "--confidence",
            defaultValue = "0.95",
            description = "One-sided confidence of calibration; reported intervals are two-sided at this level"
                    + " (default: ${DEFAULT-VALUE}).")
    double confidence;

    @Option(
            names = "--min-samples",
            defaultValue = "30",
            description = "Fewest paired items before a comparison may change a decision (default: ${DEFAULT-VALUE}).")
    int minSamples;

    @Option(names = "--seed", defaultValue = "1", description = "First seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(
            names = "--seeds",
            defaultValue = "1",
            description =
                    "Number of seeds (seed, seed+1, ...); >1 reports mean and spread (default: ${DEFAULT-VALUE}).")
    int seeds;

    @Option(
            names = "--format",
            defaultValue = "table",
            description = "Output format: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    EvidenceInput.Format format = EvidenceInput.Format.table;

    @Override
    public Integer call() {
        EvaluationSettings settings;
        try {
            settings = new EvaluationSettings(
                    frontier, trainFraction, EvidenceInput.criteria(epsilon, confidence, minSamples), seed, seeds);
        } catch (IllegalArgumentException e) {
            throw new CliException(String.valueOf(e.getMessage()));
        }
        Evidence ev = EvidenceInput.load(evidence, catalog.load());
        if (!ev.models().contains(frontier)) {
            throw new CliException("--frontier " + frontier + ": no such model in " + evidence + "; models: "
                    + String.join(", ", ev.models()));
        }
        EvaluationReport report;
        try {
            report = RoutingEvaluation.run(ev, settings);
        } catch (IllegalArgumentException e) {
            throw new CliException(evidence + ": " + e.getMessage());
        }
        PrintWriter out = EvidenceInput.out(spec);
        switch (format) {
            case table -> out.print(table(report));
            case json -> out.println(EvidenceInput.json(json(report)));
        }
        out.flush();
        return 0;
    }

    private String table(EvaluationReport report) {
        EvaluationSettings s = report.settings();
        boolean many = s.seeds() > 1;
        EvaluationReport.SeedResult first = report.seeds().get(0);
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(
                Locale.ROOT,
                "eval-routing %s: frontier %s, train fraction %s, margin %s, confidence %s, min-samples %d, seed%s"
                        + " %s%n",
                evidence,
                s.frontier(),
                s.trainFraction(),
                s.criteria().epsilon(),
                s.criteria().confidence(),
                s.criteria().minSamples(),
                many ? "s" : "",
                many ? s.seed() + ".." + (s.seed() + s.seeds() - 1) : String.valueOf(s.seed())));
        sb.append(String.format(
                Locale.ROOT,
                "%d test queries per seed. Note: %s.%nIntervals: two-sided %s, paired across test items%s.%n%n",
                first.testQueries(),
                EvidenceInput.COST_NOTE,
                pct(s.criteria().confidence()),
                many ? " (bounds averaged over seeds; +- is the sd across seeds)" : ""));
        String fmt = "%-17s %-16s %-34s %-16s %-30s %-14s%n";
        sb.append(String.format(
                Locale.ROOT,
                fmt,
                "policy",
                "quality",
                "quality - frontier [interval]",
                "cost USD (est.)",
                "saving vs frontier [interval]",
                "frontier share"));
        for (EvaluationReport.PolicySummary p : report.summary()) {
            sb.append(String.format(
                    Locale.ROOT,
                    fmt,
                    p.name(),
                    spread(p.quality(), many, false),
                    spread(p.qualityDifference(), many, false) + " ["
                            + num(p.qualityDifferenceInterval().low()) + ","
                            + num(p.qualityDifferenceInterval().high()) + "]",
                    many
                            ? String.format(
                                    Locale.ROOT,
                                    "%.4f+-%.4f",
                                    p.costUsd().mean(),
                                    p.costUsd().sd())
                            : String.format(Locale.ROOT, "%.4f", p.costUsd().mean()),
                    spread(p.saving(), many, true) + " ["
                            + pct(p.savingInterval().low()) + ","
                            + pct(p.savingInterval().high()) + "]",
                    spread(p.frontierShare(), many, true)));
        }
        sb.append(String.format(
                Locale.ROOT,
                "%nPer task type (%s):%n",
                many ? "recommended = most frequent over seeds; qualities and saving averaged" : "seed " + s.seed()));
        String tf = "%-36s %7s %6s  %-32s %-28s %9s %9s %8s  %s%n";
        sb.append(String.format(
                Locale.ROOT,
                tf,
                "task type",
                "n_train",
                "n_test",
                "calibrated (seeds)",
                "oracle-per-type",
                "frontier q",
                "rec. q",
                "saving",
                "reason"));
        for (TypeSummary t : typeSummaries(report)) {
            sb.append(String.format(
                    Locale.ROOT,
                    tf,
                    t.type(),
                    t.nTrain(),
                    t.nTest(),
                    t.recommended() + (many ? " (" + t.recommendedCount() + "/" + s.seeds() + ")" : ""),
                    t.oracle(),
                    num(t.frontierQuality()),
                    num(t.recommendedQuality()),
                    pct(t.saving()),
                    t.reason()));
        }
        List<String> excluded = first.taskTypes().stream()
                .filter(t -> !t.excludedModels().isEmpty())
                .map(t -> t.taskType() + ": " + String.join(", ", t.excludedModels()))
                .toList();
        if (!excluded.isEmpty()) {
            sb.append(String.format("%nLeft out (no outcome on every item of the type): %s%n", excluded));
        }
        return sb.toString();
    }

    private static String spread(EvaluationReport.Spread v, boolean many, boolean percent) {
        String mean = percent ? pct(v.mean()) : num(v.mean());
        if (!many) {
            return mean;
        }
        return mean + "+-" + (percent ? pct(v.sd()) : num(v.sd()));
    }

    private Map<String, Object> json(EvaluationReport report) {
        EvaluationSettings s = report.settings();
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("evidence", evidence.toString());
        root.put("frontier", s.frontier());
        root.put("train_fraction", s.trainFraction());
        root.put("epsilon", s.criteria().epsilon());
        root.put("confidence", s.criteria().confidence());
        root.put("min_samples", s.criteria().minSamples());
        root.put("seed", s.seed());
        root.put("seeds", s.seeds());
        root.put("test_queries", report.seeds().get(0).testQueries());
        root.put("cost_note", EvidenceInput.COST_NOTE);
        List<Object> policies = new ArrayList<>();
        List<EvaluationReport.PolicySummary> summary = report.summary();
        for (int i = 0; i < summary.size(); i++) {
            EvaluationReport.PolicySummary p = summary.get(i);
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", p.name());
            m.put("quality", round(p.quality().mean()));
            m.put("cost_usd", BigDecimal.valueOf(p.costUsd().mean()).setScale(9, RoundingMode.HALF_EVEN));
            m.put("saving_vs_frontier", round(p.saving().mean()));
            m.put("frontier_share", round(p.frontierShare().mean()));
            m.put("cost_is_estimate", true);
            m.put("quality_diff", round(p.qualityDifference().mean()));
            m.put("quality_diff_low", round(p.qualityDifferenceInterval().low()));
            m.put("quality_diff_high", round(p.qualityDifferenceInterval().high()));
            m.put("saving_low", round(p.savingInterval().low()));
            m.put("saving_high", round(p.savingInterval().high()));
            if (s.seeds() > 1) {
                m.put("quality_sd", round(p.quality().sd()));
                m.put("cost_usd_sd", round(p.costUsd().sd()));
                m.put("saving_vs_frontier_sd", round(p.saving().sd()));
                m.put("frontier_share_sd", round(p.frontierShare().sd()));
                m.put("quality_diff_sd", round(p.qualityDifference().sd()));
                List<Object> bySeed = new ArrayList<>();
                for (EvaluationReport.SeedResult r : report.seeds()) {
                    EvaluationReport.Policy x = r.policies().get(i);
                    Map<String, Object> one = new LinkedHashMap<>();
                    one.put("seed", r.seed());
                    one.put("quality", round(x.quality()));
                    one.put("cost_usd", x.cost().toUsd());
                    one.put("saving_vs_frontier", round(x.savingVsFrontier()));
                    one.put("frontier_share", round(x.frontierShare()));
                    one.put("quality_diff", round(x.qualityDifference()));
                    bySeed.add(one);
                }
                m.put("by_seed", bySeed);
            }
            policies.add(m);
        }
        root.put("policies", policies);
        List<Object> types = new ArrayList<>();
        for (TypeSummary t : typeSummaries(report)) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("type", t.type());
            m.put("n_train", t.nTrain());
            m.put("n_test", t.nTest());
            m.put("recommended", t.recommended());
            m.put("frontier_quality", round(t.frontierQuality()));
            m.put("recommended_quality", round(t.recommendedQuality()));
            m.put("saving", round(t.saving()));
            m.put("reason", t.reason());
            m.put("oracle_per_type", t.oracle());
            if (s.seeds() > 1) {
                m.put("recommended_by_seed", t.bySeed());
            }
            types.add(m);
        }
        root.put("task_types", types);
        return root;
    }

    /** One task type over all seeds: the most frequent recommendation, and means of the measures. */
    private record TypeSummary(
            String type,
            int nTrain,
            int nTest,
            String recommended,
            long recommendedCount,
            List<String> bySeed,
            String reason,
            String oracle,
            double frontierQuality,
            double recommendedQuality,
            double saving) {}

    private static List<TypeSummary> typeSummaries(EvaluationReport report) {
        List<TypeSummary> out = new ArrayList<>();
        int types = report.seeds().get(0).taskTypes().size();
        for (int i = 0; i < types; i++) {
            int index = i;
            List<EvaluationReport.TaskType> runs =
                    report.seeds().stream().map(r -> r.taskTypes().get(index)).toList();
            List<String> bySeed =
                    runs.stream().map(EvaluationReport.TaskType::recommended).toList();
            Map<String, Long> counts = new TreeMap<>();
            bySeed.forEach(m -> counts.merge(m, 1L, Long::sum));
            // Most frequent; ties go to the smaller model id so output is stable.
            Map.Entry<String, Long> top = counts.entrySet().stream()
                    .max(Comparator.comparing(Map.Entry<String, Long>::getValue)
                            .thenComparing(Map.Entry::getKey, Comparator.reverseOrder()))
                    .orElseThrow();
            Map<String, Long> oracleCounts = new TreeMap<>();
            runs.forEach(r -> oracleCounts.merge(r.oraclePerType(), 1L, Long::sum));
            String oracle = oracleCounts.entrySet().stream()
                    .max(Comparator.comparing(Map.Entry<String, Long>::getValue)
                            .thenComparing(Map.Entry::getKey, Comparator.reverseOrder()))
                    .map(e -> e.getKey() + (runs.size() > 1 ? " (" + e.getValue() + "/" + runs.size() + ")" : ""))
                    .orElseThrow();
            EvaluationReport.TaskType firstWithTop = runs.stream()
                    .filter(r -> r.recommended().equals(top.getKey()))
                    .findFirst()
                    .orElseThrow();
            out.add(new TypeSummary(
                    runs.get(0).taskType(),
                    runs.get(0).nTrain(),
                    runs.get(0).nTest(),
                    top.getKey(),
                    top.getValue(),
                    bySeed,
                    firstWithTop.reason(),
                    oracle,
                    runs.stream()
                            .mapToDouble(EvaluationReport.TaskType::frontierQuality)
                            .average()
                            .orElse(0),
                    runs.stream()
                            .mapToDouble(EvaluationReport.TaskType::recommendedQuality)
                            .average()
                            .orElse(0),
                    runs.stream()
                            .mapToDouble(EvaluationReport.TaskType::saving)
                            .average()
                            .orElse(0)));
        }
        return out;
    }
}
