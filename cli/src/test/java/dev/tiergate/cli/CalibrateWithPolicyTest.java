package dev.tiergate.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tiergate.policy.Policy;
import dev.tiergate.policy.PolicyLoader;
import dev.tiergate.policy.RequestFacts;
import dev.tiergate.policy.Router;
import dev.tiergate.policy.RoutingDecision;
import dev.tiergate.pricing.CatalogLoader;
import dev.tiergate.pricing.ModelCatalog;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code calibrate --policy}, catalog pricing of evidence and the written policy, end to end. */
class CalibrateWithPolicyTest {

    private static final String HEADER = "item_id,task_type,model,score,input_tokens,output_tokens,cost_usd";
    private static final String OPUS = "claude-opus-4-6";
    private static final String HAIKU = "claude-haiku-4-5";
    private static final String SONNET = "claude-sonnet-4-6";

    private static final String POLICY = """
            tiers:
              frontier: { model: claude-opus-4-6, fallbacks: [claude-opus-4-5] }
              small: { model: claude-haiku-4-5 }
            default_tier: frontier
            default_max_tokens: 1000
            task_types:
              extraction: { tier: frontier, max_tokens: 300, priority: high, description: "entity \\"extraction\\"" }
              drafting: { tier: frontier, max_tokens: 2000 }
              labeling: { tier: frontier, max_tokens: 10, priority: low }
              unused: { tier: small, max_tokens: 50 }
            rules:
              - when: { input_tokens_over: 150000, task_types: [extraction, drafting] }
                route_to: frontier
            """;

    @TempDir
    Path dir;

    private final ModelCatalog catalog = CatalogLoader.bundled();

    private record Run(int exit, String out, String err) {}

    private static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = Main.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int exit = cl.execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    /**
     * 400 items of {@code type}: {@code current} gets 300 right, {@code better} the same 300 plus 20 more. Costs are
     * empty (priced from the catalog) unless given.
     */
    private static void addType(List<String> rows, String type, String current, String better, String betterCost) {
        for (int i = 0; i < 400; i++) {
            rows.add(type + "-" + i + "," + type + "," + current + "," + (i < 300 ? 1 : 0) + ",100,10,");
            rows.add(type + "-" + i + "," + type + "," + better + "," + (i < 320 ? 1 : 0) + ",100,10," + betterCost);
        }
    }

    private Path write(String name, String text) throws Exception {
        Path file = dir.resolve(name);
        Files.writeString(file, text);
        return file;
    }

    private Path evidence() throws Exception {
        List<String> rows = new ArrayList<>();
        rows.add(HEADER);
        addType(rows, "extraction", OPUS, HAIKU, "");
        addType(rows, "drafting", OPUS, SONNET, "");
        addType(rows, "summarization", OPUS, HAIKU, "");
        addType(rows, "labeling", OPUS, "cheap-x", "0.00001");
        return write("evidence.csv", String.join("\n", rows) + "\n");
    }

    private static String routedModel(Router router, String type) {
        return switch (router.route(type, RequestFacts.withoutMaxTokens(1_000))) {
            case RoutingDecision.Route r -> r.model();
            case RoutingDecision.Reject r -> "rejected: " + r.reason();
        };
    }

    @Test
    void writesAValidPolicyThatRoutesEachSwitchedTypeToItsRecommendedModel() throws Exception {
        Path policy = write("policy.yaml", POLICY);
        Path out = dir.resolve("calibrated.yaml");

        Run r = run(
                "calibrate",
                "--evidence",
                evidence().toString(),
                "--policy",
                policy.toString(),
                "--write-policy",
                out.toString());

        assertThat(r.err()).isEmpty();
        assertThat(r.exit()).isZero();
        Policy written = PolicyLoader.load(out, catalog, LocalDate.of(2026, 1, 1));
        Router router = new Router(written, catalog);
        assertThat(routedModel(router, "extraction")).isEqualTo("claude-haiku-4-5-20251001");
        assertThat(routedModel(router, "drafting")).isEqualTo(SONNET);
        assertThat(routedModel(router, "summarization")).isEqualTo("claude-haiku-4-5-20251001");
        assertThat(routedModel(router, "labeling"))
                .as("cheap-x is not in the catalog")
                .isEqualTo(OPUS);
        assertThat(routedModel(router, "unused")).isEqualTo("claude-haiku-4-5-20251001");
        // The existing tier of the recommended model is reused; a tier is added only for a model without one.
        assertThat(written.taskTypes().get("extraction").tier()).isEqualTo("small");
        assertThat(written.tiers()).containsOnlyKeys("frontier", "small", "calibrated-claude-sonnet-4-6");
        // What the switch must not lose: cap, priority, description, fallbacks, defaults, rules.
        assertThat(written.taskTypes().get("extraction").maxTokens()).isEqualTo(300);
        assertThat(written.taskTypes().get("extraction").description()).isEqualTo("entity \"extraction\"");
        assertThat(written.taskTypes().get("summarization").maxTokens()).isEqualTo(1000);
        assertThat(written.tiers().get("frontier").fallbacks()).containsExactly("claude-opus-4-5-20251101");
        assertThat(written.defaultTier()).contains("frontier");
        assertThat(written.rules()).singleElement().satisfies(rule -> {
            assertThat(rule.inputTokensOver()).isEqualTo(150_000);
            assertThat(rule.taskTypes()).containsExactlyInAnyOrder("extraction", "drafting");
        });

        String yaml = Files.readString(out);
        assertThat(yaml)
                .contains("# switch from claude-opus-4-6: quality 0.800 vs 0.750 on n=400")
                .contains("# not switched to cheap-x: the model is not in the model catalog")
                .contains("# added by calibrate: was routed by default_tier 'frontier'");
        assertThat(r.out())
                .contains("labeling: not switched to cheap-x: the model is not in the model catalog")
                .contains("drafting: switched from tier 'frontier' (claude-opus-4-6) to tier"
                        + " 'calibrated-claude-sonnet-4-6' (claude-sonnet-4-6)")
                .contains("summarization: tier 'frontier' (claude-opus-4-6), the default tier")
                .contains("not calibrated, no evidence: unused");
    }

    @Test
    void typesOutsideAPolicyWithoutDefaultTierAreSkippedWithTheReason() throws Exception {
        Path policy = write("policy.yaml", POLICY.replace("default_tier: frontier\n", ""));

        Run table = run("calibrate", "--evidence", evidence().toString(), "--policy", policy.toString());
        Run json = run(
                "calibrate", "--evidence", evidence().toString(), "--policy", policy.toString(), "--format", "json");

        assertThat(table.exit()).isZero();
        assertThat(table.out())
                .contains("summarization: skipped, not in policy " + policy + ", which has no" + " default_tier");
        JsonNode root = new ObjectMapper().readTree(json.out());
        List<String> calibrated = new ArrayList<>();
        root.get("task_types").forEach(t -> calibrated.add(t.get("type").asText()));
        assertThat(calibrated).containsExactly("drafting", "extraction", "labeling");
        assertThat(root.at("/skipped/0/type").asText()).isEqualTo("summarization");
        assertThat(root.at("/task_types/1/current_tier").asText()).isEqualTo("frontier");
    }

    @Test
    void currentModelFromThePolicyMatchesTheEvidenceSpellingOfAnAlias() throws Exception {
        // Policy tier names the dated id; the evidence uses the alias.
        Path policy = write("policy.yaml", """
                tiers:
                  small: { model: claude-haiku-4-5-20251001 }
                task_types:
                  extraction: { tier: small, max_tokens: 300 }
                """);
        List<String> rows = new ArrayList<>(List.of(HEADER));
        addType(rows, "extraction", HAIKU, OPUS, "");

        Run r = run(
                "calibrate",
                "--evidence",
                write("e.csv", String.join("\n", rows)).toString(),
                "--policy",
                policy.toString(),
                "--format",
                "json");

        assertThat(r.err()).isEmpty();
        JsonNode t = new ObjectMapper().readTree(r.out()).at("/task_types/0");
        assertThat(t.get("current_model").asText()).isEqualTo(HAIKU);
        assertThat(t.get("current_quality").get("n").asInt()).isEqualTo(400);
        assertThat(t.get("under_classified").asBoolean()).isTrue();
    }

    @Test
    void policyAndCurrentTogetherAreBadInput() throws Exception {
        Path policy = write("policy.yaml", POLICY);

        Run r = run("calibrate", "--evidence", evidence().toString(), "--policy", policy.toString(), "--current", OPUS);

        assertThat(r.exit()).isEqualTo(Main.EXIT_BAD_INPUT);
        assertThat(r.err()).contains("give either --policy FILE or --current MODEL, not both");
    }

    @Test
    void invalidPolicyIsBadInputListingItsProblems() throws Exception {
        Path policy = write("policy.yaml", "tiers:\n  small: { model: gpt-9 }\n");

        Run r = run("calibrate", "--evidence", evidence().toString(), "--policy", policy.toString());

        assertThat(r.exit()).isEqualTo(Main.EXIT_BAD_INPUT);
        assertThat(r.err()).contains("invalid policy").contains(policy + ":2:").contains("'gpt-9'");
    }

    @Test
    void emptyCostsArePricedFromTheCatalogInBothCommands() throws Exception {
        List<String> rows = new ArrayList<>(List.of(HEADER));
        addType(rows, "extraction", OPUS, HAIKU, "");
        Path file = write("e.csv", String.join("\n", rows));

        Run calibrate = run("calibrate", "--evidence", file.toString(), "--current", OPUS, "--format", "json");
        Run eval = run("eval-routing", "--evidence", file.toString(), "--frontier", OPUS, "--format", "json");

        assertThat(calibrate.err()).isEmpty();
        JsonNode t = new ObjectMapper().readTree(calibrate.out()).at("/task_types/0");
        // Opus 4.6 at $5/$25 and Haiku 4.5 at $1/$5 per million, for 100 input and 10 output tokens.
        assertThat(t.get("current_cost_per_call_usd").decimalValue()).isEqualByComparingTo("0.00075");
        assertThat(t.get("recommended_model").asText()).isEqualTo(HAIKU);
        assertThat(t.get("saving").decimalValue()).isEqualByComparingTo("0.8");
        assertThat(eval.err()).isEmpty();
        assertThat(eval.exit()).isZero();
    }

    @Test
    void modelsFileLetsUsersPriceTheirOwnModels() throws Exception {
        List<String> rows = new ArrayList<>(List.of(HEADER));
        addType(rows, "extraction", OPUS, "llama-local", "");
        Path file = write("e.csv", String.join("\n", rows));
        Path models = write("models.yaml", """
                models:
                  - id: llama-local
                    context_window: 128000
                    max_output: 8192
                    prices: { input: 0.05, output: 0.10 }
                """);

        Run without = run("calibrate", "--evidence", file.toString(), "--current", OPUS);
        Run with = run(
                "calibrate",
                "--evidence",
                file.toString(),
                "--current",
                OPUS,
                "--models",
                models.toString(),
                "--format",
                "json");

        assertThat(without.exit()).isEqualTo(Main.EXIT_BAD_INPUT);
        assertThat(without.err())
                .contains(file + ":3: cost_usd is empty and no price is known for model 'llama-local'");
        assertThat(with.err()).isEmpty();
        assertThat(new ObjectMapper()
                        .readTree(with.out())
                        .at("/task_types/0/recommended_model")
                        .asText())
                .isEqualTo("llama-local");
    }
}
