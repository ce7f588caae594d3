package dev.tiergate.report;

import static dev.tiergate.report.SpendReportTest.CATALOG;
import static dev.tiergate.report.SpendReportTest.HAIKU;
import static dev.tiergate.report.SpendReportTest.OPUS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.tiergate.policy.Policy;
import dev.tiergate.pricing.Money;
import dev.tiergate.pricing.Usage;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class CapReportTest {
    static final Policy POLICY = SpendReportTest.policy("current.yaml", """
            tiers:
              frontier: { model: claude-opus-4-6 }
              small:    { model: claude-haiku-4-5-20251001 }
            default_tier: small
            default_max_tokens: 500
            task_types:
              synthesis:      { tier: frontier, max_tokens: 2000 }
              extraction:     { tier: small,    max_tokens: 1000 }
              classification: { tier: small,    max_tokens: 10 }
              reranking:      { tier: small,    max_tokens: 200 }
            """);

    static CallFacts call(String task, String model, long output, boolean truncated, long max) {
        return SpendReportTest.ok(
                "2026-03-01", task, "", model, Usage.of(100, output), 0, truncated ? "max_tokens" : "end_turn", max);
    }

    /** 200 extraction calls: outputs 2, 4, ..., 396 and two outliers of 900 and 950, all under a cap of 1000. */
    static List<CallFacts> ledger() {
        List<CallFacts> calls = new ArrayList<>();
        for (int i = 1; i <= 198; i++) {
            calls.add(call("extraction", HAIKU, 2L * i, false, 1000));
        }
        calls.add(call("extraction", HAIKU, 900, false, 1000));
        calls.add(call("extraction", HAIKU, 950, false, 1000));
        // synthesis: 24 untruncated (1000..1230) and 6 cut at 2000 out of 30: 20% truncated
        for (int i = 0; i < 24; i++) {
            calls.add(call("synthesis", OPUS, 1000 + 10L * i, false, 2000));
        }
        for (int i = 0; i < 6; i++) {
            calls.add(call("synthesis", OPUS, 2000, true, 2000));
        }
        for (int i = 0; i < 30; i++) {
            calls.add(call("judge", HAIKU, 450, false, 500)); // not in the policy: default cap 500
            calls.add(call("reranking", HAIKU, 150, false, 200));
        }
        for (int i = 0; i < 10; i++) {
            calls.add(call("classification", HAIKU, 3, false, 10));
        }
        // not completed: never counted
        calls.add(new CallFacts(
                calls.get(0).startedAt(),
                "classification",
                "small",
                HAIKU,
                Usage.of(10, 10),
                Money.ZERO,
                CallFacts.Status.UPSTREAM_ERROR,
                "",
                10));
        return calls;
    }

    private static CapReport.TaskCaps task(CapReport r, String name) {
        return r.taskTypes().stream()
                .filter(t -> t.taskType().equals(name))
                .findFirst()
                .orElseThrow();
    }

    @Test
    void lowersAnOverGenerousCapToP99PlusTwentyPercentAndPricesTheCut() {
        CapReport.TaskCaps t = task(CapReport.of(ledger(), CATALOG, POLICY, 30), "extraction");
        assertThat(t.completedCalls()).isEqualTo(200);
        assertThat(t.truncatedCalls()).isZero();
        assertThat(t.p50()).isEqualTo(200); // rank 100
        assertThat(t.p95()).isEqualTo(380); // rank 190
        assertThat(t.p99()).isEqualTo(396); // rank 198
        assertThat(t.maxUntruncated()).isEqualTo(950);
        assertThat(t.currentCap()).isEqualTo(1000);
        assertThat(t.capSource()).isEqualTo(CapReport.CapSource.POLICY);
        assertThat(t.model()).isEqualTo(HAIKU);
        // ceil(396 * 1.2) = 476 -> 500
        CapReport.Advice.Lower lower = (CapReport.Advice.Lower) t.advice();
        assertThat(lower.cap()).isEqualTo(500);
        assertThat(lower.wouldTruncateCalls()).isEqualTo(2);
        // (1000 - 500) * 5000
        assertThat(lower.reservationSavingPerCall()).isEqualTo(Money.ofNanos(2_500_000));
        // (900 - 500) * 5000 + (950 - 500) * 5000
        assertThat(lower.expectedSaving()).isEqualTo(Money.ofNanos(4_250_000));
    }

    @Test
    void raisesAnUnderCappedTaskTypeToTwiceTheCapItHit() {
        CapReport.TaskCaps t = task(CapReport.of(ledger(), CATALOG, POLICY, 30), "synthesis");
        assertThat(t.completedCalls()).isEqualTo(30);
        assertThat(t.truncatedCalls()).isEqualTo(6);
        assertThat(t.truncationRate()).isEqualByComparingTo("0.2");
        assertThat(t.p99()).isEqualTo(1230);
        CapReport.Advice.Raise raise = (CapReport.Advice.Raise) t.advice();
        assertThat(raise.underCapped()).isTrue();
        assertThat(raise.cap()).isEqualTo(4000);
        // (4000 - 2000) * 25000
        assertThat(raise.reservationIncreasePerCall()).isEqualTo(Money.ofNanos(50_000_000));
        assertThat(raise.reason()).contains("6 of 30").contains("20%").contains("under-capped");
    }

    @Test
    void raisesKeepsOrWaitsForData() {
        CapReport r = CapReport.of(ledger(), CATALOG, POLICY, 30);
        // 450 * 1.2 = 540 -> 550, above the policy's default cap of 500; truncation 0
        CapReport.TaskCaps judge = task(r, "judge");
        assertThat(judge.currentCap()).isEqualTo(500);
        assertThat(judge.advice())
                .isEqualTo(new CapReport.Advice.Raise(
                        550,
                        false,
                        Money.ofNanos(250_000),
                        "p99 of untruncated output (450 tokens) plus 20% is above the" + " current cap 500"));
        // 150 * 1.2 = 180 -> 200 = the cap
        assertThat(task(r, "reranking").advice()).isEqualTo(new CapReport.Advice.Keep(200));
        assertThat(task(r, "classification").advice()).isEqualTo(new CapReport.Advice.NotEnoughData(10, 30));
        assertThat(r.taskTypes())
                .extracting(CapReport.TaskCaps::taskType)
                .containsExactly("extraction", "judge", "reranking", "synthesis", "classification");
    }

    @Test
    void withoutAPolicyTheCurrentCapIsTheLargestRecorded() {
        CapReport.TaskCaps t = task(CapReport.of(ledger(), CATALOG, 30), "extraction");
        assertThat(t.capSource()).isEqualTo(CapReport.CapSource.OBSERVED);
        assertThat(t.currentCap()).isEqualTo(1000);
        assertThat(((CapReport.Advice.Lower) t.advice()).cap()).isEqualTo(500);
    }

    @Test
    void tidyRoundsUpToCoarserStepsAsCapsGrow() {
        assertThat(CapReport.tidy(0)).isEqualTo(10);
        assertThat(CapReport.tidy(7)).isEqualTo(10);
        assertThat(CapReport.tidy(100)).isEqualTo(100);
        assertThat(CapReport.tidy(101)).isEqualTo(150);
        assertThat(CapReport.tidy(1000)).isEqualTo(1000);
        assertThat(CapReport.tidy(1001)).isEqualTo(1250);
        assertThat(CapReport.tidy(10_001)).isEqualTo(11_000);
    }

    @Test
    void percentilesAreNearestRank() {
        long[] ten = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
        assertThat(CapReport.percentile(ten, 50)).isEqualTo(5);
        assertThat(CapReport.percentile(ten, 95)).isEqualTo(10);
        assertThat(CapReport.percentile(new long[] {7}, 1)).isEqualTo(7);
        assertThat(CapReport.percentile(new long[0], 99)).isZero();
    }
}
