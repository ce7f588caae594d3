package dev.tiergate.calibration;

import dev.tiergate.pricing.Money;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Recommends, per task type, the cheapest model that is non-inferior to the current one, and flags task types whose
 * current model is measurably worse than another (under-classification).
 *
 * <p>Method, per task type and for each other model M with outcomes on items the current model C also answered:
 *
 * <ol>
 *   <li>Pair the items both answered and take {@code d_i = score_M(i) - score_C(i)}. Pairing removes the item
 *       difficulty that both models share, which makes the interval far narrower than comparing two independent
 *       means.
 *   <li>Lower confidence bound of the mean difference, one-sided: Tango's score interval when every paired score
 *       is 0 or 1; for graded scores, Hall's skewness-corrected t on {@code d_i} floored by Tango on the signs of
 *       {@code d_i} (see {@link Stats}).
 *   <li>Cost per call of M and C as the mean evidence cost on the same paired items. M is a <em>cheaper</em>
 *       candidate when its cost per call is lower.
 *   <li>Several cheaper candidates are tested at once, and the recommendation is whichever passes; so each bound
 *       uses confidence {@code 1 - alpha / k} (Bonferroni over the {@code k} candidates with enough samples). The
 *       chance of recommending any model that is really worse than C by more than epsilon then stays at most
 *       alpha.
 *   <li>Recommend the cheapest candidate with at least min-samples paired items whose bound is above {@code
 *       -epsilon}; otherwise keep C and say why.
 *   <li>Under-classification: a model costing at least as much as C whose bound (adjusted over those models) is
 *       above {@code +epsilon} is measurably better than C beyond the margin.
 * </ol>
 *
 * <p>Stateless and thread-safe. Results are deterministic: models with equal cost are ordered by id.
 */
public final class Calibration {

    private Calibration() {}

    /**
     * Calibrates every task type of a policy.
     *
     * <p>This is the policy-integration point: pass each task type's current model as the policy routes it today.
     *
     * @param currentModelByTaskType task type to the model it uses today; types absent from the evidence get
     *     {@link Decision.Reason#NO_EVIDENCE_FOR_CURRENT}, evidence types absent from the map are skipped
     * @return one result per map entry, sorted by task type
     */
    public static List<TaskTypeCalibration> run(
            Evidence evidence, Map<String, String> currentModelByTaskType, Criteria criteria) {
        List<TaskTypeCalibration> results = new ArrayList<>();
        new TreeMap<>(currentModelByTaskType)
                .forEach((type, model) -> results.add(calibrate(evidence, type, model, criteria)));
        return List.copyOf(results);
    }

    /** Calibrates every task type in the evidence against the same current model. */
    public static List<TaskTypeCalibration> run(Evidence evidence, String currentModel, Criteria criteria) {
        Map<String, String> all = new TreeMap<>();
        evidence.taskTypes().forEach(t -> all.put(t, currentModel));
        return run(evidence, all, criteria);
    }

    /** Calibrates one task type against its current model. */
    public static TaskTypeCalibration calibrate(
            Evidence evidence, String taskType, String currentModel, Criteria criteria) {
        Map<String, Outcome> current = evidence.outcomes(taskType, currentModel);
        if (current.isEmpty()) {
            return new TaskTypeCalibration(
                    taskType,
                    currentModel,
                    new Decision.Keep(Decision.Reason.NO_EVIDENCE_FOR_CURRENT),
                    Estimate.none(),
                    Money.ZERO,
                    List.of(),
                    List.of());
        }
        Estimate currentQuality = Estimate.of(
                current.values().stream().mapToDouble(Outcome::score).toArray(), criteria.confidence());
        Money currentCost =
                meanCost(current.values().stream().map(Outcome::cost).toList());

        List<Paired> cheaper = new ArrayList<>();
        List<Paired> others = new ArrayList<>();
        for (String model : evidence.models(taskType)) {
            if (model.equals(currentModel)) {
                continue;
            }
            Paired p = Paired.of(current, evidence.outcomes(taskType, model), currentCost);
            (p.cost().compareTo(p.currentCost()) < 0 ? cheaper : others).add(p);
        }
        Comparator<Paired> byCost = Comparator.comparing(Paired::cost).thenComparing(Paired::model);
        cheaper.sort(byCost);
        others.sort(byCost);

        List<Comparison> cheaperResults = compareAll(cheaper, criteria);
        List<Comparison> otherResults = compareAll(others, criteria);

        Decision decision = cheaperResults.stream()
                .filter(Comparison::nonInferior)
                .findFirst() // sorted cheapest first
                .<Decision>map(c -> new Decision.Switch(c.model()))
                .orElseGet(() -> new Decision.Keep(
                        cheaperResults.isEmpty()
                                ? Decision.Reason.NO_CHEAPER_MODEL
                                : cheaperResults.stream().noneMatch(Comparison::enoughSamples)
                                        ? Decision.Reason.TOO_FEW_SAMPLES
                                        : Decision.Reason.NOT_NON_INFERIOR));
        return new TaskTypeCalibration(
                taskType, currentModel, decision, currentQuality, currentCost, cheaperResults, otherResults);
    }

    private static List<Comparison> compareAll(List<Paired> group, Criteria criteria) {
        long tested = group.stream().filter(p -> p.n() >= criteria.minSamples()).count();
        // Bonferroni: the decision looks at every tested model, so split alpha among them.
        double level = 1 - criteria.alpha() / Math.max(1, tested);
        return group.stream().map(p -> p.compare(level, criteria)).toList();
    }

    static Money meanCost(List<Money> costs) {
        if (costs.isEmpty()) {
            return Money.ZERO;
        }
        long total = 0;
        for (Money m : costs) {
            total = Math.addExact(total, m.nanos());
        }
        return Money.ofNanos(Math.round((double) total / costs.size()));
    }

    /** Scores and costs of a candidate and the current model on the items both answered, in item order. */
    private static final class Paired {
        private final String model;
        private final double[] scores;
        private final double[] currentScores;
        private final Money cost;
        private final Money currentCost;
        private final boolean binary;

        private Paired(
                String model, double[] scores, double[] currentScores, Money cost, Money currentCost, boolean binary) {
            this.model = model;
            this.scores = scores;
            this.currentScores = currentScores;
            this.cost = cost;
            this.currentCost = currentCost;
            this.binary = binary;
        }

        String model() {
            return model;
        }

        Money cost() {
            return cost;
        }

        Money currentCost() {
            return currentCost;
        }

        static Paired of(Map<String, Outcome> current, Map<String, Outcome> candidate, Money currentCostAllItems) {
            List<Outcome> mine = new ArrayList<>();
            List<Outcome> theirs = new ArrayList<>();
            candidate.forEach((item, o) -> {
                Outcome c = current.get(item);
                if (c != null) {
                    mine.add(o);
                    theirs.add(c);
                }
            });
            String model = candidate.values().iterator().next().model();
            if (mine.isEmpty()) {
                // Nothing to pair: rank by the model's own mean cost so it still lands in the right group.
                return new Paired(
                        model,
                        new double[0],
                        new double[0],
                        meanCost(candidate.values().stream().map(Outcome::cost).toList()),
                        currentCostAllItems,
                        true);
            }
            boolean binary =
                    mine.stream().allMatch(Outcome::isBinary) && theirs.stream().allMatch(Outcome::isBinary);
            return new Paired(
                    model,
                    mine.stream().mapToDouble(Outcome::score).toArray(),
                    theirs.stream().mapToDouble(Outcome::score).toArray(),
                    meanCost(mine.stream().map(Outcome::cost).toList()),
                    meanCost(theirs.stream().map(Outcome::cost).toList()),
                    binary);
        }

        int n() {
            return scores.length;
        }

        Comparison compare(double level, Criteria criteria) {
            int n = n();
            double[] d = new double[n];
            int better = 0;
            int worse = 0;
            for (int i = 0; i < n; i++) {
                d[i] = scores[i] - currentScores[i];
                better += d[i] > 0 ? 1 : 0;
                worse += d[i] < 0 ? 1 : 0;
            }
            double mean = Stats.meanSd(d).mean();
            Comparison.IntervalMethod method;
            double bound;
            if (n == 0) {
                method = Comparison.IntervalMethod.NONE;
                bound = -1;
            } else if (binary) {
                method = Comparison.IntervalMethod.TANGO_SCORE;
                bound = Stats.tangoLowerBound(n, better, worse, Stats.normalQuantile(level));
            } else {
                method = Comparison.IntervalMethod.GRADED;
                bound = Stats.gradedLowerBound(d, level);
            }
            bound = Math.min(bound, mean);
            boolean enough = n >= criteria.minSamples();
            return new Comparison(
                    model,
                    n,
                    Estimate.of(scores, criteria.confidence()),
                    Estimate.of(currentScores, criteria.confidence()),
                    mean,
                    bound,
                    level,
                    method,
                    cost,
                    currentCost,
                    enough,
                    enough && bound > -criteria.epsilon(),
                    enough && bound > criteria.epsilon());
        }
    }
}
