package dev.tiergate.cli;

import dev.tiergate.config.ConfigException;
import dev.tiergate.gateway.GatewayConfig;
import dev.tiergate.gateway.LedgerSettings;
import dev.tiergate.ledger.GroupBy;
import dev.tiergate.ledger.Ledger;
import dev.tiergate.ledger.SpendGroup;
import dev.tiergate.pricing.Money;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Clock;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code tiergate spend}: where the money went, from the ledger. */
@Command(
        name = "spend",
        mixinStandardHelpOptions = true,
        description = "Spend from the ledger grouped by task type, tier, model, key, team, run or day, largest first.")
final class SpendCommand implements Callable<Integer> {
    @Option(
            names = "--by",
            paramLabel = "GROUP",
            description = "task, tier, model, key, team, run or day (default: ${DEFAULT-VALUE}).")
    String by = "task";

    @Option(
            names = "--since",
            paramLabel = "YYYY-MM-DD",
            description = "Calls started on or after this UTC day (default: the first of this month).")
    String since = "";

    @Mixin
    LedgerOption ledger = new LedgerOption();

    // as `budgets --config` and `serve --config` take it: whoever runs the gateway has this file at hand
    @Option(
            names = "--config",
            paramLabel = "FILE",
            description = "The gateway config (tiergate.yaml): read the ledger it names, unless --db or --postgres"
                    + " is given.")
    @Nullable
    Path config;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec = picocli.CommandLine.Model.CommandSpec.create();

    @Override
    public Integer call() {
        Clock clock = Clock.systemUTC();
        GroupBy groupBy;
        LocalDate from;
        try {
            groupBy = GroupBy.parse(by);
            from = since.isEmpty() ? LocalDate.now(clock).withDayOfMonth(1) : LocalDate.parse(since);
        } catch (IllegalArgumentException e) {
            throw new CliException(String.valueOf(e.getMessage()));
        } catch (DateTimeParseException e) {
            throw new CliException("--since must be a day YYYY-MM-DD, got '" + since + "'");
        }
        Optional<LedgerSettings> configured;
        try {
            configured = config == null
                    ? Optional.empty()
                    : Optional.of(GatewayConfig.load(config, System.getenv(), LocalDate.now(clock))
                            .ledger());
        } catch (ConfigException e) {
            spec.commandLine().getErr().println(e.lines());
            return Main.EXIT_BAD_INPUT;
        }
        List<SpendGroup> groups;
        try (Ledger l = ledger.open(clock, configured)) {
            groups = l.spend(groupBy, from.atStartOfDay(ZoneOffset.UTC).toInstant());
        }
        PrintWriter out = spec.commandLine().getOut();
        String format = "%-28s %8s %16s %12s %12s %12s %12s %8s%n";
        out.printf(
                format, groupBy.name(), "CALLS", "COST_USD", "INPUT", "CACHE_WRITE", "CACHE_READ", "OUTPUT", "CAPPED");
        Money total = Money.ZERO;
        long calls = 0;
        for (SpendGroup g : groups) {
            out.printf(
                    format,
                    g.group().isEmpty() ? "(none)" : g.group(),
                    g.calls(),
                    g.cost().toUsdString(),
                    g.inputTokens(),
                    g.cacheWriteTokens(),
                    g.cacheReadTokens(),
                    g.outputTokens(),
                    g.cappedCalls());
            total = total.plus(g.cost());
            calls += g.calls();
        }
        out.printf("%-28s %8d %16s%n", "TOTAL since " + from, calls, total.toUsdString());
        return 0;
    }
}
