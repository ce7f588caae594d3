package dev.tiergate.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tiergate.pricing.Cost;
import dev.tiergate.pricing.CostOptions;
import dev.tiergate.pricing.ModelCatalog;
import dev.tiergate.pricing.ModelSpec;
import dev.tiergate.pricing.PricingException;
import dev.tiergate.pricing.Usage;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code tiergate cost}: the exact cost of one Anthropic usage object. */
@Command(
        name = "cost",
        mixinStandardHelpOptions = true,
        description = {
            "Price an Anthropic `usage` JSON object exactly and print"
                    + " {\"model\": ..., \"cost_usd\": \"0.036188000\", \"breakdown\": {...}}.",
            "Null or missing fields count as zero; a cache_creation_input_tokens total without the TTL split counts as"
                    + " 5-minute writes; service_tier, inference_geo and speed in the usage are applied.",
            "Exit 2 on an unknown model or malformed usage."
        })
final class CostCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Option(names = "--model", required = true, paramLabel = "ID", description = "Model id or alias.")
    String model = "";

    @Option(
            names = "--usage",
            required = true,
            paramLabel = "FILE|-",
            description = "File holding the usage object (or a whole Messages response), or - for standard input.")
    String usageFile = "-";

    @Option(names = "--batch", description = "Bill as a Message Batches call (also implied by service_tier: batch).")
    boolean batch;

    @Mixin
    CatalogOption catalog = new CatalogOption();

    @Spec
    picocli.CommandLine.Model.CommandSpec spec = picocli.CommandLine.Model.CommandSpec.create();

    @Override
    public Integer call() throws IOException {
        ModelCatalog models = catalog.load();
        JsonNode root = readJson();
        // Accept a whole Messages response too: its usage is under "usage".
        JsonNode usageNode = root.has("usage") && root.get("usage").isObject() ? root.get("usage") : root;
        Usage usage;
        try {
            usage = Usage.fromJson(usageNode);
        } catch (IllegalArgumentException e) {
            throw new CliException("malformed usage in " + usageFile + ": " + e.getMessage());
        }
        CostOptions options = CostOptions.fromUsage(usageNode);
        if (batch) {
            options = options.withBatch();
        }
        Cost cost;
        ModelSpec spec0;
        try {
            spec0 = models.require(model);
            cost = models.cost(model, usage, options);
        } catch (PricingException e) {
            throw new CliException(String.valueOf(e.getMessage()));
        }
        ObjectNode out = JSON.createObjectNode();
        out.put("model", cost.model());
        out.put("cost_usd", cost.total().toUsdString());
        ObjectNode b = out.putObject("breakdown");
        b.put("input", cost.input().toUsdString());
        b.put("cache_write_5m", cost.cacheWrite5m().toUsdString());
        b.put("cache_write_1h", cost.cacheWrite1h().toUsdString());
        b.put("cache_read", cost.cacheRead().toUsdString());
        b.put("output", cost.output().toUsdString());
        b.put("web_search", cost.webSearch().toUsdString());
        ObjectNode t = out.putObject("tokens");
        t.put("input", usage.inputTokens());
        t.put("cache_write_5m", usage.cacheWrite5mTokens());
        t.put("cache_write_1h", usage.cacheWrite1hTokens());
        t.put("cache_read", usage.cacheReadTokens());
        t.put("output", usage.outputTokens());
        t.put("web_search_requests", usage.webSearchRequests());
        cost.rules().forEach(out.putArray("rules")::add);
        spec0.unconfirmed().stream().sorted().forEach(out.putArray("unconfirmed_prices")::add);
        out.put("catalog_date", models.date().toString());
        spec.commandLine()
                .getOut()
                .println(JSON.writerWithDefaultPrettyPrinter().writeValueAsString(out));
        return 0;
    }

    private JsonNode readJson() {
        String text;
        try {
            if (usageFile.equals("-")) {
                InputStream in = System.in;
                text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            } else {
                text = Files.readString(Path.of(usageFile), StandardCharsets.UTF_8);
            }
        } catch (IOException e) {
            throw new CliException("cannot read --usage " + usageFile + ": " + e.getMessage());
        }
        try {
            JsonNode node = JSON.readTree(text);
            if (node == null || !node.isObject()) {
                throw new CliException("malformed usage in " + usageFile + ": expected a JSON object");
            }
            return node;
        } catch (JsonProcessingException e) {
            throw new CliException("malformed usage in " + usageFile + " at line "
                    + e.getLocation().getLineNr() + ", column "
                    + e.getLocation().getColumnNr() + ": " + e.getOriginalMessage());
        }
    }
}
