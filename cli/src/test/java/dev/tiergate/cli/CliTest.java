package dev.tiergate.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class CliTest {
    @TempDir
    Path dir;

    record Run(int exit, String out, String err) {}

    static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = Main.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int exit = cl.execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    private Path write(String name, String text) throws IOException {
        Path p = dir.resolve(name);
        Files.writeString(p, text);
        return p;
    }

    @Test
    void policyCheckAcceptsTheExamplePolicy() {
        Run r = run("policy", "check", "../examples/policy.yaml");
        assertThat(r.exit()).isZero();
        assertThat(r.out()).contains("valid (2 tiers, 9 task types, 1 rules");
    }

    @Test
    void policyCheckPrintsOneLocatedLinePerProblemAndExitsTwo() throws IOException {
        Path p = write("bad.yaml", """
                tiers:
                  frontier: { model: claude-opus-4-6, fallbacks: [claude-opus-9] }
                  small:    { model: claude-haiku-4-5-20251001 }
                task_types:
                  synthesis:      { tier: frontier, max_tokens: 2000 }
                  extraction:     { tier: medium,   max_tokens: 300 }
                  classification: { tier: small,    max_tokens: 70000 }
                  synthesis:      { tier: frontier, max_tokens: 1000 }
                """);
        Run r = run("policy", "check", p.toString());
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err().lines().toList())
                .hasSize(4)
                .allSatisfy(line ->
                        assertThat(line).matches(java.util.regex.Pattern.quote(p.toString()) + ":\\d+:\\d+: .+"));
        assertThat(r.err()).contains(":7:").contains("70000 is above the max output");
    }

    @Test
    void routePrintsTheDecisionAndWhy() {
        Run r = run(
                "route",
                "--policy",
                "../examples/policy.yaml",
                "--task",
                "synthesis",
                "--max-tokens",
                "9000",
                "--input-tokens",
                "1000");
        assertThat(r.exit()).isZero();
        assertThat(r.out())
                .contains("tier:        frontier")
                .contains("model:       claude-opus-4-6")
                .contains("fallbacks:   claude-opus-4-5-20251101")
                .contains("max_tokens:  2000 (capped)")
                // 1,000 x $10 (1h write, Opus 4.6's highest input-side price) + 2,000 x $25 = 0.01 + 0.05
                .contains("worst case:  0.060000000 USD")
                .contains("max_tokens 9000 capped to 2000");
    }

    @Test
    void routeExitsOneWhenThePolicyRejects() {
        Run r = run("route", "--policy", "../examples/policy.yaml", "--task", "judge", "--input-tokens", "2000000");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.out()).contains("rejected:").contains("context window");
    }

    @Test
    void modelsListsEveryModelWithPricesAndFlags() {
        Run r = run("models");
        assertThat(r.exit()).isZero();
        assertThat(r.out())
                .contains("claude-opus-4-6")
                .contains("claude-haiku-4-5-20251001")
                .contains("> 100000 prompt")
                .contains("0.2*");
    }

    @Test
    void costMatchesHandCalculationToTheNanoDollar() throws IOException {
        // Haiku 4.5: 1,234 x $1 + 567 x $5 + 890 x $0.10 + 100 x $2 (1h) = 0.001234 + 0.002835 + 0.000089 + 0.0002
        Path usage = write(
                "usage.json",
                "{\"input_tokens\":1234,\"output_tokens\":567,\"cache_read_input_tokens\":890,"
                        + "\"cache_creation_input_tokens\":100,\"cache_creation\":{\"ephemeral_1h_input_tokens\":100}}");
        Run r = run("cost", "--model", "claude-haiku-4-5", "--usage", usage.toString());
        assertThat(r.exit()).isZero();
        assertThat(r.out())
                .contains("\"model\" : \"claude-haiku-4-5-20251001\"")
                .contains("\"cost_usd\" : \"0.004358000\"")
                .contains("\"cache_write_1h\" : \"0.000200000\"");
        Run batch = run("cost", "--model", "claude-haiku-4-5", "--usage", usage.toString(), "--batch");
        assertThat(batch.out()).contains("\"cost_usd\" : \"0.002179000\"");
    }

    @Test
    void costRejectsUnknownModelsAndMalformedUsageWithExitTwo() throws IOException {
        Path usage = write("usage.json", "{\"input_tokens\":10}");
        Run unknown = run("cost", "--model", "gpt-17", "--usage", usage.toString());
        assertThat(unknown.exit()).isEqualTo(2);
        assertThat(unknown.err()).contains("unknown model 'gpt-17'");

        Path bad = write("bad.json", "{\"input_tokens\": \"ten\"}");
        Run malformed = run("cost", "--model", "claude-opus-4-6", "--usage", bad.toString());
        assertThat(malformed.exit()).isEqualTo(2);
        assertThat(malformed.err()).contains("usage.input_tokens").contains("ten");

        Path broken = write("broken.json", "{\"input_tokens\": 1,");
        Run notJson = run("cost", "--model", "claude-opus-4-6", "--usage", broken.toString());
        assertThat(notJson.exit()).isEqualTo(2);
        assertThat(notJson.err()).contains("malformed usage").contains("line 1");
    }

    @Test
    void serveRefusesAnInvalidConfigListingEveryProblemWithItsPolicys() throws IOException {
        write("policy.yaml", "tiers:\n  small: { model: gpt-17 }\n");
        Path config = write(
                "tiergate.yaml",
                "listen: { port: 70000 }\npolicy: policy.yaml\nkeys:\n  - name: a\n    sha256: abc\nupstream: { base_url: ftp://x }\n");
        Run r = run("serve", "--config", config.toString());
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err())
                .contains("tiergate.yaml:1:")
                .contains("listen.port must be between 0 and 65535")
                .contains("sha256 must be 64 hex digits")
                .contains("base_url must be an http or https URL")
                .contains("policy.yaml:2:")
                .contains("'gpt-17' is not in the model catalog");
    }

    /** {@code serve --config config}, bounded: a serve that accepted the config would run until stopped. */
    private Run serveExpectingRefusal(Path config) {
        return org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(
                java.time.Duration.ofSeconds(60), () -> run("serve", "--config", config.toString()));
    }

    @Test
    void serveRefusesTheAnthropicApiWithoutAnUpstreamKeyInsteadOfSimulatingIt() throws IOException {
        write("policy.yaml", "tiers:\n  small: { model: claude-haiku-4-5-20251001 }\ndefault_tier: small\n");
        // a variable no environment sets, so the test does not depend on the machine's ANTHROPIC_API_KEY
        Path config = write("tiergate.yaml", """
                listen: { host: 127.0.0.1, port: 0 }
                policy: policy.yaml
                upstream: { base_url: https://api.anthropic.com, api_key_env: TIERGATE_CLITEST_UNSET_KEY }
                keys:
                  - { name: a, sha256: %s }
                """.formatted("ab".repeat(32)));
        Run r = serveExpectingRefusal(config);
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.out()).doesNotContain("listening");
        assertThat(r.err())
                .startsWith(config.toString())
                .contains("no upstream key")
                .contains("upstream.api_key_env")
                .contains("--simulated")
                .doesNotContain("SIMULATED upstream");
    }

    @Test
    void serveListsAnUnknownDemotionTierWithTheConfigsOtherProblems() throws IOException {
        write("policy.yaml", "tiers:\n  small: { model: claude-haiku-4-5 }\ndefault_tier: small\n");
        Path config = write("tiergate.yaml", """
                listen: { port: 70000 }
                policy: policy.yaml
                keys:
                  - { name: a, sha256: %s }
                budgets:
                  - name: cheap
                    scope: global
                    window: day
                    limit_usd: 1
                    mode: soft
                    demote_below_priority: normal
                    demote_to_tier: tiny
                  - { name: other, scope: planet, window: day, limit_usd: 1 }
                """.formatted("0".repeat(64)));
        Run r = run("serve", "--config", config.toString());
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err())
                .contains("listen.port must be between 0 and 65535")
                .contains("planet")
                .contains("budget 'cheap' demotes to tier 'tiny', which the policy does not define; tiers are [small]");
    }

    @Test
    void serveRefusesABadBudgetConfigListingEveryBudgetProblemWhereItIs() throws IOException {
        write("policy.yaml", "tiers:\n  small: { model: claude-haiku-4-5-20251001 }\ndefault_tier: small\n");
        Path config = write("tiergate.yaml", """
                listen: { host: 127.0.0.1, port: 0 }
                policy: policy.yaml
                upstream: { base_url: simulated }
                keys:
                  - { name: a, sha256: %s }
                budgets:
                  - { name: galactic, scope: galaxy, window: day, limit_usd: 1 }
                  - { name: negative, scope: global, window: day, limit_usd: -3 }
                  - { name: martian, scope: global, window: day, limit_usd: 1, zone: Mars/Olympus_Mons }
                """.formatted("ab".repeat(32)));
        // the config is otherwise valid
        Run r = serveExpectingRefusal(config);
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.out()).doesNotContain("listening");
        String at = config.toString() + ":";
        assertThat(r.err().lines().toList())
                .anySatisfy(l -> assertThat(l)
                        .startsWith(at + "7:")
                        .contains("budget 'galactic' scope must be one of")
                        .contains("got 'galaxy'"))
                .anySatisfy(l -> assertThat(l)
                        .startsWith(at + "8:")
                        .contains("budget 'negative' limit_usd must be positive, got -3"))
                .anySatisfy(l -> assertThat(l)
                        .startsWith(at + "9:")
                        .contains("budget 'martian' zone 'Mars/Olympus_Mons' is not a time zone"));
    }

    @Test
    void hashKeyGeneratesAKeyAndItsHash() {
        Run r = run("hash-key", "--generate");
        assertThat(r.exit()).isZero();
        String key = r.out()
                .lines()
                .filter(l -> l.startsWith("key:"))
                .findFirst()
                .orElseThrow()
                .substring(4)
                .strip();
        String hash = r.out()
                .lines()
                .filter(l -> l.startsWith("sha256:"))
                .findFirst()
                .orElseThrow()
                .substring(7)
                .strip();
        assertThat(hash).isEqualTo(dev.tiergate.gateway.ApiKeys.sha256Hex(key)).hasSize(64);
    }

    @Test
    void budgetsWithoutASubcommandShowsTheStatus() {
        Path db = dir.resolve("empty-ledger.db");
        dev.tiergate.ledger.Ledger.sqlite(db, "test", java.time.Clock.systemUTC())
                .close();
        Run r = run("budgets", "--db", db.toString());
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out()).contains("no budget has been used yet");
    }

    @Test
    void everyCommandHasHelp() {
        for (String[] cmd : new String[][] {
            {"--help"},
            {"policy", "--help"},
            {"policy", "check", "--help"},
            {"route", "--help"},
            {"models", "--help"},
            {"cost", "--help"},
            {"serve", "--help"},
            {"hash-key", "--help"},
            {"caps", "--help"},
            {"report", "--help"},
            {"demo", "--help"},
            {"budgets", "--help"},
            {"spend", "--help"},
            {"calibrate", "--help"},
            {"eval-routing", "--help"},
            {"simulate-upstream", "--help"}
        }) {
            // picocli reports a description it cannot format (a stray '%') on System.err, not the command's writer.
            java.io.PrintStream realErr = System.err;
            java.io.ByteArrayOutputStream tracer = new java.io.ByteArrayOutputStream();
            Run r;
            try {
                System.setErr(new java.io.PrintStream(tracer, true, java.nio.charset.StandardCharsets.UTF_8));
                r = run(cmd);
            } finally {
                System.setErr(realErr);
            }
            assertThat(r.exit()).as(String.join(" ", cmd)).isZero();
            assertThat(r.out()).as(String.join(" ", cmd)).contains("Usage:");
            assertThat(tracer.toString(java.nio.charset.StandardCharsets.UTF_8))
                    .as(String.join(" ", cmd))
                    .doesNotContain("Could not format");
        }
    }
}
