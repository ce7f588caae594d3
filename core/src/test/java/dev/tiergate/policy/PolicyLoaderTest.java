package dev.tiergate.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tiergate.config.ConfigException;
import dev.tiergate.config.ConfigProblem;
import dev.tiergate.pricing.CatalogLoader;
import dev.tiergate.pricing.ModelCatalog;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.List;
import org.junit.jupiter.api.Test;

class PolicyLoaderTest {
    static final ModelCatalog CATALOG = CatalogLoader.bundled();
    static final LocalDate TODAY = LocalDate.of(2026, 11, 29);

    static final String ISSUE_POLICY = """
            tiers:
              frontier: { model: claude-opus-4-6, fallbacks: [claude-opus-4-5] }
              small:    { model: claude-haiku-4-5-20251001 }
            default_tier: small              # unknown task types go to the cheap tier
            task_types:
              synthesis:      { tier: frontier, max_tokens: 2000, priority: high, description: "conflicting evidence across long documents" }
              extraction:     { tier: small,    max_tokens: 300 }
              classification: { tier: small,    max_tokens: 10 }
            rules:
              - when: { input_tokens_over: 150000 }   # very long inputs go up a tier
                route_to: frontier
            """;

    private static List<String> problems(String yaml) {
        try {
            PolicyLoader.parse("p.yaml", yaml, CATALOG, TODAY);
        } catch (ConfigException e) {
            return e.problems().stream().map(ConfigProblem::format).toList();
        }
        throw new AssertionError("expected the policy to be invalid");
    }

    @Test
    void readsTheIssuePolicy() {
        Policy p = PolicyLoader.parse("p.yaml", ISSUE_POLICY, CATALOG, TODAY);
        assertThat(p.tiers()).containsOnlyKeys("frontier", "small");
        assertThat(p.tiers().get("frontier").fallbacks()).containsExactly("claude-opus-4-5-20251101");
        assertThat(p.taskTypes().get("synthesis").priority()).isEqualTo(Priority.HIGH);
        assertThat(p.taskTypes().get("extraction").priority()).isEqualTo(Priority.NORMAL);
        assertThat(p.defaultTier()).contains("small");
        assertThat(p.rules())
                .singleElement()
                .satisfies(r -> assertThat(r.routeTo()).isEqualTo("frontier"));
    }

    @Test
    void theBundledExamplePolicyIsValid() {
        Policy p = PolicyLoader.load(Path.of("..", "examples", "policy.yaml"), CATALOG, TODAY);
        assertThat(p.taskTypes()).hasSize(9);
    }

    @Test
    void reportsFourDifferentMistakesAtOnceWithPositions() {
        String yaml = """
                tiers:
                  frontier: { model: claude-opus-4-6, fallbacks: [claude-opus-9] }
                  small:    { model: claude-haiku-4-5-20251001 }
                default_tier: small
                task_types:
                  synthesis:      { tier: frontier, max_tokens: 2000 }
                  extraction:     { tier: medium,   max_tokens: 300 }
                  classification: { tier: small,    max_tokens: 0 }
                  synthesis:      { tier: frontier, max_tokens: 1000 }
                """;
        assertThat(problems(yaml))
                .hasSize(4)
                .satisfiesExactly(
                        p -> assertThat(p)
                                .startsWith("p.yaml:2:")
                                .contains("fallback 'claude-opus-9' is not in the model catalog"),
                        p -> assertThat(p).startsWith("p.yaml:7:").contains("unknown tier 'medium'"),
                        p -> assertThat(p).startsWith("p.yaml:8:").contains("max_tokens must be positive, got 0"),
                        p -> assertThat(p)
                                .startsWith("p.yaml:9:3:")
                                .contains("duplicate key 'synthesis' under task_types"));
    }

    @Test
    void capAboveTheModelsMaxOutputIsAnError() {
        String yaml = """
                tiers:
                  small: { model: claude-haiku-4-5-20251001 }
                task_types:
                  essay: { tier: small, max_tokens: 100000 }
                """;
        assertThat(problems(yaml))
                .singleElement()
                .satisfies(p -> assertThat(p)
                        .startsWith("p.yaml:4:")
                        .contains("100000 is above the max output of claude-haiku-4-5-20251001 (64000)"));
    }

    @Test
    void capMustFitTheFallbacksToo() {
        String yaml = """
                tiers:
                  frontier: { model: claude-opus-4-6, fallbacks: [claude-opus-4-5] }
                task_types:
                  long_report: { tier: frontier, max_tokens: 100000 }
                """;
        assertThat(problems(yaml)).singleElement().satisfies(p -> assertThat(p).contains("claude-opus-4-5-20251101"));
    }

    @Test
    void unknownModelRetiredModelAndTyposAreReported() {
        String yaml = """
                tiers:
                  a: { model: gpt-17 }
                  b: { model: claude-3-5-haiku-20241022 }
                  c: { model: claude-haiku-4-5, fallback: [claude-opus-4-6] }
                task_types:
                  x: { tier: c, max_token: 10 }
                """;
        List<String> problems = problems(yaml);
        assertThat(problems)
                .anySatisfy(p -> assertThat(p).startsWith("p.yaml:2:").contains("'gpt-17' is not in the model catalog"))
                .anySatisfy(p -> assertThat(p).startsWith("p.yaml:3:").contains("retired"))
                .anySatisfy(p -> assertThat(p).startsWith("p.yaml:4:").contains("unknown key 'fallback'"))
                .anySatisfy(p -> assertThat(p).startsWith("p.yaml:6:").contains("unknown key 'max_token'"))
                .anySatisfy(p -> assertThat(p).startsWith("p.yaml:6:").contains("needs `max_tokens`"));
    }

    @Test
    void deprecatedModelIsRejectedOnceItsRetirementDayComes() {
        String yaml = """
                tiers:
                  mid: { model: claude-sonnet-4-5 }
                """;
        assertThat(PolicyLoader.parse("p.yaml", yaml, CATALOG, TODAY).tiers()).containsKey("mid");
        assertThatThrownBy(() -> PolicyLoader.parse("p.yaml", yaml, CATALOG, TODAY.plusDays(1)))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("retires 2026-11-30");
    }

    @Test
    void badYamlIsALocatedProblem() {
        assertThat(problems("tiers:\n  a: { model: x\n  b: 1\n"))
                .singleElement()
                .satisfies(p -> assertThat(p).startsWith("p.yaml:").contains("not valid YAML"));
    }

    @Test
    void missingFileIsAProblemNotAStackTrace() {
        assertThatThrownBy(() -> PolicyLoader.load(Path.of("no/such/policy.yaml"), CATALOG, TODAY))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("no/such/policy.yaml:0:0: no such file");
    }
}
