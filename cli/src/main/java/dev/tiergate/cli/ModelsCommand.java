package dev.tiergate.cli;

import dev.tiergate.pricing.ModelCatalog;
import dev.tiergate.pricing.ModelSpec;
import dev.tiergate.pricing.Money;
import dev.tiergate.pricing.PriceBand;
import dev.tiergate.pricing.PriceCard;
import java.io.PrintWriter;
import java.math.BigDecimal;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Spec;

/** {@code tiergate models}: the catalog as a table. */
@Command(
        name = "models",
        mixinStandardHelpOptions = true,
        description = {
            "List the model catalog: id, status, USD per million tokens for each token class, context window and"
                    + " max output.",
            "A '*' marks a value that is third-party only or disputed (unconfirmed); bands show on their own line."
        })
final class ModelsCommand implements Callable<Integer> {
    private static final String ROW = "%-28s %-32s %9s %9s %9s %9s %9s %9s %8s%n";

    @Mixin
    CatalogOption catalog = new CatalogOption();

    @Spec
    picocli.CommandLine.Model.CommandSpec spec = picocli.CommandLine.Model.CommandSpec.create();

    @Override
    public Integer call() {
        ModelCatalog models = catalog.load();
        PrintWriter out = spec.commandLine().getOut();
        out.printf("Model catalog of %s (USD per million tokens; * = unconfirmed)%n", models.date());
        out.printf(ROW, "id", "status", "input", "write 5m", "write 1h", "read", "output", "context", "max out");
        for (ModelSpec m : models.models()) {
            row(out, m.id(), m.status().toString(), m, m.prices(), "");
            for (int i = 0; i < m.bands().size(); i++) {
                PriceBand b = m.bands().get(i);
                row(
                        out,
                        "  > " + b.promptTokensOver() + " prompt",
                        "(whole request)",
                        m,
                        b.prices(),
                        "bands[" + i + "].");
            }
        }
        out.printf(
                "Batch: x%s on every token class. inference_geo: %s. Web search: %s USD per 1,000.%n",
                models.modifiers().batchMultiplier(),
                models.modifiers().inferenceGeoMultipliers(),
                Money.ofNanos(models.modifiers().webSearchPer1k())
                        .toUsd()
                        .stripTrailingZeros()
                        .toPlainString());
        return 0;
    }

    private static void row(PrintWriter out, String id, String status, ModelSpec m, PriceCard p, String prefix) {
        boolean base = prefix.isEmpty();
        out.printf(
                ROW,
                id,
                status,
                usd(p.inputPerMTok(), m, prefix + "input"),
                usd(p.cacheWrite5mPerMTok(), m, prefix + "cache_write_5m"),
                usd(p.cacheWrite1hPerMTok(), m, prefix + "cache_write_1h"),
                usd(p.cacheReadPerMTok(), m, prefix + "cache_read"),
                usd(p.outputPerMTok(), m, prefix + "output"),
                base ? tokens(m.contextWindow()) : "",
                base ? tokens(m.maxOutput()) + (m.unconfirmed().contains("max_output") ? "*" : "") : "");
    }

    private static String usd(long nanosPerMTok, ModelSpec m, String field) {
        String v = BigDecimal.valueOf(nanosPerMTok, 9).stripTrailingZeros().toPlainString();
        return v + (m.unconfirmed().contains(field) ? "*" : "");
    }

    private static String tokens(long n) {
        return n % 1_000_000 == 0 ? n / 1_000_000 + "M" : n % 1000 == 0 ? n / 1000 + "K" : Long.toString(n);
    }
}
