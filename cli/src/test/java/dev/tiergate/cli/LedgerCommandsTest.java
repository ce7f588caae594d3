package dev.tiergate.cli;

import static org.assertj.core.api.Assertions.assertThat;

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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LedgerCommandsTest {
    @TempDir
    Path dir;

    static final String BUDGETS = """
            budgets:
              - { name: team-a, scope: team, team: a, window: month, limit_usd: 4.50 }
            """;

    @Test
    void budgetsCheckListsTheBudgetsOrEveryProblem() throws IOException {
        Path good = Files.writeString(dir.resolve("b.yaml"), BUDGETS);
        CliTest.Run ok = CliTest.run("budgets", "check", good.toString());
        assertThat(ok.exit()).isZero();
        assertThat(ok.out()).contains("valid (1 budgets)").contains("team-a");

        Path bad = Files.writeString(dir.resolve("bad.yaml"), """
                budgets:
                  - { name: x, scope: planet, window: day, limit_usd: 1 }
                  - { name: x, scope: global, window: week, limit_usd: 0 }
                """);
        CliTest.Run r = CliTest.run("budgets", "check", bad.toString());
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err().lines()).hasSize(4).allSatisfy(l -> assertThat(l).startsWith(bad + ":"));
    }

    @Test
    void budgetsStatusAndSpendReadTheLedger() {
        Path db = dir.resolve("tiergate.db");
        BudgetRules rules = BudgetLoader.parse("b.yaml", BUDGETS);
        Clock clock = Clock.systemUTC();
        try (Ledger ledger = Ledger.sqlite(db, "gw", clock)) {
            CallAttributes a = CallAttributes.of("k", "a", "extraction", "");
            Instant now = clock.instant();
            Call call = new Call("r1", now, "k", "a", "extraction", "small", "task:extraction", "m", "", "", 300);
            Admission adm = ledger.reserve(call, rules.applicable(a, now), Money.parseUsd("0.5"), now.plusSeconds(30));
            ledger.settle(
                    ((Admission.Admitted) adm).reservation(),
                    Outcome.ok("m", Usage.of(100, 20), Money.parseUsd("0.25"), 10, 5, "end_turn"));
        }

        CliTest.Run status = CliTest.run("budgets", "status", "--db", db.toString());
        assertThat(status.exit()).isZero();
        assertThat(status.out())
                .contains("team-a")
                .contains("4.500000000")
                .contains("0.250000000")
                .contains("4.250000000");

        CliTest.Run spend = CliTest.run("spend", "--db", db.toString(), "--by", "task", "--since", "2000-01-01");
        assertThat(spend.exit()).isZero();
        assertThat(spend.out()).contains("extraction").contains("0.250000000");

        CliTest.Run missing =
                CliTest.run("spend", "--db", dir.resolve("nope.db").toString());
        assertThat(missing.exit()).isEqualTo(2);
        assertThat(missing.err()).contains("no ledger at");
        assertThat(CliTest.run("spend", "--db", db.toString(), "--by", "colour").err())
                .contains("cannot group spend by 'colour'");
    }

    @Test
    void budgetsWithTheConfigListEveryConfiguredBudgetEvenBeforeItsFirstCall() throws IOException {
        Files.writeString(
                dir.resolve("policy.yaml"), "tiers:\n  small: { model: claude-haiku-4-5 }\ndefault_tier: small\n");
        Path config = Files.writeString(dir.resolve("tiergate.yaml"), """
                policy: policy.yaml
                keys:
                  - { name: k, sha256: %s }
                %s
                  - { name: global-daily, scope: global, window: day, limit_usd: 100 }
                  - { name: runs, scope: run, per_run: true, window: total, limit_usd: 2 }
                  - { name: nightly, scope: run, run: nightly-42, window: total, limit_usd: 20 }
                """.formatted("0".repeat(64), BUDGETS.strip()));
        Path db = dir.resolve("tiergate.db");
        BudgetRules rules = BudgetLoader.parse("b.yaml", BUDGETS);
        Clock clock = Clock.systemUTC();
        try (Ledger ledger = Ledger.sqlite(db, "gw", clock)) {
            Instant now = clock.instant();
            Call call = new Call("r1", now, "k", "a", "extraction", "small", "task:extraction", "m", "", "", 300);
            Admission adm = ledger.reserve(
                    call,
                    rules.applicable(CallAttributes.of("k", "a", "extraction", ""), now),
                    Money.parseUsd("0.5"),
                    now.plusSeconds(30));
            ledger.settle(
                    ((Admission.Admitted) adm).reservation(),
                    Outcome.ok("m", Usage.of(100, 20), Money.parseUsd("0.25"), 10, 5, "end_turn"));
        }

        CliTest.Run ledgerOnly = CliTest.run("budgets", "status", "--db", db.toString());
        assertThat(ledgerOnly.exit()).as(ledgerOnly.err()).isZero();
        assertThat(ledgerOnly.out()).contains("team-a").doesNotContain("global-daily");

        for (String[] args : new String[][] {
            {"budgets", "status", "--db", db.toString(), "--config", config.toString()},
            {"budgets", "--db", db.toString(), "--config", config.toString()}
        }) {
            CliTest.Run r = CliTest.run(args);
            assertThat(r.exit()).as(r.err()).isZero();
            List<String> lines = r.out().lines().toList();
            // header, then one line per window in lock order; the per-run budget has no window before a run
            assertThat(lines).hasSize(4);
            assertThat(lines.get(1).split(" +"))
                    .startsWith("global-daily", "day")
                    .endsWith("100.000000000", "0.000000000", "0.000000000", "100.000000000");
            assertThat(lines.get(2).split(" +"))
                    .startsWith("nightly", "nightly-42", "total", "1970-01-01T00:00:00Z")
                    .endsWith("20.000000000", "0.000000000", "0.000000000", "20.000000000");
            assertThat(lines.get(3).split(" +"))
                    .startsWith("team-a", "month")
                    .endsWith("4.500000000", "0.250000000", "0.000000000", "4.250000000");
        }

        // without --db, the ledger is the one the config names, as for `serve --config`
        Path withLedger = Files.writeString(
                dir.resolve("with-ledger.yaml"),
                Files.readString(config) + "ledger: { sqlite: " + db.toAbsolutePath() + " }\n");
        CliTest.Run fromConfig = CliTest.run("budgets", "--config", withLedger.toString());
        assertThat(fromConfig.exit()).as(fromConfig.err()).isZero();
        assertThat(fromConfig.out()).contains("global-daily").contains("0.250000000");
        CliTest.Run spendFromConfig = CliTest.run("spend", "--config", withLedger.toString(), "--by", "team");
        assertThat(spendFromConfig.exit()).as(spendFromConfig.err()).isZero();
        assertThat(spendFromConfig.out()).contains("TEAM").contains("0.250000000");
        // and a config whose ledger the gateway has not written yet is not created empty by a read
        CliTest.Run noLedgerYet = CliTest.run("budgets", "--config", config.toString());
        assertThat(noLedgerYet.exit()).isNotZero();
        assertThat(noLedgerYet.err()).contains("no ledger at").contains("--config");
        CliTest.Run spendNoLedgerYet = CliTest.run("spend", "--config", config.toString());
        assertThat(spendNoLedgerYet.exit()).isNotZero();
        assertThat(spendNoLedgerYet.err()).contains("no ledger at").contains("--config");

        Path bad = Files.writeString(dir.resolve("bad.yaml"), "policy: policy.yaml\nkeys: []\nbudgets: 3\n");
        CliTest.Run invalid = CliTest.run("budgets", "status", "--db", db.toString(), "--config", bad.toString());
        assertThat(invalid.exit()).isEqualTo(2);
        assertThat(invalid.err()).contains(bad + ":3:");
        CliTest.Run spendInvalid = CliTest.run("spend", "--config", bad.toString());
        assertThat(spendInvalid.exit()).isEqualTo(2);
        assertThat(spendInvalid.err()).contains(bad + ":3:");
    }
}
