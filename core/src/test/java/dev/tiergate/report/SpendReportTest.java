package dev.tiergate.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tiergate.policy.Policy;
import dev.tiergate.policy.PolicyLoader;
import dev.tiergate.pricing.CatalogLoader;
import dev.tiergate.pricing.ModelCatalog;
import dev.tiergate.pricing.Money;
import dev.tiergate.pricing.Usage;
import java.math.BigDecimal;
import java.time.Instant;
import java.time.LocalDate;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Hand-computed ledger. Prices per token in nano-USD: Opus 4.6 input 5000, 5m write 6250, cache read 500, output
 * 25000; Haiku 4.5 input 1000, 5m write 1250, cache read 100, output 5000.
 */
class SpendReportTest {
    static final ModelCatalog CATALOG = CatalogLoader.bundled();
    static final LocalDate TODAY = LocalDate.of(2026, 3, 1);
    static final String OPUS = "claude-opus-4-6";
    static final String HAIKU = "claude-haiku-4-5-20251001";

    static final String CURRENT = """
            tiers:
              frontier: { model: claude-opus-4-6 }
              small:    { model: claude-haiku-4-5-20251001 }
            default_tier: small
            default_max_tokens: 500
            task_types:
              synthesis:      { tier: frontier, max_tokens: 2000 }
              extraction:     { tier: frontier, max_tokens: 1000 }
              classification: { tier: small,    max_tokens: 10 }
            """;

    /** Extraction moved to the small tier with a tighter cap. */
    static final String WHAT_IF = """
            tiers:
              frontier: { model: claude-opus-4-6 }
              small:    { model: claude-haiku-4-5-20251001 }
            default_tier: small
            default_max_tokens: 500
            task_types:
              synthesis:      { tier: frontier, max_tokens: 2000 }
              extraction:     { tier: small,    max_tokens: 600 }
              classification: { tier: small,    max_tokens: 10 }
            """;

    static Policy policy(String source, String yaml) {
        return PolicyLoader.parse(source, yaml, CATALOG, TODAY);
    }

    static CallFacts ok(
            String day, String task, String tier, String model, Usage u, long nanos, String stop, long max) {
        return new CallFacts(
                Instant.parse(day + "T10:00:00Z"),
                task,
                tier,
                model,
                u,
                Money.ofNanos(nanos),
                CallFacts.Status.OK,
                stop,
                max);
    }

    static final List<CallFacts> CALLS = List.of(
            // 1000*5000 + 500*25000
            ok("2026-03-01", "synthesis", "frontier", OPUS, Usage.of(1000, 500), 17_500_000, "end_turn", 2000),
            // 2000*5000 + 800*25000 + 400*6250 + 1000*500
            ok(
                    "2026-03-01",
                    "extraction",
                    "frontier",
                    OPUS,
                    new Usage(2000, 800, 400, 0, 1000, 0),
                    33_000_000,
                    "end_turn",
                    1000),
            // 1000*5000 + 1000*25000, cut at its cap
            ok("2026-03-01", "extraction", "frontier", OPUS, Usage.of(1000, 1000), 30_000_000, "max_tokens", 1000),
            // 300*1000 + 5*5000
            ok("2026-03-02", "classification", "small", HAIKU, Usage.of(300, 5), 325_000, "end_turn", 10),
            new CallFacts(
                    Instant.parse("2026-03-02T11:00:00Z"),
                    "classification",
                    "small",
                    HAIKU,
                    Usage.ZERO,
                    Money.ZERO,
                    CallFacts.Status.DENIED,
                    "",
                    10),
            new CallFacts(
                    Instant.parse("2026-03-02T12:00:00Z"),
                    "synthesis",
                    "frontier",
                    OPUS,
                    Usage.ZERO,
                    Money.ofNanos(55_000_000),
                    CallFacts.Status.INTERRUPTED,
                    "",
                    2000));

    private static SpendReport report(List<Policy> whatIf) {
        return SpendReport.of(CALLS, CATALOG, Frontier.ofPolicy(policy("current.yaml", CURRENT), CATALOG), whatIf);
    }

    @Test
    void totalsCountDeniedApartAndIncludeInterruptedAtTheirCharge() {
        SpendReport.Line t = report(List.of()).total();
        assertThat(t.calls()).isEqualTo(5);
        assertThat(t.completedCalls()).isEqualTo(4);
        assertThat(t.deniedCalls()).isEqualTo(1);
        assertThat(t.interruptedCalls()).isEqualTo(1);
        assertThat(t.interruptedCost()).isEqualTo(Money.ofNanos(55_000_000));
        assertThat(t.cost()).isEqualTo(Money.ofNanos(135_825_000));
        assertThat(t.outputTokens()).isEqualTo(2305);
        assertThat(t.truncatedCalls()).isEqualTo(1);
        assertThat(t.truncationRate()).isEqualByComparingTo("0.25");
        assertThat(t.frontierCalls()).isEqualTo(4);
        assertThat(t.frontierCost()).isEqualTo(Money.ofNanos(135_500_000));
        assertThat(t.frontierCallShare()).isEqualTo(new BigDecimal("0.8000"));
        // 135.5 / 135.825 = 0.997607...
        assertThat(t.frontierSpendShare()).isEqualTo(new BigDecimal("0.9976"));
    }

    @Test
    void groupsByTaskTypeTierModelAndDay() {
        SpendReport r = report(List.of());
        assertThat(r.byTaskType())
                .extracting(SpendReport.Line::key, l -> l.cost().nanos(), SpendReport.Line::calls)
                .containsExactly(
                        org.assertj.core.groups.Tuple.tuple("synthesis", 72_500_000L, 2L),
                        org.assertj.core.groups.Tuple.tuple("extraction", 63_000_000L, 2L),
                        org.assertj.core.groups.Tuple.tuple("classification", 325_000L, 1L));
        SpendReport.Line extraction = r.byTaskType().get(1);
        assertThat(extraction.truncationRate()).isEqualByComparingTo("0.5");
        assertThat(r.byTaskType().get(2).deniedCalls()).isEqualTo(1);
        assertThat(r.byTier())
                .extracting(SpendReport.Line::key, l -> l.cost().nanos())
                .containsExactly(
                        org.assertj.core.groups.Tuple.tuple("frontier", 135_500_000L),
                        org.assertj.core.groups.Tuple.tuple("small", 325_000L));
        assertThat(r.byModel()).extracting(SpendReport.Line::key).containsExactly(OPUS, HAIKU);
        assertThat(r.byDay())
                .extracting(SpendReport.Line::key, l -> l.cost().nanos())
                .containsExactly(
                        org.assertj.core.groups.Tuple.tuple("2026-03-01", 80_500_000L),
                        org.assertj.core.groups.Tuple.tuple("2026-03-02", 55_325_000L));
    }

    @Test
    void allFrontierRepricesEveryTokenClassOnTheFrontierModel() {
        SpendReport.Scenario s = report(List.of()).scenarios().get(0);
        assertThat(s.kind()).isEqualTo(SpendReport.Kind.ALL_FRONTIER);
        // only the Haiku call changes: 300*5000 + 5*25000 = 1_625_000
        assertThat(s.cost()).isEqualTo(Money.ofNanos(135_500_000 + 1_625_000));
        assertThat(s.difference()).isEqualTo(Money.ofNanos(1_300_000));
        assertThat(s.byTaskType().get(2).cost()).isEqualTo(Money.ofNanos(1_625_000));
        assertThat(s.byTaskType().get(2).models()).containsExactly(OPUS);

        // cache writes and reads reprice too: the extraction call on Haiku costs 2000*1000 + 800*5000 + 400*1250 +
        // 1000*100 = 6_600_000 and 33_000_000 on Opus.
        CallFacts cached = ok(
                "2026-03-01", "extraction", "small", HAIKU, new Usage(2000, 800, 400, 0, 1000, 0), 6_600_000, "", 1000);
        SpendReport one =
                SpendReport.of(List.of(cached), CATALOG, new Frontier(OPUS, Frontier.Basis.LEDGER, ""), List.of());
        assertThat(one.scenarios().get(0).cost()).isEqualTo(Money.ofNanos(33_000_000));
    }

    @Test
    void whatIfRoutesUnderTheOtherPolicyAndCutsOutputAtItsTighterCap() {
        SpendReport.Scenario s =
                report(List.of(policy("what-if.yaml", WHAT_IF))).scenarios().get(1);
        assertThat(s.kind()).isEqualTo(SpendReport.Kind.WHAT_IF);
        assertThat(s.name()).isEqualTo("what-if:what-if.yaml");
        // extraction on Haiku, output cut to 600:
        //   2000*1000 + 600*5000 + 400*1250 + 1000*100 = 5_600_000 (was end_turn at 800: newly truncated)
        //   1000*1000 + 600*5000 = 4_000_000 (already truncated)
        SpendReport.ScenarioLine extraction = s.byTaskType().get(1);
        assertThat(extraction.taskType()).isEqualTo("extraction");
        assertThat(extraction.models()).containsExactly(HAIKU);
        assertThat(extraction.actualCost()).isEqualTo(Money.ofNanos(63_000_000));
        assertThat(extraction.cost()).isEqualTo(Money.ofNanos(9_600_000));
        assertThat(extraction.newlyTruncatedCalls()).isEqualTo(1);
        // synthesis and classification keep their recorded cost; the interrupted call is carried at its charge
        assertThat(s.byTaskType().get(0).cost()).isEqualTo(Money.ofNanos(72_500_000));
        assertThat(s.byTaskType().get(2).cost()).isEqualTo(Money.ofNanos(325_000));
        assertThat(s.actualCost()).isEqualTo(Money.ofNanos(135_825_000));
        assertThat(s.cost()).isEqualTo(Money.ofNanos(82_425_000));
        assertThat(s.difference()).isEqualTo(Money.ofNanos(-53_400_000));
        assertThat(s.newlyTruncatedCalls()).isEqualTo(1);
        assertThat(s.unroutedCalls()).isZero();
    }

    @Test
    void whatIfCarriesCallsThePolicyRejectsAtTheirRecordedCost() {
        Policy strict = policy("strict.yaml", """
                tiers:
                  small: { model: claude-haiku-4-5-20251001 }
                task_types:
                  classification: { tier: small, max_tokens: 10 }
                """);
        SpendReport.Scenario s = report(List.of(strict)).scenarios().get(1);
        // synthesis (2 calls) and extraction (2 calls) are not in the policy, which has no default tier
        assertThat(s.unroutedCalls()).isEqualTo(4);
        assertThat(s.cost()).isEqualTo(Money.ofNanos(135_825_000));
        assertThat(s.byTaskType().get(0).models()).isEmpty();
    }

    @Test
    void frontierIsTheMostExpensiveByOutputPriceAndSaysWhy() {
        Policy p = policy("p.yaml", """
                tiers:
                  small: { model: claude-haiku-4-5-20251001 }
                  mid:   { model: claude-sonnet-4-6 }
                task_types:
                  x: { tier: small, max_tokens: 10 }
                """);
        Frontier f = Frontier.ofPolicy(p, CATALOG);
        assertThat(f.model()).isEqualTo("claude-sonnet-4-6");
        assertThat(f.basis()).isEqualTo(Frontier.Basis.POLICY);
        assertThat(f.description()).contains("p.yaml");

        Frontier seen = Frontier.ofCalls(CALLS.subList(3, 5), CATALOG);
        assertThat(seen.model()).isEqualTo(HAIKU);
        assertThat(seen.basis()).isEqualTo(Frontier.Basis.LEDGER);
        assertThat(Frontier.ofCalls(CALLS, CATALOG).model()).isEqualTo(OPUS);

        CallFacts custom = ok("2026-03-01", "x", "", "acme-llm", Usage.of(1, 1), 0, "", 0);
        assertThatThrownBy(() -> Frontier.ofCalls(List.of(custom), CATALOG))
                .isInstanceOf(ReportException.class)
                .hasMessageContaining("acme-llm");
    }

    @Test
    void frontierCallsAreRecognisedByAlias() {
        CallFacts alias =
                ok("2026-03-01", "synthesis", "frontier", "claude-opus-4-6-20260205", Usage.of(1, 1), 30_000, "", 10);
        SpendReport r =
                SpendReport.of(List.of(alias), CATALOG, new Frontier(OPUS, Frontier.Basis.LEDGER, ""), List.of());
        assertThat(r.total().frontierCalls()).isEqualTo(1);
        assertThat(r.scenarios().get(0).cost()).isEqualTo(Money.ofNanos(30_000));
    }

    @Test
    void noCallsGiveZeros() {
        SpendReport r = SpendReport.of(List.of(), CATALOG, new Frontier(OPUS, Frontier.Basis.LEDGER, ""), List.of());
        assertThat(r.total().cost()).isEqualTo(Money.ZERO);
        assertThat(r.total().frontierSpendShare()).isEqualByComparingTo("0");
        assertThat(r.byTaskType()).isEmpty();
        assertThat(r.scenarios()).hasSize(1);
    }
}
