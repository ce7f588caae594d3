package dev.tiergate.budget;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tiergate.policy.Priority;
import dev.tiergate.pricing.Money;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class BudgetRulesTest {
    static final BudgetRules RULES = BudgetLoader.parse("b.yaml", BudgetLoaderTest.EXAMPLE);
    static final Instant NOON = Instant.parse("2026-11-29T12:00:00Z");

    private static List<String> names(List<AppliedBudget> applied) {
        return applied.stream()
                .map(a -> a.budget() + (a.subject().isEmpty() ? "" : "/" + a.subject()))
                .toList();
    }

    @Test
    void aCallWithNothingButTheGlobalBudget() {
        assertThat(names(RULES.applicable(CallAttributes.of("k", "", "synthesis", ""), NOON)))
                .containsExactly("global-daily");
    }

    @Test
    void everyMatchingScopeAppliesInLockOrder() {
        List<AppliedBudget> applied = RULES.applicable(CallAttributes.of("ci-bot", "a", "extraction", "r-1"), NOON);
        assertThat(names(applied)).containsExactly("cheap-work", "ci-key", "global-daily", "runs/r-1", "team-a");
        assertThat(applied).isSortedAccordingTo(AppliedBudget.ORDER);
        AppliedBudget soft = applied.get(0);
        assertThat(soft.hard()).isFalse();
        assertThat(soft.windowStart()).isEqualTo(Instant.parse("2026-11-01T00:00:00Z"));
        assertThat(soft.windowEnd()).isEqualTo(Instant.parse("2026-12-01T00:00:00Z"));
    }

    @Test
    void calendarWindowsStartAtMidnightInTheBudgetZone() {
        // 23:30 UTC on 29 Nov is 00:30 on 30 Nov in Berlin
        Instant late = Instant.parse("2026-11-29T23:30:00Z");
        List<AppliedBudget> applied = RULES.applicable(CallAttributes.of("", "a", "", ""), late);
        AppliedBudget global = applied.stream()
                .filter(a -> a.budget().equals("global-daily"))
                .findFirst()
                .orElseThrow();
        AppliedBudget team = applied.stream()
                .filter(a -> a.budget().equals("team-a"))
                .findFirst()
                .orElseThrow();
        assertThat(global.windowStart()).isEqualTo(Instant.parse("2026-11-29T00:00:00Z"));
        assertThat(team.windowStart()).isEqualTo(Instant.parse("2026-11-29T23:00:00Z"));
        assertThat(team.windowEnd()).isEqualTo(Instant.parse("2026-11-30T23:00:00Z"));
    }

    @Test
    void windowsRollOverAtDayAndMonthBoundaries() {
        Instant lastNano = Instant.parse("2026-11-30T23:59:59.999999999Z");
        Instant next = Instant.parse("2026-12-01T00:00:00Z");
        assertThat(Window.DAY.start(lastNano, java.time.ZoneOffset.UTC))
                .isEqualTo(Instant.parse("2026-11-30T00:00:00Z"));
        assertThat(Window.DAY.start(next, java.time.ZoneOffset.UTC)).isEqualTo(next);
        assertThat(Window.MONTH.start(lastNano, java.time.ZoneOffset.UTC))
                .isEqualTo(Instant.parse("2026-11-01T00:00:00Z"));
        assertThat(Window.MONTH.start(next, java.time.ZoneOffset.UTC)).isEqualTo(next);
        assertThat(Window.TOTAL.start(next, java.time.ZoneOffset.UTC)).isEqualTo(Instant.EPOCH);
        // the DST change in Berlin makes 29 March 2026 a 23-hour day
        java.time.ZoneId berlin = java.time.ZoneId.of("Europe/Berlin");
        Instant march29 = Instant.parse("2026-03-29T12:00:00Z");
        assertThat(java.time.Duration.between(Window.DAY.start(march29, berlin), Window.DAY.end(march29, berlin)))
                .hasHours(23);
    }

    @Test
    void aNamedRunBudgetOverridesThePerRunDefault() {
        assertThat(names(RULES.applicable(CallAttributes.of("", "", "", "nightly-42"), NOON)))
                .containsExactly("global-daily", "nightly/nightly-42");
    }

    @Test
    void aRequestedRunCapLowersThePerRunLimit() {
        CallAttributes call = CallAttributes.of("", "", "", "r-9").withRequestedRunBudget(Money.parseUsd("0.5"));
        AppliedBudget run = RULES.applicable(call, NOON).stream()
                .filter(a -> a.budget().equals("runs"))
                .findFirst()
                .orElseThrow();
        assertThat(run.limit()).isEqualTo(Money.parseUsd("0.5"));
        assertThat(run.requestedCap()).isTrue();

        CallAttributes greedy = call.withRequestedRunBudget(Money.parseUsd("500"));
        AppliedBudget capped = RULES.applicable(greedy, NOON).stream()
                .filter(a -> a.budget().equals("runs"))
                .findFirst()
                .orElseThrow();
        assertThat(capped.limit()).isEqualTo(Money.parseUsd("2"));
    }

    @Test
    void aRequestedRunCapLowersAHardNamedRunBudgetButNeverRaisesIt() {
        CallAttributes named =
                CallAttributes.of("", "", "", "nightly-42").withRequestedRunBudget(Money.parseUsd("0.01"));
        assertThat(describe(RULES.applicable(named, NOON)))
                .filteredOn(d -> d.startsWith("nightly/") || d.startsWith(BudgetRules.REQUESTED_RUN_BUDGET))
                .containsExactly("nightly/nightly-42 0.010000000 hard requested");
        CallAttributes greedy = named.withRequestedRunBudget(Money.parseUsd("5000"));
        assertThat(RULES.applicable(greedy, NOON))
                .filteredOn(a -> a.budget().equals("nightly"))
                .singleElement()
                .satisfies(a -> assertThat(a.limit()).isEqualTo(Money.parseUsd("20")));
    }

    @Test
    void aRequestedRunCapWithoutRunBudgetsGetsItsOwnHardBudget() {
        CallAttributes call = CallAttributes.of("", "", "", "r-9").withRequestedRunBudget(Money.parseUsd("0.25"));
        List<AppliedBudget> applied = BudgetRules.NONE.applicable(call, NOON);
        assertThat(applied).singleElement().satisfies(a -> {
            assertThat(a.budget()).isEqualTo(BudgetRules.REQUESTED_RUN_BUDGET);
            assertThat(a.subject()).isEqualTo("r-9");
            assertThat(a.hard()).isTrue();
            assertThat(a.requestedCap()).isTrue();
            assertThat(a.limit()).isEqualTo(Money.parseUsd("0.25"));
        });
        assertThat(BudgetRules.NONE.applicable(CallAttributes.of("", "", "", ""), NOON))
                .isEmpty();
    }

    @Test
    void aRunCallWithoutACapStillCountsAgainstItsRunsRequestedBudget() {
        // a cap requested by another call of the run (earlier or later) must cover this call's spend too
        List<AppliedBudget> applied = BudgetRules.NONE.applicable(CallAttributes.of("", "", "", "r-9"), NOON);
        assertThat(applied).singleElement().satisfies(a -> {
            assertThat(a.budget()).isEqualTo(BudgetRules.REQUESTED_RUN_BUDGET);
            assertThat(a.subject()).isEqualTo("r-9");
            assertThat(a.hard()).isTrue();
            assertThat(a.requestedCap()).isFalse();
            assertThat(a.limit()).isEqualTo(BudgetRules.NO_RUN_CAP);
        });
        assertThat(names(RULES.applicable(CallAttributes.of("", "", "", "r-9"), NOON)))
                .as("a configured per_run budget holds the run's spend instead")
                .doesNotContain(BudgetRules.REQUESTED_RUN_BUDGET + "/r-9");
    }

    @Test
    void aRequestedRunCapIsAHardCapWhenTheRunsBudgetIsSoft() {
        BudgetRules soft = BudgetLoader.parse("b.yaml", """
                budgets:
                  - { name: runs, scope: run, per_run: true, window: total, limit_usd: 5, mode: soft }
                  - { name: nightly, scope: run, run: nightly-42, window: total, limit_usd: 20, mode: soft }
                """);
        CallAttributes perRun = CallAttributes.of("", "", "", "r-9").withRequestedRunBudget(Money.parseUsd("0.01"));
        CallAttributes named =
                CallAttributes.of("", "", "", "nightly-42").withRequestedRunBudget(Money.parseUsd("0.01"));
        // the soft budget keeps its own limit (its alert); the cap denies, in the run's own hard window
        assertThat(describe(soft.applicable(perRun, NOON)))
                .containsExactly("run-requested/r-9 0.010000000 hard requested", "runs/r-9 5.000000000 soft");
        assertThat(describe(soft.applicable(named, NOON)))
                .containsExactly(
                        "nightly/nightly-42 20.000000000 soft", "run-requested/nightly-42 0.010000000 hard requested");
        // before any cap arrives, the run's spend is counted where a later cap will find it
        assertThat(soft.applicable(CallAttributes.of("", "", "", "r-9"), NOON))
                .filteredOn(a -> a.budget().equals(BudgetRules.REQUESTED_RUN_BUDGET))
                .singleElement()
                .satisfies(a -> {
                    assertThat(a.hard()).isTrue();
                    assertThat(a.requestedCap()).isFalse();
                    assertThat(a.limit()).isEqualTo(BudgetRules.NO_RUN_CAP);
                });
    }

    /** Each window as {@code budget/subject limit hard|soft [requested]}. */
    private static List<String> describe(List<AppliedBudget> applied) {
        return applied.stream()
                .map(a -> a.budget() + "/" + a.subject() + " " + a.limit().toUsdString() + " "
                        + (a.hard() ? "hard" : "soft") + (a.requestedCap() ? " requested" : ""))
                .toList();
    }

    @Test
    void aHardPerRunBudgetTakesTheRequestedCapBesideASoftOneAtItsOwnLimit() {
        BudgetRules both = BudgetLoader.parse("b.yaml", """
                budgets:
                  - { name: runs-alert, scope: run, per_run: true, window: total, limit_usd: 1, mode: soft }
                  - { name: runs-cap, scope: run, per_run: true, window: total, limit_usd: 2 }
                """);
        CallAttributes call = CallAttributes.of("", "", "", "r-9").withRequestedRunBudget(Money.parseUsd("0.5"));
        assertThat(describe(both.applicable(call, NOON)))
                .containsExactly("runs-alert/r-9 1.000000000 soft", "runs-cap/r-9 0.500000000 hard requested");
    }

    @Test
    void demotesLowerPrioritiesWhileASoftBudgetIsSpent() {
        AppliedBudget soft = RULES.applicable(CallAttributes.of("", "", "extraction", ""), NOON)
                .get(0);
        BudgetStatus under = new BudgetStatus(soft, soft.limit(), Money.parseUsd("9.99"), Money.parseUsd("5"));
        BudgetStatus over = new BudgetStatus(soft, soft.limit(), Money.parseUsd("10"), Money.ZERO);
        assertThat(RULES.demotion(Priority.LOW, List.of(under))).isEmpty();
        assertThat(RULES.demotion(Priority.LOW, List.of(over))).contains("small");
        assertThat(RULES.demotion(Priority.NORMAL, List.of(over))).isEmpty();
    }

    @Test
    void theDenialMessageNamesBudgetLimitSpentReservedAndEstimate() {
        AppliedBudget team = RULES.applicable(CallAttributes.of("", "a", "", ""), NOON).stream()
                .filter(a -> a.budget().equals("team-a"))
                .findFirst()
                .orElseThrow();
        Admission.Denied denied = new Admission.Denied(
                team, team.limit(), Money.parseUsd("4.2"), Money.parseUsd("0.1"), Money.parseUsd("0.35"));
        assertThat(denied.message())
                .isEqualTo("budget 'team-a' daily limit 4.500000000 USD: spent 4.200000000 + reserved 0.100000000"
                        + " + this call's estimate 0.350000000 would exceed it");
    }

    @Test
    void listsTheCurrentWindowOfEveryBudgetButPerRunOnesWithUnusedOnesAtZero() {
        assertThat(names(RULES.currentWindows(NOON)))
                .containsExactly("cheap-work", "ci-key", "global-daily", "nightly/nightly-42", "team-a");
        AppliedBudget team = RULES.currentWindows(NOON).stream()
                .filter(a -> a.budget().equals("team-a"))
                .findFirst()
                .orElseThrow();
        // midnight in Berlin
        assertThat(team.windowStart()).isEqualTo(Instant.parse("2026-11-28T23:00:00Z"));

        AppliedBudget global = RULES.applicable(CallAttributes.of("", "", "", "r-1"), NOON).stream()
                .filter(a -> a.budget().equals("global-daily"))
                .findFirst()
                .orElseThrow();
        AppliedBudget run = RULES.applicable(CallAttributes.of("", "", "", "r-1"), NOON).stream()
                .filter(a -> a.budget().equals("runs"))
                .findFirst()
                .orElseThrow();
        BudgetStatus usedGlobal = new BudgetStatus(global, global.limit(), Money.parseUsd("3"), Money.parseUsd("1"));
        BudgetStatus usedRun = new BudgetStatus(run, run.limit(), Money.parseUsd("0.5"), Money.ZERO);
        List<BudgetStatus> all = RULES.withUnusedWindows(List.of(usedRun, usedGlobal), NOON);
        assertThat(all)
                .extracting(s -> s.budget().budget() + "/" + s.budget().subject())
                .containsExactly(
                        "cheap-work/", "ci-key/", "global-daily/", "nightly/nightly-42", "runs/r-1", "team-a/");
        assertThat(all).contains(usedGlobal, usedRun);
        BudgetStatus unused = all.get(0);
        assertThat(unused.limit()).isEqualTo(Money.parseUsd("10"));
        assertThat(unused.spent()).isEqualTo(Money.ZERO);
        assertThat(unused.reserved()).isEqualTo(Money.ZERO);
        assertThat(unused.remaining()).isEqualTo(unused.limit());
        assertThat(BudgetRules.NONE.withUnusedWindows(List.of(usedGlobal), NOON))
                .containsExactly(usedGlobal);
    }
}
