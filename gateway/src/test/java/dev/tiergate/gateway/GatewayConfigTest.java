package dev.tiergate.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tiergate.config.ConfigException;
import dev.tiergate.pricing.Money;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GatewayConfigTest {
    @TempDir
    Path dir;

    /** Loads a minimal config (a policy, one key) with {@code extra} added at its end. */
    private GatewayConfig load(String extra) throws Exception {
        Files.writeString(dir.resolve("policy.yaml"), GatewayHarness.POLICY);
        Files.writeString(dir.resolve("tiergate.yaml"), """
                policy: policy.yaml
                keys:
                  - { name: agents, sha256: %s }
                %s
                """.formatted(ApiKeys.sha256Hex("k"), extra));
        return GatewayConfig.load(dir.resolve("tiergate.yaml"), Map.of(), LocalDate.of(2026, 11, 29));
    }

    @Test
    void readsSamplingCandidateJudgeAndBudgetWithDefaults() throws Exception {
        GatewayConfig c = load("""
                shadow:
                  budget_usd: 2.5
                  task_types:
                    synthesis: { sample_rate: 0.1 }
                    extraction: { sample_rate: 0.5, candidate: claude-haiku-4-5, judge: claude-opus-4-5 }
                """);
        ShadowSettings s = c.shadow();
        assertThat(s.enabled()).isTrue();
        assertThat(s.budget()).isEqualTo(Money.parseUsd("2.5"));
        assertThat(s.window().configName()).isEqualTo("day");
        // default judge: the frontier tier's model
        assertThat(s.taskTypes().get("synthesis").judge()).isEqualTo("claude-opus-4-6");
        assertThat(s.taskTypes().get("synthesis").candidate()).isEmpty();
        assertThat(s.taskTypes().get("extraction").candidate()).startsWith("claude-haiku-4-5");
        // default candidate: the cheapest tier model cheaper than the served one
        assertThat(s.candidateFor("synthesis", "claude-opus-4-6", c.policy(), c.catalog()))
                .hasValueSatisfying(m -> assertThat(m).startsWith("claude-haiku-4-5"));
        assertThat(s.candidateFor("synthesis", "claude-haiku-4-5-20251001", c.policy(), c.catalog()))
                .isEmpty();
        assertThat(load("").shadow().enabled()).isFalse();
    }

    @Test
    void badShadowConfigFailsStartupListingEveryProblemWithItsPlace() {
        assertThatThrownBy(() -> load("""
                        shadow:
                          window: week
                          task_types:
                            synthesis: { sample_rate: 1.5, candidate: gpt-9 }
                            poetry: { sample_rate: 0.1, judgee: x }
                        budgets:
                          - { name: shadow, scope: global, window: day, limit_usd: 1 }
                        """))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("shadow needs `budget_usd`")
                .hasMessageContaining("shadow.window")
                .hasMessageContaining("shadow.task_types.synthesis.sample_rate must be at most 1, got 1.5")
                .hasMessageContaining("model 'gpt-9' is not in the model catalog")
                .hasMessageContaining("the policy has no task type 'poetry'")
                .hasMessageContaining("judgee")
                .hasMessageContaining("budget name 'shadow' is reserved")
                .hasMessageContaining("tiergate.yaml:5:11:");
    }

    @Test
    void aCaFileThatIsMissingUnreadableOrNotPemFailsStartupNamingTheOptionAndPathWithTheOtherProblems()
            throws Exception {
        assertThatThrownBy(() -> load("""
                        listen: { port: 70000 }
                        upstream: { base_url: https://egress.example, ca_file: missing.pem }
                        """))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("listen.port must be between 0 and 65535")
                .hasMessageContaining("tiergate.yaml:5:")
                .hasMessageContaining("upstream.ca_file '" + dir.resolve("missing.pem") + "' does not exist");

        Files.createDirectory(dir.resolve("a-folder"));
        assertThatThrownBy(() -> load("upstream: { ca_file: a-folder }"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("upstream.ca_file '" + dir.resolve("a-folder") + "' cannot be read");

        Files.writeString(dir.resolve("key.pem"), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
        assertThatThrownBy(() -> load("upstream: { ca_file: key.pem }"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("upstream.ca_file '" + dir.resolve("key.pem") + "' holds no PEM certificate");

        Files.writeString(dir.resolve("empty.pem"), "");
        assertThatThrownBy(() -> load("upstream: { ca_file: empty.pem }"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("upstream.ca_file '" + dir.resolve("empty.pem") + "' holds no PEM certificate");
    }

    @Test
    void aCaFileWithAnUpstreamThatIsNotHttpsIsAProblemNotSilentlyIgnored() throws Exception {
        Files.writeString(dir.resolve("empty.pem"), "");
        assertThatThrownBy(() -> load("upstream: { base_url: http://egress.example:8080, ca_file: empty.pem }"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("upstream.ca_file is only used with an https upstream.base_url, but base_url is"
                        + " 'http://egress.example:8080'");
        assertThatThrownBy(() -> load("upstream: { base_url: simulated, ca_file: empty.pem }"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("but base_url is simulated");
    }
}
