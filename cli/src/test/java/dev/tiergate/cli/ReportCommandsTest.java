package dev.tiergate.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tiergate.budget.Admission;
import dev.tiergate.budget.BudgetLoader;
import dev.tiergate.budget.BudgetRules;
import dev.tiergate.budget.CallAttributes;
import dev.tiergate.ledger.Call;
import dev.tiergate.ledger.Ledger;
import dev.tiergate.ledger.Outcome;
import dev.tiergate.pricing.Money;
import dev.tiergate.pricing.Usage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A ledger written as the gateway writes it (reserve, then settle; a budget denial; a crash recovered at its worst
 * case), read back by {@code report} and {@code caps}. Per-token nano-USD prices: Opus 4.6 input 5000, 5m cache
 * write 6250, cache read 500, output 25000; Haiku 4.5 input 1000, 5m write 1250, cache read 100, output 5000.
 */
class ReportCommandsTest {
    static final String OPUS = "claude-opus-4-6";
    static final String HAIKU = "claude-haiku-4-5-20251001";
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    Path db;
    Path current;
    Path whatIf;

    @BeforeEach
    void ledger() throws IOException {
        current = Files.writeString(dir.resolve("current.yaml"), """
                tiers:
                  frontier: { model: claude-opus-4-6 }
                  small:    { model: claude-haiku-4-5-20251001 }
                default_tier: small
                default_max_tokens: 500
                task_types:
                  synthesis:      { tier: frontier, max_tokens: 2000 }
                  extraction:     { tier: frontier, max_tokens: 1000 }
                  classification: { tier: small,    max_tokens: 10 }
                """);
        whatIf = Files.writeString(
                dir.resolve("what-if.yaml"),
                Files.readString(current)
                        .replace(
                                "extraction:     { tier: frontier, max_tokens: 1000 }",
                                "extraction:     { tier: small,    max_tokens: 600 }"));
        db = dir.resolve("tiergate.db");
        BudgetRules rules = BudgetLoader.parse("b.yaml", """
                budgets:
                  - { name: tiny, scope: task_type, task_type: classification, window: total, limit_usd: 0.0004 }
                """);
        try (Ledger l = Ledger.sqlite(db, "gw", Clock.systemUTC())) {
            settle(
                    l,
                    rules,
                    "r1",
                    "2026-03-01T10:00:00Z",
                    "synthesis",
                    "frontier",
                    OPUS,
                    2000,
                    Usage.of(1000, 500),
                    17_500_000,
                    "end_turn");
            settle(
                    l,
                    rules,
                    "r2",
                    "2026-03-01T10:01:00Z",
                    "extraction",
                    "frontier",
                    OPUS,
                    1000,
                    new Usage(2000, 800, 400, 0, 1000, 0),
                    33_000_000,
                    "end_turn");
            settle(
                    l,
                    rules,
                    "r3",
                    "2026-03-01T10:02:00Z",
                    "extraction",
                    "frontier",
                    OPUS,
                    1000,
                    Usage.of(1000, 1000),
                    30_000_000,
                    "max_tokens");
            settle(
                    l,
                    rules,
                    "r4",
                    "2026-03-02T10:00:00Z",
                    "classification",
                    "small",
                    HAIKU,
                    10,
                    Usage.of(300, 5),
                    325_000,
                    "end_turn");
            // reserves 0.0002 more than the 0.0004 limit allows after r4's 0.000325: denied
            Admission denied =
                    reserve(l, rules, "r5", "2026-03-02T11:00:00Z", "classification", "small", HAIKU, 10, 200_000);
            assertThat(denied).isInstanceOf(Admission.Denied.class);
            // the gateway died mid-call: lease recovery charges the reservation
            Instant started = Instant.parse("2026-03-02T12:00:00Z");
            reserve(l, rules, "r6", started.toString(), "synthesis", "frontier", OPUS, 2000, 55_000_000);
            assertThat(l.recoverExpired(started.plusSeconds(3600)).charged()).isEqualTo(Money.ofNanos(55_000_000));
            // a later day, outside --until 2026-03-02
            settle(
                    l,
                    rules,
                    "r7",
                    "2026-03-03T10:00:00Z",
                    "synthesis",
                    "frontier",
                    OPUS,
                    2000,
                    Usage.of(1, 1),
                    30_000,
                    "end_turn");
        }
    }

    private static Admission reserve(
            Ledger l,
            BudgetRules rules,
            String id,
            String at,
            String task,
            String tier,
            String model,
            long max,
            long worstCase) {
        Instant started = Instant.parse(at);
        Call call = new Call(id, started, "k", "t", task, tier, "task:" + task, model, "", "", max);
        return l.reserve(
                call,
                rules.applicable(CallAttributes.of("k", "t", task, ""), started),
                Money.ofNanos(worstCase),
                started.plusSeconds(30));
    }

    private static void settle(
            Ledger l,
            BudgetRules rules,
            String id,
            String at,
            String task,
            String tier,
            String model,
            long max,
            Usage usage,
            long nanos,
            String stop) {
        Admission a = reserve(l, rules, id, at, task, tier, model, max, nanos);
        l.settle(((Admission.Admitted) a).reservation(), Outcome.ok(model, usage, Money.ofNanos(nanos), 10, 5, stop));
    }

    private CliTest.Run report(String... extra) {
        List<String> args = new java.util.ArrayList<>(
                List.of("report", "--db", db.toString(), "--since", "2026-03-01", "--until", "2026-03-02"));
        args.addAll(List.of(extra));
        return CliTest.run(args.toArray(String[]::new));
    }

    @Test
    void jsonReportHasEveryNumberToTheNanoDollar() throws IOException {
        CliTest.Run r = report("--policy", current.toString(), "--what-if", whatIf.toString(), "--format", "json");
        assertThat(r.err()).isEmpty();
        assertThat(r.exit()).isZero();
        JsonNode j = JSON.readTree(r.out());
        assertThat(j.path("simulated").asBoolean()).isFalse();
        assertThat(j.path("label").asText()).isEmpty();
        assertThat(j.path("frontier").path("model").asText()).isEqualTo(OPUS);
        assertThat(j.path("frontier").path("basis").asText()).isEqualTo("policy");
        JsonNode t = j.path("total");
        assertThat(t.path("calls").asLong()).isEqualTo(5);
        assertThat(t.path("denied_calls").asLong()).isEqualTo(1);
        assertThat(t.path("interrupted_calls").asLong()).isEqualTo(1);
        assertThat(t.path("interrupted_cost_usd").asText()).isEqualTo("0.055000000");
        assertThat(t.path("cost_usd").asText()).isEqualTo("0.135825000");
        assertThat(t.path("frontier_cost_usd").asText()).isEqualTo("0.135500000");
        assertThat(t.path("frontier_call_share").decimalValue()).isEqualByComparingTo("0.8");
        assertThat(t.path("frontier_spend_share").decimalValue()).isEqualByComparingTo("0.9976");
        assertThat(t.path("truncation_rate").decimalValue()).isEqualByComparingTo("0.25");
        assertThat(j.path("by_task_type").get(1).path("key").asText()).isEqualTo("extraction");
        assertThat(j.path("by_task_type").get(1).path("truncation_rate").decimalValue())
                .isEqualByComparingTo("0.5");
        assertThat(j.path("by_day").get(1).path("cost_usd").asText()).isEqualTo("0.055325000");

        JsonNode allFrontier = j.path("scenarios").get(0);
        assertThat(allFrontier.path("kind").asText()).isEqualTo("all_frontier");
        // r4 on Opus: 300*5000 + 5*25000 = 1_625_000
        assertThat(allFrontier.path("cost_usd").asText()).isEqualTo("0.137125000");
        assertThat(allFrontier.path("difference_usd").asText()).isEqualTo("0.001300000");

        JsonNode w = j.path("scenarios").get(1);
        assertThat(w.path("kind").asText()).isEqualTo("what_if");
        // extraction on Haiku capped at 600: 5_600_000 + 4_000_000
        assertThat(w.path("cost_usd").asText()).isEqualTo("0.082425000");
        assertThat(w.path("difference_usd").asText()).isEqualTo("-0.053400000");
        assertThat(w.path("newly_truncated_calls").asLong()).isEqualTo(1);
        assertThat(w.path("by_task_type").get(1).path("cost_usd").asText()).isEqualTo("0.009600000");
        assertThat(j.path("caveat").asText()).contains("do not predict quality");
    }

    @Test
    void csvHasOneRowPerTaskTypeAndTableSaysWhatTheFrontierIs() {
        CliTest.Run csv = report("--what-if", whatIf.toString(), "--format", "csv");
        assertThat(csv.exit()).isZero();
        List<String> lines = csv.out().lines().toList();
        assertThat(lines).hasSize(4);
        assertThat(lines.get(0))
                .startsWith("label,task_type,calls,")
                .endsWith(",all_frontier_cost_usd,what_if_1_cost_usd,what_if_1_newly_truncated_calls,"
                        + "what_if_1_unrouted_calls");
        assertThat(lines.get(2))
                .isEqualTo(",extraction,2,2,0,0,0.063000000,2,0.063000000,1.0000,1.0000,1,0.5000,1800,"
                        + "0.063000000,0.009600000,1,0");

        CliTest.Run table = report("--simulated");
        assertThat(table.exit()).isZero();
        assertThat(table.out())
                .startsWith("Tiergate spend report [SIMULATED")
                .contains("frontier model: claude-opus-4-6 (most expensive model by output price among the models"
                        + " seen in the ledger (no policy given))")
                .contains("frontier share: 80.00% of calls, 99.76% of spend; truncated: 25.00% of completed calls")
                .contains("0.135825000")
                .contains("do not predict quality");
    }

    @Test
    void requestIdsOfTheSimulatorLabelTheReportSimulated() throws IOException {
        // the simulator's own ids, and those of a gateway in front of the simulated upstream
        for (String requestId :
                List.of("req_sim_1", dev.tiergate.gateway.Gateway.SIMULATED_REQUEST_ID_PREFIX + "0a1b")) {
            Path simDb = dir.resolve(requestId + ".db");
            try (Ledger l = Ledger.sqlite(simDb, "gw", Clock.systemUTC())) {
                settle(
                        l,
                        BudgetLoader.parse("b.yaml", "budgets: []\n"),
                        requestId,
                        "2026-03-01T10:00:00Z",
                        "x",
                        "small",
                        HAIKU,
                        10,
                        Usage.of(1, 1),
                        6_000,
                        "end_turn");
            }
            CliTest.Run r = CliTest.run("report", "--db", simDb.toString(), "--format", "csv");
            assertThat(r.out().lines().skip(1))
                    .as(requestId)
                    .isNotEmpty()
                    .allSatisfy(l -> assertThat(l).startsWith("simulated,"));
        }
    }

    @Test
    void badInputExitsTwoAndSaysWhy() {
        assertThat(report("--format", "xml").err()).contains("--format must be table, json or csv, got 'xml'");
        CliTest.Run dates =
                CliTest.run("report", "--db", db.toString(), "--since", "2026-03-05", "--until", "2026-03-01");
        assertThat(dates.exit()).isEqualTo(2);
        assertThat(dates.err()).contains("--until 2026-03-01 is before --since 2026-03-05");
        assertThat(CliTest.run("caps", "--db", db.toString(), "--min-samples", "0")
                        .err())
                .contains("--min-samples must be at least 1, got 0");
    }

    @Test
    void capsSuggestsFromTheLedger() throws IOException {
        Path capsDb = dir.resolve("caps.db");
        BudgetRules none = BudgetLoader.parse("b.yaml", "budgets: []\n");
        try (Ledger l = Ledger.sqlite(capsDb, "gw", Clock.systemUTC())) {
            // 40 extraction calls with outputs 10..400; ceil(400 * 1.2) = 480 -> 500, under the cap of 1000
            for (int i = 1; i <= 40; i++) {
                settle(
                        l,
                        none,
                        "e" + i,
                        "2026-03-01T10:00:00Z",
                        "extraction",
                        "frontier",
                        OPUS,
                        1000,
                        Usage.of(100, 10L * i),
                        500_000 + 250_000L * i,
                        "end_turn");
            }
            for (int i = 1; i <= 5; i++) {
                settle(
                        l,
                        none,
                        "s" + i,
                        "2026-03-01T10:00:00Z",
                        "synthesis",
                        "frontier",
                        OPUS,
                        2000,
                        Usage.of(100, 100),
                        3_000_000,
                        "end_turn");
            }
        }
        CliTest.Run r = CliTest.run(
                "caps", "--db", capsDb.toString(), "--policy", current.toString(), "--format", "json", "--simulated");
        assertThat(r.err()).isEmpty();
        JsonNode j = JSON.readTree(r.out());
        assertThat(j.path("label").asText()).isEqualTo("simulated");
        JsonNode e = j.path("task_types").get(0);
        assertThat(e.path("task_type").asText()).isEqualTo("extraction");
        assertThat(e.path("p50_output_tokens").asLong()).isEqualTo(200);
        assertThat(e.path("p99_output_tokens").asLong()).isEqualTo(400);
        assertThat(e.path("current_cap").asLong()).isEqualTo(1000);
        assertThat(e.path("cap_source").asText()).isEqualTo("policy");
        assertThat(e.path("advice").asText()).isEqualTo("lower");
        assertThat(e.path("suggested_cap").asLong()).isEqualTo(500);
        // (1000 - 500) * 25000
        assertThat(e.path("reservation_saving_per_call_usd").asText()).isEqualTo("0.012500000");
        assertThat(e.path("expected_saving_usd").asText()).isEqualTo("0.000000000");
        JsonNode s = j.path("task_types").get(1);
        assertThat(s.path("advice").asText()).isEqualTo("not_enough_data");
        assertThat(s.path("needed_calls").asLong()).isEqualTo(30);

        CliTest.Run table = CliTest.run("caps", "--db", capsDb.toString(), "--min-samples", "50");
        assertThat(table.exit()).isZero();
        assertThat(table.out()).contains("not enough data").contains("1000*").contains("Rule: ");
    }
}
