package dev.tiergate.calibration;

import static dev.tiergate.calibration.Fixtures.evidence;
import static dev.tiergate.calibration.Fixtures.outcomes;
import static dev.tiergate.calibration.Fixtures.scores;
import static dev.tiergate.calibration.Fixtures.with;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.tiergate.pricing.Money;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class CalibrationTest {

    private static final Criteria CRITERIA = Criteria.DEFAULT;

    @Test
    void switchesToACheaperModelThatIsClearlyNonInferior() {
        // 400 items; big is right on 300. Small also gets 20 of big's misses right and misses 10 of its hits.
        double[] big = scores(400, 300);
        double[] small = with(with(big, 1, 300, 320), 0, 0, 10);
        Evidence ev = evidence(outcomes("t", "big", "0.01", big), outcomes("t", "small", "0.001", small));

        TaskTypeCalibration r = Calibration.calibrate(ev, "t", "big", CRITERIA);

        assertThat(r.decision()).isEqualTo(new Decision.Switch("small"));
        assertThat(r.recommendedModel()).isEqualTo("small");
        Comparison c = r.recommendation().orElseThrow();
        assertThat(c.pairedItems()).isEqualTo(400);
        assertThat(c.difference()).isCloseTo(0.025, within(1e-12));
        assertThat(c.differenceLowerBound()).isBetween(-0.01, 0.025);
        assertThat(c.method()).isEqualTo(Comparison.IntervalMethod.TANGO_SCORE);
        assertThat(r.savingPerCall()).isEqualTo(Money.parseUsd("0.009"));
        assertThat(r.savingFraction()).isCloseTo(0.9, within(1e-12));
        assertThat(r.underClassified()).isFalse();
    }

    @Test
    void keepsTheCurrentModelWhenTheCheaperOneIsClearlyInferior() {
        double[] big = scores(400, 300);
        double[] small = with(with(big, 0, 0, 60), 1, 300, 305);
        Evidence ev = evidence(outcomes("t", "big", "0.01", big), outcomes("t", "small", "0.001", small));

        TaskTypeCalibration r = Calibration.calibrate(ev, "t", "big", CRITERIA);

        assertThat(r.decision()).isEqualTo(new Decision.Keep(Decision.Reason.NOT_NON_INFERIOR));
        assertThat(r.recommendedModel()).isEqualTo("big");
        assertThat(r.savingPerCall()).isEqualTo(Money.ZERO);
        assertThat(r.cheaper().get(0).nonInferior()).isFalse();
    }

    @Test
    void keepsWithReasonWhenThereAreTooFewSamples() {
        double[] same = scores(20, 15);
        Evidence ev = evidence(outcomes("t", "big", "0.01", same), outcomes("t", "small", "0.001", same));

        TaskTypeCalibration r = Calibration.calibrate(ev, "t", "big", CRITERIA);

        assertThat(r.decision()).isEqualTo(new Decision.Keep(Decision.Reason.TOO_FEW_SAMPLES));
        assertThat(((Decision.Keep) r.decision()).reason().text()).isEqualTo("n < min-samples");
        assertThat(r.cheaper().get(0).enoughSamples()).isFalse();
    }

    @Test
    void identicalModelsGoToTheCheapest() {
        double[] same = scores(500, 400);
        Evidence ev = evidence(
                outcomes("t", "big", "0.01", same),
                outcomes("t", "mid", "0.005", same),
                outcomes("t", "tiny", "0.0001", same));

        TaskTypeCalibration r = Calibration.calibrate(ev, "t", "big", CRITERIA);

        assertThat(r.recommendedModel()).isEqualTo("tiny");
        assertThat(r.cheaper()).extracting(Comparison::model).containsExactly("tiny", "mid");
        // Two candidates tested: Bonferroni puts each bound at 1 - 0.05 / 2.
        assertThat(r.cheaper().get(0).boundConfidence()).isCloseTo(0.975, within(1e-12));
        double z = Stats.normalQuantile(0.975);
        assertThat(r.cheaper().get(0).differenceLowerBound()).isCloseTo(-z * z / (500 + z * z), within(1e-9));
    }

    @Test
    void identicalModelsOnTooFewItemsToRuleOutAOnePointLossAreKept() {
        // All 100 items tie, yet a 1-point loss is not ruled out: the bound is -z^2/(n+z^2) = -0.026.
        double[] same = scores(100, 80);
        Evidence ev = evidence(outcomes("t", "big", "0.01", same), outcomes("t", "small", "0.001", same));

        assertThat(Calibration.calibrate(ev, "t", "big", CRITERIA).decision())
                .isEqualTo(new Decision.Keep(Decision.Reason.NOT_NON_INFERIOR));
    }

    @Test
    void flagsUnderClassificationWhenAStrongerModelIsMeasurablyBetter() {
        double[] small = scores(300, 150);
        double[] big = with(small, 1, 150, 240);
        Evidence ev = evidence(outcomes("t", "small", "0.001", small), outcomes("t", "big", "0.01", big));

        TaskTypeCalibration r = Calibration.calibrate(ev, "t", "small", CRITERIA);

        assertThat(r.decision()).isEqualTo(new Decision.Keep(Decision.Reason.NO_CHEAPER_MODEL));
        assertThat(r.underClassified()).isTrue();
        assertThat(r.measurablyBetter()).extracting(Comparison::model).containsExactly("big");
        assertThat(r.measurablyBetter().get(0).difference()).isCloseTo(0.3, within(1e-12));
        assertThat(r.measurablyBetter().get(0).differenceLowerBound()).isGreaterThan(CRITERIA.epsilon());
    }

    @Test
    void doesNotFlagAStrongerModelWithinTheMargin() {
        double[] small = scores(300, 150);
        double[] big = with(small, 1, 150, 152);
        Evidence ev = evidence(outcomes("t", "small", "0.001", small), outcomes("t", "big", "0.01", big));

        assertThat(Calibration.calibrate(ev, "t", "small", CRITERIA).underClassified())
                .isFalse();
    }

    @Test
    void pairsOnlyTheItemsBothModelsAnswered() {
        double[] big = scores(400, 300);
        Evidence ev = evidence(
                outcomes("t", "big", "0.01", big), outcomes("t", "small", "0.001", java.util.Arrays.copyOf(big, 100)));

        Comparison c = Calibration.calibrate(ev, "t", "big", CRITERIA).cheaper().get(0);

        assertThat(c.pairedItems()).isEqualTo(100);
        assertThat(c.currentQuality().mean()).isEqualTo(1.0); // the first 100 items are all ones
    }

    @Test
    void gradedScoresUseTheGradedBound() {
        double[] big = new double[200];
        double[] small = new double[200];
        for (int i = 0; i < 200; i++) {
            big[i] = (i % 10) / 10.0;
            small[i] = big[i];
        }
        Evidence ev = evidence(outcomes("t", "big", "0.01", big), outcomes("t", "small", "0.001", small));

        Comparison c = Calibration.calibrate(ev, "t", "big", CRITERIA).cheaper().get(0);

        assertThat(c.method()).isEqualTo(Comparison.IntervalMethod.GRADED);
        assertThat(c.differenceLowerBound()).isLessThan(0);
    }

    @Test
    void reportsMissingEvidenceForTheCurrentModel() {
        Evidence ev = evidence(outcomes("t", "small", "0.001", scores(50, 40)));

        List<TaskTypeCalibration> r = Calibration.run(ev, Map.of("t", "big", "other", "big"), CRITERIA);

        assertThat(r).extracting(TaskTypeCalibration::taskType).containsExactly("other", "t");
        assertThat(r)
                .extracting(TaskTypeCalibration::decision)
                .containsOnly(new Decision.Keep(Decision.Reason.NO_EVIDENCE_FOR_CURRENT));
    }

    @Test
    void estimatesQualityWithWilsonIntervalForBinaryScores() {
        Evidence ev = evidence(outcomes("t", "big", "0.01", scores(10, 8)));

        Estimate q = Calibration.calibrate(ev, "t", "big", CRITERIA).currentQuality();

        assertThat(q.mean()).isEqualTo(0.8);
        assertThat(q.low()).isCloseTo(0.4902, within(1e-4));
        assertThat(q.high()).isCloseTo(0.9433, within(1e-4));
        assertThat(q.n()).isEqualTo(10);
    }
}
