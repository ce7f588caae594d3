package dev.tiergate.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.tiergate.calibration.CallPricer;
import dev.tiergate.calibration.Criteria;
import dev.tiergate.calibration.Evidence;
import dev.tiergate.calibration.EvidenceException;
import dev.tiergate.pricing.ModelCatalog;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.file.Files;
import java.nio.file.Path;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Model.CommandSpec;

/** What the calibration commands share: loading evidence and criteria as CLI errors, and number output. */
final class EvidenceInput {

    /** Says where costs come from; printed with every cost the calibration commands report. */
    static final String COST_NOTE = "costs are estimates: sums of the evidence file's cost_usd, or where it is"
            + " empty the catalog's standard list prices x token counts (which may themselves be estimates)";

    private EvidenceInput() {}

    /**
     * Loads an evidence file. Rows with an empty {@code cost_usd} are priced from token counts at {@code catalog}'s
     * standard list prices ({@link CallPricer#fromCatalog}); a row of a model the catalog lacks must give its cost,
     * else it is reported as an error with its line.
     */
    static Evidence load(Path file, ModelCatalog catalog) {
        if (!Files.isRegularFile(file)) {
            throw new CliException("evidence file " + file + " does not exist or is not a file");
        }
        try {
            return Evidence.read(file, CallPricer.fromCatalog(catalog));
        } catch (EvidenceException e) {
            throw new CliException(String.valueOf(e.getMessage()));
        } catch (UncheckedIOException e) {
            throw new CliException(String.valueOf(e.getMessage()));
        }
    }

    /** The command's standard output; picocli always injects the spec before {@code call()}. */
    static PrintWriter out(@Nullable CommandSpec spec) {
        if (spec == null) {
            throw new IllegalStateException("picocli did not inject the command spec");
        }
        return spec.commandLine().getOut();
    }

    static Criteria criteria(double epsilon, double confidence, int minSamples) {
        try {
            return new Criteria(epsilon, confidence, minSamples);
        } catch (IllegalArgumentException e) {
            throw new CliException(String.valueOf(e.getMessage()));
        }
    }

    /** A double rounded to six decimals for stable, readable JSON. */
    static BigDecimal round(double value) {
        return BigDecimal.valueOf(value).setScale(6, RoundingMode.HALF_EVEN).stripTrailingZeros();
    }

    static String json(Object tree) {
        try {
            return new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(tree);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write JSON", e);
        }
    }

    static String pct(double fraction) {
        return String.format(java.util.Locale.ROOT, "%.1f%%", 100 * fraction);
    }

    static String num(double value) {
        return String.format(java.util.Locale.ROOT, "%.3f", value);
    }

    /** Output format of the calibration commands. */
    enum Format {
        table,
        json
    }
}
