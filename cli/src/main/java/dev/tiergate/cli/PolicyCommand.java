package dev.tiergate.cli;

import dev.tiergate.config.ConfigException;
import dev.tiergate.policy.Policy;
import dev.tiergate.policy.PolicyLoader;
import dev.tiergate.pricing.ModelCatalog;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Clock;
import java.time.LocalDate;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code tiergate policy ...}: work with policy files. */
@Command(
        name = "policy",
        mixinStandardHelpOptions = true,
        description = "Work with policy files.",
        subcommands = {PolicyCommand.Check.class})
final class PolicyCommand {

    /** {@code tiergate policy check FILE}. */
    @Command(
            name = "check",
            mixinStandardHelpOptions = true,
            description = {
                "Validate a policy file against the model catalog.",
                "Exit 0 when valid; exit 2 with one FILE:LINE:COL: message line per problem (all problems at once)."
            })
    static final class Check implements Callable<Integer> {
        @Parameters(paramLabel = "FILE", description = "The policy YAML file.")
        Path file = Path.of("");

        @Mixin
        CatalogOption catalog = new CatalogOption();

        @Spec
        picocli.CommandLine.Model.CommandSpec spec = picocli.CommandLine.Model.CommandSpec.create();

        @Override
        public Integer call() {
            ModelCatalog models = catalog.load();
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            try {
                Policy p = loadPolicy(file, models);
                out.printf(
                        "%s: valid (%d tiers, %d task types, %d rules; catalog %s)%n",
                        file, p.tiers().size(), p.taskTypes().size(), p.rules().size(), models.date());
                return 0;
            } catch (ConfigException e) {
                err.println(e.lines());
                return Main.EXIT_BAD_INPUT;
            }
        }
    }

    static Policy loadPolicy(Path file, ModelCatalog catalog) {
        return PolicyLoader.load(file, catalog, LocalDate.now(Clock.systemUTC()));
    }
}
