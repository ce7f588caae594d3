package dev.tiergate.cli;

import dev.tiergate.config.ConfigException;
import dev.tiergate.pricing.CatalogLoader;
import dev.tiergate.pricing.ModelCatalog;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Option;

/** The {@code --models FILE} option shared by commands that price or route: the bundled catalog plus a user's. */
final class CatalogOption {
    @Option(
            names = "--models",
            paramLabel = "FILE",
            description = "YAML file whose `models:` list adds models or replaces bundled ones (same shape as the"
                    + " bundled models.yaml; see docs/cost.md).")
    @Nullable
    Path modelsFile;

    ModelCatalog load() {
        ModelCatalog bundled = CatalogLoader.bundled();
        if (modelsFile == null) {
            return bundled;
        }
        try {
            String yaml = Files.readString(modelsFile, StandardCharsets.UTF_8);
            return CatalogLoader.withOverrides(bundled, modelsFile.toString(), yaml);
        } catch (IOException e) {
            throw new CliException("cannot read --models " + modelsFile + ": " + e.getMessage());
        } catch (ConfigException e) {
            throw new CliException(e.lines());
        }
    }
}
