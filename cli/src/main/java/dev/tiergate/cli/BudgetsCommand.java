package dev.tiergate.cli;

import dev.tiergate.budget.Budget;
import dev.tiergate.budget.BudgetLoader;
import dev.tiergate.budget.BudgetRules;
import dev.tiergate.budget.BudgetStatus;
import dev.tiergate.config.ConfigException;
import dev.tiergate.gateway.GatewayConfig;
import dev.tiergate.ledger.Ledger;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.LocalDate;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code tiergate budgets ...}: check budget config, show where budgets stand. */
@Command(
        name = "budgets",
        mixinStandardHelpOptions = true,
        description = {
            "Show limit, spent, reserved and remaining per budget window (the same as `budgets status`), or check"
                    + " budget config (`budgets check FILE`).",
            "Without --config only windows the ledger holds (from their first call on) are shown."
        },
        subcommands = {BudgetsCommand.Check.class, BudgetsCommand.Status.class})
final class BudgetsCommand implements Callable<Integer> {
    @Mixin
    LedgerOption ledger = new LedgerOption();

    @Mixin
    ConfigOption config = new ConfigOption();

    @Spec
    picocli.CommandLine.Model.CommandSpec spec = picocli.CommandLine.Model.CommandSpec.create();

    @Override
    public Integer call() {
        return Status.print(ledger, config, spec);
    }

    /** The gateway config whose budgets are listed even before their first call; optional. */
    static final class ConfigOption {
        @Option(
                names = "--config",
                paramLabel = "FILE",
                description = "The gateway config (tiergate.yaml): list the current window of each of its budgets"
                        + " even before its first call, at zero spent. Not `per_run` budgets: their windows exist per"
                        + " run and show once a run has made a call. The ledger is the config's too, unless --db or"
                        + " --postgres is given.")
        @Nullable
        Path file;

        /** The gateway config, if --config was given. */
        Optional<GatewayConfig> load(Clock clock) {
            if (file == null) {
                return Optional.empty();
            }
            return Optional.of(GatewayConfig.load(file, System.getenv(), LocalDate.now(clock)));
        }
    }

    /** {@code tiergate budgets check FILE}. */
    @Command(
            name = "check",
            mixinStandardHelpOptions = true,
            description = {
                "Validate a file with a `budgets:` list (see docs/budgets.md).",
                "Exit 0 when valid; exit 2 with one FILE:LINE:COL: message line per problem (all problems at once)."
            })
    static final class Check implements Callable<Integer> {
        @Parameters(paramLabel = "FILE", description = "The budgets YAML file.")
        Path file = Path.of("");

        @Spec
        picocli.CommandLine.Model.CommandSpec spec = picocli.CommandLine.Model.CommandSpec.create();

        @Override
        public Integer call() {
            try {
                BudgetRules rules = BudgetLoader.load(file);
                PrintWriter out = spec.commandLine().getOut();
                out.printf("%s: valid (%d budgets)%n", file, rules.budgets().size());
                for (Budget b : rules.budgets()) {
                    out.printf(
                            "  %-20s %-9s %-8s %s USD %s%n",
                            b.name(),
                            b.scope().configName(),
                            b.window().configName(),
                            b.limit().toUsdString(),
                            b.isHard() ? "hard" : "soft");
                }
                return 0;
            } catch (ConfigException e) {
                spec.commandLine().getErr().println(e.lines());
                return Main.EXIT_BAD_INPUT;
            }
        }
    }

    /** {@code tiergate budgets status}. */
    @Command(
            name = "status",
            mixinStandardHelpOptions = true,
            description = {
                "Every budget window that has not ended: limit, spent, reserved (calls in flight) and remaining, in"
                        + " USD.",
                "Without --config only windows the ledger holds (from their first call on) are shown.",
                "Exit 2 if the --config file is invalid (every problem listed as FILE:LINE:COL)."
            })
    static final class Status implements Callable<Integer> {
        @Mixin
        LedgerOption ledger = new LedgerOption();

        @Mixin
        ConfigOption config = new ConfigOption();

        @Spec
        picocli.CommandLine.Model.CommandSpec spec = picocli.CommandLine.Model.CommandSpec.create();

        @Override
        public Integer call() {
            return print(ledger, config, spec);
        }

        static int print(LedgerOption ledger, ConfigOption config, picocli.CommandLine.Model.CommandSpec spec) {
            Clock clock = Clock.systemUTC();
            Optional<GatewayConfig> gateway;
            try {
                gateway = config.load(clock);
            } catch (ConfigException e) {
                spec.commandLine().getErr().println(e.lines());
                return Main.EXIT_BAD_INPUT;
            }
            BudgetRules configured = gateway.map(GatewayConfig::enforcedBudgets).orElse(BudgetRules.NONE);
            List<BudgetStatus> windows;
            try (Ledger l = ledger.open(clock, gateway.map(GatewayConfig::ledger))) {
                Instant now = clock.instant();
                windows = configured.withUnusedWindows(l.budgetStatus(now), now);
            }
            PrintWriter out = spec.commandLine().getOut();
            if (windows.isEmpty()) {
                out.println(
                        config.file == null
                                ? "no budget has been used yet (with --config FILE, configured budgets are listed"
                                        + " before their first call)"
                                : "no budget is configured in " + config.file + " and none has been used yet");
                return 0;
            }
            String format = "%-20s %-16s %-8s %-21s %16s %16s %16s %16s%n";
            out.printf(
                    format,
                    "BUDGET",
                    "RUN",
                    "WINDOW",
                    "START",
                    "LIMIT_USD",
                    "SPENT_USD",
                    "RESERVED_USD",
                    "REMAINING_USD");
            for (BudgetStatus s : windows) {
                out.printf(
                        format,
                        s.budget().budget() + (s.budget().hard() ? "" : " (soft)"),
                        s.budget().subject(),
                        s.budget().window().configName(),
                        s.budget().windowStart(),
                        s.limit().toUsdString(),
                        s.spent().toUsdString(),
                        s.reserved().toUsdString(),
                        s.remaining().toUsdString());
            }
            return 0;
        }
    }
}
