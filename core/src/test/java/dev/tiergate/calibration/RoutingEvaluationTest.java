package dev.tiergate.calibration;

import static dev.tiergate.calibration.Fixtures.evidence;
import static dev.tiergate.calibration.Fixtures.outcomes;
import static dev.tiergate.calibration.Fixtures.scores;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.tiergate.pricing.Money;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A tiny evidence set whose numbers are checked by hand. Frontier F costs 0.01 per call, mid M 0.002, cheap C 0.001.
 *
 * <ul>
 *   <li>{@code easy}, 200 items: everyone scores 1. Split 100/100; the tie bound at n=100 with two candidates
 *       (-1.96^2/103.84 = -0.037) clears epsilon 0.05, so calibration picks C.
 *   <li>{@code hard}, 200 items: only F scores 1, so calibration keeps F.
 *   <li>{@code solo}, 1 item: no calibration sample (n_train 0, keep F); only M scores 1.
 * </ul>
 *
 * Every item of a type is alike, so the totals do not depend on which items the seed puts in the test set: 201 test
 * queries, all-frontier cost 201 x 0.01 = 2.01.
 */
class RoutingEvaluationTest {

    private static final Criteria CRITERIA = new Criteria(0.05, 0.95, 30);

    private static Evidence tiny() {
        return evidence(
                outcomes("easy", "F", "0.01", scores(200, 200)),
                outcomes("easy", "M", "0.002", scores(200, 200)),
                outcomes("easy", "C", "0.001", scores(200, 200)),
                outcomes("hard", "F", "0.01", scores(200, 200)),
                outcomes("hard", "M", "0.002", scores(200, 0)),
                outcomes("hard", "C", "0.001", scores(200, 0)),
                outcomes("solo", "F", "0.01", 0),
                outcomes("solo", "M", "0.002", 1),
                outcomes("solo", "C", "0.001", 0));
    }

    private static EvaluationReport run(long seed, int seeds) {
        return RoutingEvaluation.run(tiny(), new EvaluationSettings("F", 0.5, CRITERIA, seed, seeds));
    }

    @Test
    void scoresEveryPolicyAsComputedByHand() {
        EvaluationReport.SeedResult r = run(1, 1).seeds().get(0);

        assertThat(r.testQueries()).isEqualTo(201);
        assertThat(r.policies()).extracting(EvaluationReport.Policy::name).isEqualTo(RoutingEvaluation.POLICIES);
        // name, quality, cost, saving, frontier share
        check(r.policies().get(0), "all-frontier", 200.0 / 201, "2.01", 0, 1);
        check(r.policies().get(1), "all-cheapest", 100.0 / 201, "0.201", 0.9, 0);
        // calibrated: easy -> C (100 x 0.001), hard -> F (100 x 0.01), solo -> F (0.01) = 1.11
        check(r.policies().get(3), "calibrated", 200.0 / 201, "1.11", 1 - 1.11 / 2.01, 101.0 / 201);
        // oracle-per-type: as calibrated, but solo -> C (everyone within epsilon of F's 0 there) = 1.101
        check(r.policies().get(4), "oracle-per-type", 200.0 / 201, "1.101", 1 - 1.101 / 2.01, 100.0 / 201);
        // oracle-per-query: solo -> M, the only model scoring 1 on it = 1.102
        check(r.policies().get(5), "oracle-per-query", 1.0, "1.102", 1 - 1.102 / 2.01, 100.0 / 201);
        assertThat(r.policies().get(5).qualityDifference()).isCloseTo(1.0 / 201, within(1e-12));

        // random: frontier with the calibrated share, else C; cost follows from how many went to F.
        EvaluationReport.Policy random = r.policies().get(2);
        long toF = Math.round(random.frontierShare() * 201);
        assertThat(random.frontierShare()).isBetween(0.35, 0.65);
        assertThat(random.cost())
                .isEqualTo(Money.parseUsd("0.01")
                        .times(toF)
                        .plus(Money.parseUsd("0.001").times(201 - toF)));
    }

    @Test
    void reportsEachTaskType() {
        List<EvaluationReport.TaskType> types = run(1, 1).seeds().get(0).taskTypes();

        assertThat(types).extracting(EvaluationReport.TaskType::taskType).containsExactly("easy", "hard", "solo");
        EvaluationReport.TaskType easy = types.get(0);
        assertThat(easy.nTrain()).isEqualTo(100);
        assertThat(easy.nTest()).isEqualTo(100);
        assertThat(easy.recommended()).isEqualTo("C");
        assertThat(easy.reason()).isEqualTo("non-inferior");
        assertThat(easy.saving()).isCloseTo(0.9, within(1e-12));
        assertThat(types.get(1).recommended()).isEqualTo("F");
        assertThat(types.get(1).reason()).isEqualTo("no cheaper model shown non-inferior");
        assertThat(types.get(2).nTrain()).isZero();
        assertThat(types.get(2).reason()).isEqualTo("n < min-samples");
        assertThat(types.get(2).oraclePerType()).isEqualTo("C");
    }

    @Test
    void intervalsArePairedAcrossItems() {
        EvaluationReport.SeedResult r = run(1, 1).seeds().get(0);

        EvaluationReport.Policy frontier = r.policies().get(0);
        assertThat(frontier.qualityDifferenceInterval()).isEqualTo(new EvaluationReport.Interval(0, 0));
        assertThat(frontier.savingInterval()).isEqualTo(new EvaluationReport.Interval(0, 0));
        EvaluationReport.Policy calibrated = r.policies().get(3);
        // Same score as the frontier on every item: a zero-width quality interval.
        assertThat(calibrated.qualityDifferenceInterval().low()).isEqualTo(0.0);
        assertThat(calibrated.savingInterval().low()).isLessThan(calibrated.savingVsFrontier());
        assertThat(calibrated.savingInterval().high()).isGreaterThan(calibrated.savingVsFrontier());
    }

    @Test
    void isDeterministicForASeedAndSummarisesSeveralSeeds() {
        assertThat(run(7, 1)).isEqualTo(run(7, 1));

        EvaluationReport three = run(1, 3);
        assertThat(three.seeds()).extracting(EvaluationReport.SeedResult::seed).containsExactly(1L, 2L, 3L);
        EvaluationReport.PolicySummary calibrated = three.summary().get(3);
        assertThat(calibrated.name()).isEqualTo("calibrated");
        assertThat(calibrated.costUsd().mean()).isCloseTo(1.11, within(1e-9));
        assertThat(calibrated.costUsd().sd()).isCloseTo(0, within(1e-12));
    }

    @Test
    void leavesOutModelsMissingItemsAndRequiresTheFrontierOnEveryItem() {
        Evidence partial =
                evidence(outcomes("t", "F", "0.01", scores(50, 40)), outcomes("t", "C", "0.001", scores(49, 40)));
        EvaluationReport r = RoutingEvaluation.run(partial, new EvaluationSettings("F", 0.5, CRITERIA, 1, 1));
        assertThat(r.seeds().get(0).taskTypes().get(0).excludedModels()).containsExactly("C");

        assertThatThrownBy(() -> RoutingEvaluation.run(partial, new EvaluationSettings("C", 0.5, CRITERIA, 1, 1)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("task type 't': frontier 'C' has outcomes for 49 of 50 items");
    }

    private static void check(
            EvaluationReport.Policy p, String name, double quality, String costUsd, double saving, double share) {
        assertThat(p.name()).isEqualTo(name);
        assertThat(p.quality()).as(name + " quality").isCloseTo(quality, within(1e-12));
        assertThat(p.cost()).as(name + " cost").isEqualTo(Money.parseUsd(costUsd));
        assertThat(p.savingVsFrontier()).as(name + " saving").isCloseTo(saving, within(1e-12));
        assertThat(p.frontierShare()).as(name + " frontier share").isCloseTo(share, within(1e-12));
    }
}
