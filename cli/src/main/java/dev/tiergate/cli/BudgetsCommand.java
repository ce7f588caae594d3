package dev.tiergate.cli;

import dev.tiergate.budget.Budget;
import dev.tiergate.budget.BudgetLoader;
import dev.tiergate.budget.BudgetRules;
import dev.tiergate.budget.BudgetStatus;
import dev.tiergate.config.ConfigException;
import dev.tiergate.ledger.Ledger;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code tiergate budgets ...}: check budget config, show where budgets stand. */
@Command(
        name = "budgets",
        mixinStandardHelpOptions = true,
        description = {
            "Show limit, spent, reserved and remaining per budget window (the same as `budgets status`), or check"
                    + " budget config (`budgets check FILE`)."
        },
        subcommands = {BudgetsCommand.Check.class, BudgetsCommand.Status.class})
final class BudgetsCommand implements Callable<Integer> {
    @Mixin
    LedgerOption ledger = new LedgerOption();

    @Spec
    picocli.CommandLine.Model.CommandSpec spec = picocli.CommandLine.Model.CommandSpec.create();

    @Override
    public Integer call() {
        return Status.print(ledger, spec);
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
            description = "Every budget window that has not ended: limit, spent, reserved (calls in flight) and"
                    + " remaining, in USD.")
    static final class Status implements Callable<Integer> {
        @Mixin
        LedgerOption ledger = new LedgerOption();

        @Spec
        picocli.CommandLine.Model.CommandSpec spec = picocli.CommandLine.Model.CommandSpec.create();

        @Override
        public Integer call() {
            return print(ledger, spec);
        }

        static int print(LedgerOption ledger, picocli.CommandLine.Model.CommandSpec spec) {
            Clock clock = Clock.systemUTC();
            List<BudgetStatus> windows;
            try (Ledger l = ledger.open(clock)) {
                windows = l.budgetStatus(clock.instant());
            }
            PrintWriter out = spec.commandLine().getOut();
            if (windows.isEmpty()) {
                out.println("no budget has been used yet");
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
