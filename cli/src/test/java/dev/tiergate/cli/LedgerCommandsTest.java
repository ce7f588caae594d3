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
}
