package dev.tiergate.calibration;

import dev.tiergate.pricing.Money;
import java.util.ArrayList;
import java.util.List;

/**
 * The result of {@link RoutingEvaluation}: per seed, how each routing policy did on the held-out test items, and a
 * summary over seeds. Costs are sums of the evidence file's {@code cost_usd} and so are estimates whenever those
 * are.
 *
 * @param settings the settings of the run
 * @param seeds one result per seed, in seed order
 */
public record EvaluationReport(EvaluationSettings settings, List<SeedResult> seeds) {

    /** Copies the list and requires at least one seed. */
    public EvaluationReport {
        seeds = List.copyOf(seeds);
        if (seeds.isEmpty()) {
            throw new IllegalArgumentException("an evaluation report needs at least one seed");
        }
    }

    /** Per policy, the mean and spread of each measure over the seeds, in {@link RoutingEvaluation#POLICIES} order. */
    public List<PolicySummary> summary() {
        List<PolicySummary> out = new ArrayList<>();
        for (int p = 0; p < seeds.get(0).policies().size(); p++) {
            int index = p;
            List<Policy> runs = seeds.stream().map(s -> s.policies().get(index)).toList();
            out.add(new PolicySummary(
                    runs.get(0).name(),
                    Spread.of(runs.stream().mapToDouble(Policy::quality).toArray()),
                    Spread.of(runs.stream()
                            .mapToDouble(r -> r.cost().toUsd().doubleValue())
                            .toArray()),
                    Spread.of(
                            runs.stream().mapToDouble(Policy::savingVsFrontier).toArray()),
                    Spread.of(runs.stream().mapToDouble(Policy::frontierShare).toArray()),
                    Spread.of(
                            runs.stream().mapToDouble(Policy::qualityDifference).toArray()),
                    new Interval(
                            mean(runs.stream()
                                    .mapToDouble(r -> r.savingInterval().low())
                                    .toArray()),
                            mean(runs.stream()
                                    .mapToDouble(r -> r.savingInterval().high())
                                    .toArray())),
                    new Interval(
                            mean(runs.stream()
                                    .mapToDouble(
                                            r -> r.qualityDifferenceInterval().low())
                                    .toArray()),
                            mean(runs.stream()
                                    .mapToDouble(
                                            r -> r.qualityDifferenceInterval().high())
                                    .toArray()))));
        }
        return List.copyOf(out);
    }

    private static double mean(double[] values) {
        return Stats.meanSd(values).mean();
    }

    /**
     * The evaluation with one seed.
     *
     * @param seed the seed of the train/test split and of the random policy
     * @param testQueries test items over all task types
     * @param policies one entry per policy, in {@link RoutingEvaluation#POLICIES} order
     * @param taskTypes one entry per task type, sorted
     */
    public record SeedResult(long seed, int testQueries, List<Policy> policies, List<TaskType> taskTypes) {
        /** Copies the lists. */
        public SeedResult {
            policies = List.copyOf(policies);
            taskTypes = List.copyOf(taskTypes);
        }
    }

    /**
     * How one routing policy did on the test items of one seed.
     *
     * @param name the policy, one of {@link RoutingEvaluation#POLICIES}
     * @param quality mean score over test items
     * @param cost total cost over test items (an estimate from the evidence)
     * @param savingVsFrontier {@code 1 - cost / cost(all-frontier)}
     * @param savingInterval two-sided confidence interval of the saving (delta method, paired across items)
     * @param frontierShare the share of test items routed to the frontier model
     * @param qualityDifference {@code quality - quality(all-frontier)}
     * @param qualityDifferenceInterval two-sided Student t interval of the difference, paired across items
     */
    public record Policy(
            String name,
            double quality,
            Money cost,
            double savingVsFrontier,
            Interval savingInterval,
            double frontierShare,
            double qualityDifference,
            Interval qualityDifferenceInterval) {}

    /**
     * One task type in one seed.
     *
     * @param taskType the task type
     * @param nTrain calibration items
     * @param nTest test items
     * @param recommended the model calibration chose on the calibration items
     * @param reason why: {@code "non-inferior"} or the keep reason
     * @param oraclePerType the oracle-per-type choice on the test items
     * @param frontierQuality the frontier's mean score on the test items
     * @param recommendedQuality the recommended model's mean score on the test items
     * @param saving {@code 1 - cost(recommended) / cost(frontier)} on the test items
     * @param excludedModels models left out because they lack outcomes for some items of this type
     */
    public record TaskType(
            String taskType,
            int nTrain,
            int nTest,
            String recommended,
            String reason,
            String oraclePerType,
            double frontierQuality,
            double recommendedQuality,
            double saving,
            List<String> excludedModels) {
        /** Copies the list. */
        public TaskType {
            excludedModels = List.copyOf(excludedModels);
        }
    }

    /**
     * A policy's measures summarised over seeds.
     *
     * @param name the policy
     * @param quality mean score
     * @param costUsd total test cost in USD (estimate)
     * @param saving saving vs all-frontier
     * @param frontierShare share routed to the frontier
     * @param qualityDifference quality minus all-frontier quality
     * @param savingInterval the per-seed saving intervals, bounds averaged over seeds
     * @param qualityDifferenceInterval the per-seed difference intervals, bounds averaged over seeds
     */
    public record PolicySummary(
            String name,
            Spread quality,
            Spread costUsd,
            Spread saving,
            Spread frontierShare,
            Spread qualityDifference,
            Interval savingInterval,
            Interval qualityDifferenceInterval) {}

    /**
     * Mean, sample standard deviation (0 for one value), minimum and maximum of a measure over seeds.
     *
     * @param mean the mean
     * @param sd the sample standard deviation
     * @param min the smallest value
     * @param max the largest value
     */
    public record Spread(double mean, double sd, double min, double max) {
        static Spread of(double[] values) {
            Stats.MeanSd m = Stats.meanSd(values);
            double min = Double.POSITIVE_INFINITY;
            double max = Double.NEGATIVE_INFINITY;
            for (double v : values) {
                min = Math.min(min, v);
                max = Math.max(max, v);
            }
            return new Spread(m.mean(), m.sd(), min, max);
        }
    }

    /**
     * A two-sided interval.
     *
     * @param low the lower end
     * @param high the upper end
     */
    public record Interval(double low, double high) {}
}
