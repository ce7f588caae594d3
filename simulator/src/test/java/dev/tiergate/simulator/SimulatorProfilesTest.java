package dev.tiergate.simulator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tiergate.config.ConfigException;
import dev.tiergate.config.ConfigProblem;
import dev.tiergate.pricing.CatalogLoader;
import dev.tiergate.pricing.ModelSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SimulatorProfilesTest {
    @TempDir
    Path dir;

    @Test
    void builtInProfilesCoverEveryAnthropicModelInTheCatalog() {
        SimulatorProfiles builtIn = SimulatorProfiles.builtIn();
        for (ModelSpec m : CatalogLoader.bundled().models()) {
            if (m.provider().equals("anthropic")) {
                assertThat(builtIn.keyFor(m.id())).as(m.id()).isPresent();
            }
        }
        assertThat(builtIn.forModel("claude-opus-4-6").verbosity())
                .isBetween(3.0, 8.0)
                .isGreaterThan(builtIn.forModel("claude-haiku-4-5-20251001").verbosity());
        assertThat(builtIn.forModel("gpt-something")).isEqualTo(builtIn.defaultModel());
        assertThat(builtIn.forTaskType("classification").median()).isBetween(3.0, 5.0);
        assertThat(builtIn.forTaskType("no-such-task")).isEqualTo(builtIn.forTaskType("unclassified"));
        assertThat(builtIn.defaultModel().failures()).isEqualTo(new SimulatorProfiles.Failures(0, 0, 0, 2));
    }

    @Test
    void anExactIdWinsOverPrefixesAndTheLongestPrefixWinsOverShorterOnes() {
        SimulatorProfiles p = SimulatorProfiles.parse("p.yaml", """
                models:
                  "claude-*": { verbosity: 2 }
                  "claude-opus-4-*": { verbosity: 7 }
                  claude-opus-4-6: { verbosity: 3 }
                """);
        assertThat(p.forModel("claude-opus-4-6").verbosity()).isEqualTo(3.0);
        assertThat(p.forModel("claude-opus-4-7").verbosity()).isEqualTo(7.0);
        assertThat(p.forModel("claude-opus-5").verbosity()).isEqualTo(5.0); // built-in claude-opus-*
        assertThat(p.forModel("claude-instant").verbosity()).isEqualTo(2.0);
    }

    @Test
    void aFileOverridesOnlyTheFieldsItNames() {
        SimulatorProfiles builtIn = SimulatorProfiles.builtIn();
        SimulatorProfiles p = SimulatorProfiles.parse("p.yaml", """
                task_types:
                  classification: { median: 10 }
                  my_task: { median: 77, sigma: 0 }
                default:
                  tokens_per_second: 10
                models:
                  "claude-opus-*":
                    verbosity: 8
                    failures: { rate_limit: 0.25, retry_after_seconds: 9 }
                  my-local-model: { ttft_ms: 5 }
                """);
        SimulatorProfiles.Model opus = p.forModel("claude-opus-4-6");
        SimulatorProfiles.Model builtInOpus = builtIn.forModel("claude-opus-4-6");
        assertThat(opus.verbosity()).isEqualTo(8.0);
        assertThat(opus.ttftMillis()).isEqualTo(builtInOpus.ttftMillis());
        assertThat(opus.tokensPerSecond()).isEqualTo(builtInOpus.tokensPerSecond());
        assertThat(opus.failures()).isEqualTo(new SimulatorProfiles.Failures(0.25, 0, 0, 9));
        assertThat(p.forTaskType("classification"))
                .isEqualTo(new SimulatorProfiles.OutputLength(
                        10, builtIn.forTaskType("classification").sigma()));
        assertThat(p.forTaskType("my_task")).isEqualTo(new SimulatorProfiles.OutputLength(77, 0));
        assertThat(p.defaultModel().tokensPerSecond()).isEqualTo(10.0);
        // A new model takes what it leaves out from the (overridden) default.
        assertThat(p.forModel("my-local-model").ttftMillis()).isEqualTo(5);
        assertThat(p.forModel("my-local-model").tokensPerSecond()).isEqualTo(10.0);
    }

    @Test
    void badFilesListEveryProblemWithItsLine() {
        String yaml = """
                task_types:
                  synthesis: { median: 0 }
                default:
                  verbosity: -1
                models:
                  "claude-*-opus": { verbosity: 2 }
                  claude-haiku-4-5: { tokens_per_secnd: 9, failures: { rate_limit: 0.7, overloaded: 0.6 } }
                """;
        assertThatThrownBy(() -> SimulatorProfiles.parse("bad.yaml", yaml))
                .isInstanceOfSatisfying(
                        ConfigException.class,
                        e -> assertThat(e.problems())
                                .extracting(ConfigProblem::format)
                                .containsExactly(
                                        "bad.yaml:2:24: task_types.synthesis.median must be above 0, got 0.0",
                                        "bad.yaml:4:14: default.verbosity must not be negative, got -1",
                                        "bad.yaml:6:3: model key 'claude-*-opus' must be a model id or a prefix ending in a"
                                                + " single '*'",
                                        "bad.yaml:7:23: unknown key 'tokens_per_secnd' in models.claude-haiku-4-5; known keys:"
                                                + " [cache_hit_rate, failures, tokens_per_second, ttft_jitter_ms, ttft_ms,"
                                                + " verbosity]",
                                        "bad.yaml:7:54: models.claude-haiku-4-5.failures: rates must each be in [0, 1] and"
                                                + " add up to at most 1, got rate_limit 0.7 + overloaded 0.6 + mid_stream 0.0"));
    }

    @Test
    void loadReadsAFileAndNamesAMissingOne() throws Exception {
        Path file = dir.resolve("profiles.yaml");
        Files.writeString(file, "models:\n  claude-haiku-4-5-20251001: { verbosity: 1.25 }\n");
        assertThat(SimulatorProfiles.load(file)
                        .forModel("claude-haiku-4-5-20251001")
                        .verbosity())
                .isEqualTo(1.25);
        assertThatThrownBy(() -> SimulatorProfiles.load(dir.resolve("nope.yaml")))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("no such file");
    }

    @Test
    void withFailuresAppliesToEveryModelAndTheDefault() {
        var failures = new SimulatorProfiles.Failures(0.01, 0.02, 0.03, 4);
        SimulatorProfiles p = SimulatorProfiles.builtIn().withFailures(failures);
        assertThat(p.models().values()).allSatisfy(m -> assertThat(m.failures()).isEqualTo(failures));
        assertThat(p.defaultModel().failures()).isEqualTo(failures);
        assertThatThrownBy(() -> new SimulatorProfiles.Failures(0.6, 0.5, 0, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("at most 1");
    }
}
