package dev.tiergate.budget;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tiergate.config.ConfigException;
import dev.tiergate.config.ConfigProblem;
import dev.tiergate.policy.Priority;
import dev.tiergate.pricing.Money;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.Test;

class BudgetLoaderTest {
    static final String EXAMPLE = """
            budgets:
              - { name: global-daily, scope: global, window: day, limit_usd: 100 }
              - { name: team-a, scope: team, team: a, window: day, limit_usd: 4.50, zone: Europe/Berlin }
              - { name: ci-key, scope: key, key: ci-bot, window: month, limit_usd: 50 }
              - { name: runs, scope: run, per_run: true, window: total, limit_usd: 2 }
              - { name: nightly, scope: run, run: nightly-42, window: total, limit_usd: 20 }
              - name: cheap-work
                scope: task_type
                task_type: extraction
                window: month
                limit_usd: 10
                mode: soft
                demote_below_priority: normal
                demote_to_tier: small
            """;

    private static List<String> problems(String yaml) {
        try {
            BudgetLoader.parse("b.yaml", yaml);
        } catch (ConfigException e) {
            return e.problems().stream().map(ConfigProblem::format).toList();
        }
        throw new AssertionError("expected the budgets to be invalid");
    }

    @Test
    void readsEveryScopeWindowAndMode() {
        BudgetRules rules = BudgetLoader.parse("b.yaml", EXAMPLE);
        assertThat(rules.budgets())
                .extracting(Budget::name)
                .containsExactly("global-daily", "team-a", "ci-key", "runs", "nightly", "cheap-work");
        Budget team = rules.find("team-a").orElseThrow();
        assertThat(team.scope()).isEqualTo(new Scope.Team("a"));
        assertThat(team.zone()).isEqualTo(ZoneId.of("Europe/Berlin"));
        assertThat(team.limit()).isEqualTo(Money.parseUsd("4.5"));
        assertThat(team.isHard()).isTrue();
        assertThat(rules.find("global-daily").orElseThrow().zone()).isEqualTo(ZoneOffset.UTC);
        assertThat(rules.find("runs").orElseThrow().scope()).isEqualTo(new Scope.EachRun());
        assertThat(rules.find("nightly").orElseThrow().scope()).isEqualTo(new Scope.Run("nightly-42"));
        assertThat(rules.find("ci-key").orElseThrow().window()).isEqualTo(Window.MONTH);
        assertThat(rules.find("cheap-work").orElseThrow().mode()).isEqualTo(new Mode.Soft(Priority.NORMAL, "small"));
    }

    @Test
    void softWithoutDemotionOnlyAlerts() {
        BudgetRules rules = BudgetLoader.parse(
                "b.yaml", "budgets: [{ name: g, scope: global, window: total, limit_usd: 1, mode: soft }]");
        assertThat(rules.budgets().get(0).mode()).isEqualTo(Mode.Soft.ALERT_ONLY);
    }

    @Test
    void anEmptyFileHasNoBudgets() {
        assertThat(BudgetLoader.parse("b.yaml", "budgets:\n").budgets()).isEmpty();
    }

    @Test
    void reportsEveryProblemAtOnceWithPositions() {
        String yaml = """
                budgets:
                  - { name: a, scope: galaxy, window: day, limit_usd: 1 }
                  - { name: b, scope: global, window: day, limit_usd: -3 }
                  - { name: c, scope: global, window: day, limit_usd: 0 }
                  - { name: d, scope: global, window: day, limit_usd: 1, zone: Mars/Olympus }
                  - { name: e, scope: global, window: fortnight, limit_usd: 1 }
                  - { name: f, scope: global, window: day, limit_usd: 1, mode: strict }
                  - { name: a, scope: global, window: day, limit_usd: 1 }
                """;
        assertThat(problems(yaml))
                .satisfiesExactly(
                        p -> assertThat(p)
                                .startsWith("b.yaml:2:")
                                .contains("budget 'a' scope must be one of")
                                .contains("'galaxy'"),
                        p -> assertThat(p)
                                .startsWith("b.yaml:3:")
                                .contains("budget 'b' limit_usd must be positive, got -3"),
                        p -> assertThat(p)
                                .startsWith("b.yaml:4:")
                                .contains("budget 'c' limit_usd must be positive, got 0"),
                        p -> assertThat(p).startsWith("b.yaml:5:").contains("zone 'Mars/Olympus' is not a time zone"),
                        p -> assertThat(p)
                                .startsWith("b.yaml:6:")
                                .contains("window must be one of [day, month, total]")
                                .contains("'fortnight'"),
                        p -> assertThat(p)
                                .startsWith("b.yaml:7:")
                                .contains("mode must be one of [hard, soft]")
                                .contains("'strict'"),
                        p -> assertThat(p)
                                .startsWith("b.yaml:8:")
                                .contains("duplicate budget name 'a'")
                                .contains("line 2"));
    }

    @Test
    void reportsMissingSubjectsAndMisplacedKeys() {
        String yaml = """
                budgets:
                  - { name: t, scope: team, window: day, limit_usd: 1 }
                  - { name: r, scope: run, window: total, limit_usd: 1 }
                  - { name: g, scope: global, team: x, window: day, limit_usd: 1 }
                  - { name: h, scope: global, window: day, limit_usd: 1, demote_to_tier: small }
                  - { name: s, scope: global, window: day, limit_usd: 1, mode: soft, demote_to_tier: small }
                  - { name: x, scope: global, window: day, limit_usd: 1, limit: 2 }
                  - { scope: global, window: day }
                  - { name: p, scope: global, window: day, limit_usd: 0.0000000001 }
                """;
        assertThat(problems(yaml))
                .satisfiesExactly(
                        p -> assertThat(p).startsWith("b.yaml:2:").contains("scope team needs `team: <name>`"),
                        p -> assertThat(p).startsWith("b.yaml:3:").contains("needs `run: <run id>` or `per_run: true`"),
                        p -> assertThat(p).startsWith("b.yaml:4:").contains("has `team:` but its scope is global"),
                        p -> assertThat(p).startsWith("b.yaml:5:").contains("budget 'h' is hard"),
                        p -> assertThat(p).startsWith("b.yaml:6:").contains("needs both `demote_below_priority`"),
                        p -> assertThat(p).startsWith("b.yaml:7:").contains("unknown key 'limit'"),
                        p -> assertThat(p).startsWith("b.yaml:8:").contains("a budget needs `name`"),
                        p -> assertThat(p).startsWith("b.yaml:8:").contains("needs `limit_usd`"),
                        p -> assertThat(p).startsWith("b.yaml:9:").contains("more than 9 decimal places"));
    }

    @Test
    void rejectsTheReservedNameAndUnknownTopLevelKeys() {
        assertThat(problems("""
                budget: []
                budgets:
                  - { name: run-requested, scope: global, window: day, limit_usd: 1 }
                """))
                .satisfiesExactly(
                        p -> assertThat(p).startsWith("b.yaml:1:").contains("unknown key 'budget'"),
                        p -> assertThat(p).startsWith("b.yaml:3:").contains("is reserved"));
    }
}
