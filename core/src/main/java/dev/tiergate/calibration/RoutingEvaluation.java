package dev.tiergate.calibration;

import dev.tiergate.pricing.Money;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Offline evaluation of calibrated routing against baselines, on evidence where every model answered the same
 * queries.
 *
 * <p>Per seed: each task type's items are shuffled with the seed and split into a calibration sample ({@code
 * trainFraction}) and a test set. {@link Calibration} runs on the sample with the frontier as the current model.
 * Every policy then routes each test item to one model and is scored with that model's recorded outcome:
 *
 * <ul>
 *   <li>{@code all-frontier}: the frontier model.
 *   <li>{@code all-cheapest}: per task type, the model with the lowest mean cost per call (prices are known in
 *       advance, so this uses all items' costs, never their scores).
 *   <li>{@code random}: the frontier with probability equal to the calibrated policy's frontier share, otherwise
 *       the all-cheapest choice; coin flips are seeded.
 *   <li>{@code calibrated}: the model calibration recommended for the type.
 *   <li>{@code oracle-per-type}: in hindsight on the test set, the cheapest model whose test quality is within
 *       epsilon of the frontier's on that type: the rule calibration tries to learn, with test data.
 *   <li>{@code oracle-per-query}: per test item, the cheapest model that achieves the best score on that item.
 * </ul>
 *
 * <p>Only models with an outcome on every item of a task type take part in that type (the others are listed in
 * the report); the frontier must have them all. Deterministic for the same evidence and settings. Stateless and
 * thread-safe.
 */
public final class RoutingEvaluation {

    /** The policies evaluated, in report order. */
    public static final List<String> POLICIES =
            List.of("all-frontier", "all-cheapest", "random", "calibrated", "oracle-per-type", "oracle-per-query");

    private RoutingEvaluation() {}

    /**
     * Runs the evaluation for every seed.
     *
     * @throws IllegalArgumentException if the frontier model lacks an outcome for some item, naming the task type
     *     and counts
     */
    public static EvaluationReport run(Evidence evidence, EvaluationSettings settings) {
        List<String> problems = new ArrayList<>();
        for (String type : evidence.taskTypes()) {
            int have = evidence.outcomes(type, settings.frontier()).size();
            int need = evidence.items(type).size();
            if (have < need) {
                problems.add("task type '" + type + "': frontier '" + settings.frontier() + "' has outcomes for " + have
                        + " of " + need + " items");
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("eval-routing needs the frontier model's outcome on every item; "
                    + String.join("; ", problems)
                    + (evidence.models().contains(settings.frontier())
                            ? ""
                            : ". Models in the evidence: " + String.join(", ", evidence.models())));
        }
        List<EvaluationReport.SeedResult> results = new ArrayList<>();
        for (int i = 0; i < settings.seeds(); i++) {
            results.add(runSeed(evidence, settings, settings.seed() + i));
        }
        return new EvaluationReport(settings, results);
    }

    private static EvaluationReport.SeedResult runSeed(Evidence evidence, EvaluationSettings s, long seed) {
        SplittableRandom root = new SplittableRandom(seed);
        SplittableRandom splitRng = root.split();
        SplittableRandom coinRng = root.split();
        String frontier = s.frontier();

        // Routed test queries, in task type then item order, with each policy's choice.
        List<Query> queries = new ArrayList<>();
        List<TypeSplit> splits = new ArrayList<>();
        for (String type : evidence.taskTypes()) {
            List<String> items = evidence.items(type);
            List<String> eligible = evidence.models(type).stream()
                    .filter(m -> evidence.outcomes(type, m).size() == items.size())
                    .toList();
            List<String> excluded = evidence.models(type).stream()
                    .filter(m -> !eligible.contains(m))
                    .toList();

            List<String> shuffled = new ArrayList<>(items);
            Collections.shuffle(shuffled, splitRng);
            int nTrain = (int) Math.round(s.trainFraction() * items.size());
            nTrain = Math.min(nTrain, items.size() - 1); // keep at least one test item
            Set<String> train = new HashSet<>(shuffled.subList(0, nTrain));
            List<String> test = items.stream().filter(i -> !train.contains(i)).toList(); // sorted, as items are

            List<Outcome> trainOutcomes = new ArrayList<>();
            for (String m : eligible) {
                evidence.outcomes(type, m).forEach((item, o) -> {
                    if (train.contains(item)) {
                        trainOutcomes.add(o);
                    }
                });
            }
            String calibrated = frontier;
            // An empty calibration sample is simply too small, not "no evidence for the current model".
            String reason = Decision.Reason.TOO_FEW_SAMPLES.text();
            if (!trainOutcomes.isEmpty()) {
                TaskTypeCalibration cal =
                        Calibration.calibrate(Evidence.of(trainOutcomes), type, frontier, s.criteria());
                calibrated = cal.recommendedModel();
                reason = switch (cal.decision()) {
                    case Decision.Switch sw -> "non-inferior";
                    case Decision.Keep k -> k.reason().text();
                };
            }

            String cheapest = eligible.stream()
                    .min(Comparator.comparing(
                                    (String m) -> Calibration.meanCost(evidence.outcomes(type, m).values().stream()
                                            .map(Outcome::cost)
                                            .toList()))
                            .thenComparing(m -> m))
                    .orElse(frontier);
            String oracleType = oraclePerType(
                    evidence, type, eligible, test, frontier, s.criteria().epsilon());
            splits.add(new TypeSplit(type, nTrain, test.size(), calibrated, reason, oracleType, excluded));

            for (String item : test) {
                Map<String, Outcome> byModel = new LinkedHashMap<>();
                for (String m : eligible) {
                    byModel.put(m, required(evidence.outcomes(type, m), item));
                }
                queries.add(new Query(type, byModel, cheapest, calibrated, oracleType, oraclePerQuery(byModel)));
            }
        }

        long toFrontier =
                queries.stream().filter(q -> q.calibrated().equals(frontier)).count();
        double calibratedShare = queries.isEmpty() ? 0 : (double) toFrontier / queries.size();
        List<String> randomChoice = new ArrayList<>();
        for (Query q : queries) {
            randomChoice.add(coinRng.nextDouble() < calibratedShare ? frontier : q.cheapest());
        }

        double z = Stats.normalQuantile(1 - s.criteria().alpha() / 2);
        List<String> baseline = queries.stream().map(q -> frontier).toList();
        List<EvaluationReport.Policy> policies = new ArrayList<>();
        for (String name : POLICIES) {
            List<String> routed = switch (name) {
                case "all-frontier" -> baseline;
                case "all-cheapest" -> queries.stream().map(Query::cheapest).toList();
                case "random" -> randomChoice;
                case "calibrated" -> queries.stream().map(Query::calibrated).toList();
                case "oracle-per-type" ->
                    queries.stream().map(Query::oracleType).toList();
                case "oracle-per-query" ->
                    queries.stream().map(Query::oracleQuery).toList();
                default -> throw new IllegalStateException("unknown policy " + name);
            };
            policies.add(score(name, queries, routed, frontier, s.criteria().confidence(), z));
        }

        List<EvaluationReport.TaskType> types = new ArrayList<>();
        for (TypeSplit t : splits) {
            List<Query> ofType =
                    queries.stream().filter(q -> q.type().equals(t.type())).toList();
            double fq = mean(ofType, frontier);
            double rq = mean(ofType, t.calibrated());
            Money fc = total(ofType, frontier);
            Money rc = total(ofType, t.calibrated());
            double saving = fc.nanos() == 0 ? 0 : 1 - (double) rc.nanos() / fc.nanos();
            types.add(new EvaluationReport.TaskType(
                    t.type(),
                    t.nTrain(),
                    t.nTest(),
                    t.calibrated(),
                    t.reason(),
                    t.oracleType(),
                    fq,
                    rq,
                    saving,
                    t.excluded()));
        }
        return new EvaluationReport.SeedResult(seed, queries.size(), policies, types);
    }

    private static String oraclePerType(
            Evidence evidence, String type, List<String> eligible, List<String> test, String frontier, double eps) {
        double frontierQuality = testMean(evidence, type, frontier, test);
        String best = frontier;
        Money bestCost = testCost(evidence, type, frontier, test);
        for (String m : eligible) {
            Money cost = testCost(evidence, type, m, test);
            // Tiny tolerance: means of the same counts must compare equal despite rounding.
            boolean withinMargin = testMean(evidence, type, m, test) >= frontierQuality - eps - 1e-12;
            if (withinMargin && (cost.compareTo(bestCost) < 0 || (cost.equals(bestCost) && m.compareTo(best) < 0))) {
                best = m;
                bestCost = cost;
            }
        }
        return best;
    }

    private static double testMean(Evidence evidence, String type, String model, List<String> test) {
        Map<String, Outcome> o = evidence.outcomes(type, model);
        return test.stream().mapToDouble(i -> required(o, i).score()).average().orElse(0);
    }

    private static Money testCost(Evidence evidence, String type, String model, List<String> test) {
        Map<String, Outcome> o = evidence.outcomes(type, model);
        return test.stream().map(i -> required(o, i).cost()).reduce(Money.ZERO, Money::plus);
    }

    /** Eligible models have every item of their type, so a missing outcome is a bug here, not bad input. */
    private static Outcome required(Map<String, Outcome> byItem, String item) {
        Outcome o = byItem.get(item);
        if (o == null) {
            throw new IllegalStateException("no outcome for item " + item);
        }
        return o;
    }

    /** The cheapest model reaching the best score on this item; ties on cost go to the smaller model id. */
    private static String oraclePerQuery(Map<String, Outcome> byModel) {
        double best =
                byModel.values().stream().mapToDouble(Outcome::score).max().orElse(0);
        return byModel.values().stream()
                .filter(o -> o.score() == best)
                .min(Comparator.comparing(Outcome::cost).thenComparing(Outcome::model))
                .map(Outcome::model)
                .orElseThrow();
    }

    private static EvaluationReport.Policy score(
            String name, List<Query> queries, List<String> routed, String frontier, double confidence, double z) {
        int n = queries.size();
        double[] diff = new double[n];
        double[] cost = new double[n];
        double[] frontierCost = new double[n];
        double quality = 0;
        Money total = Money.ZERO;
        Money frontierTotal = Money.ZERO;
        int toFrontier = 0;
        for (int i = 0; i < n; i++) {
            Outcome chosen = queries.get(i).outcome(routed.get(i));
            Outcome f = queries.get(i).outcome(frontier);
            quality += chosen.score();
            diff[i] = chosen.score() - f.score();
            total = total.plus(chosen.cost());
            frontierTotal = frontierTotal.plus(f.cost());
            cost[i] = chosen.cost().nanos();
            frontierCost[i] = f.cost().nanos();
            toFrontier += routed.get(i).equals(frontier) ? 1 : 0;
        }
        quality = n == 0 ? 0 : quality / n;
        double ratio = frontierTotal.nanos() == 0 ? 1 : (double) total.nanos() / frontierTotal.nanos();
        // Ratio estimator: residuals c_i - R f_i sum to zero, and se(R) = sd(residuals) / (sqrt(n) mean(f)).
        double[] residual = new double[n];
        double meanFrontierCost = 0;
        for (int i = 0; i < n; i++) {
            residual[i] = cost[i] - ratio * frontierCost[i];
            meanFrontierCost += frontierCost[i] / n;
        }
        double seRatio =
                n < 2 || meanFrontierCost == 0 ? 0 : Stats.meanSd(residual).sd() / Math.sqrt(n) / meanFrontierCost;
        Stats.MeanSd d = Stats.meanSd(diff);
        double half = n < 2 ? 0 : Stats.studentTQuantile(1 - (1 - confidence) / 2, n - 1) * d.sd() / Math.sqrt(n);
        return new EvaluationReport.Policy(
                name,
                quality,
                total,
                1 - ratio,
                new EvaluationReport.Interval(1 - ratio - z * seRatio, 1 - ratio + z * seRatio),
                n == 0 ? 0 : (double) toFrontier / n,
                d.mean(),
                new EvaluationReport.Interval(d.mean() - half, d.mean() + half));
    }

    private static double mean(List<Query> queries, String model) {
        return queries.stream()
                .mapToDouble(q -> q.outcome(model).score())
                .average()
                .orElse(0);
    }

    private static Money total(List<Query> queries, String model) {
        return queries.stream().map(q -> q.outcome(model).cost()).reduce(Money.ZERO, Money::plus);
    }

    private record TypeSplit(
            String type,
            int nTrain,
            int nTest,
            String calibrated,
            String reason,
            String oracleType,
            List<String> excluded) {}

    /** One test item: every eligible model's outcome and each deterministic policy's choice. */
    private record Query(
            String type,
            Map<String, Outcome> byModel,
            String cheapest,
            String calibrated,
            String oracleType,
            String oracleQuery) {
        Outcome outcome(String model) {
            Outcome o = byModel.get(model);
            if (o == null) {
                throw new IllegalStateException("no outcome of " + model + " on a test item of " + type);
            }
            return o;
        }
    }
}
