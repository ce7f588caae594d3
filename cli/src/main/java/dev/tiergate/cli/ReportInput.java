package dev.tiergate.cli;

import dev.tiergate.config.ConfigException;
import dev.tiergate.ledger.CallPage;
import dev.tiergate.ledger.CallQuery;
import dev.tiergate.ledger.Ledger;
import dev.tiergate.ledger.LedgerRow;
import dev.tiergate.policy.Policy;
import dev.tiergate.pricing.ModelCatalog;
import dev.tiergate.report.CallFacts;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * What {@code report} and {@code caps} read: the ledger, a window of days, the catalog, the current policy and the
 * simulated label.
 */
final class ReportInput {
    /** The simulator's own request-id prefix: rows carrying it came from a simulated upstream. */
    static final String SIMULATED_REQUEST_ID_PREFIX = "req_sim_";

    /** Whether a ledger row's request id says a simulator answered it (the simulator's or the gateway's mark). */
    static boolean isSimulated(String requestId) {
        return requestId.startsWith(SIMULATED_REQUEST_ID_PREFIX)
                || requestId.startsWith(dev.tiergate.gateway.Gateway.SIMULATED_REQUEST_ID_PREFIX);
    }

    @Mixin
    LedgerOption ledger = new LedgerOption();

    @Mixin
    CatalogOption catalog = new CatalogOption();

    @Option(
            names = "--since",
            paramLabel = "YYYY-MM-DD",
            description = "Calls started on or after this UTC day (default: the whole ledger).")
    String since = "";

    @Option(
            names = "--until",
            paramLabel = "YYYY-MM-DD",
            description = "Calls started on or before this UTC day, inclusive (default: no end).")
    String until = "";

    @Option(
            names = "--policy",
            paramLabel = "FILE",
            description = "The policy in force: defines the frontier model (its most expensive tier model by"
                    + " output price) and the current caps.")
    @Nullable
    Path policyFile;

    @Option(
            names = "--simulated",
            description = "Label the output simulated (the ledger was filled through the simulated upstream). Rows"
                    + " whose request id starts with " + SIMULATED_REQUEST_ID_PREFIX + " or "
                    + dev.tiergate.gateway.Gateway.SIMULATED_REQUEST_ID_PREFIX + " (a gateway on the simulated"
                    + " upstream) set it too.")
    boolean simulated;

    /** The calls read, and whether the output must say simulated. */
    record Loaded(List<CallFacts> calls, boolean simulated, ModelCatalog catalog) {}

    Loaded load(Clock clock) {
        Instant from = day("--since", since)
                .map(d -> d.atStartOfDay(ZoneOffset.UTC).toInstant())
                .orElse(Instant.EPOCH);
        Instant to = day("--until", until)
                .map(d -> d.plusDays(1).atStartOfDay(ZoneOffset.UTC).toInstant())
                .orElse(Instant.parse("9999-12-31T00:00:00Z"));
        if (!to.isAfter(from)) {
            throw new CliException("--until " + until + " is before --since " + since);
        }
        ModelCatalog models = catalog.load();
        List<CallFacts> calls = new ArrayList<>();
        boolean sim = simulated;
        try (Ledger l = ledger.open(clock)) {
            CallQuery q = new CallQuery(from, to, "", "", "", "", Set.of(), 1000, Long.MAX_VALUE);
            while (true) {
                CallPage page = l.calls(q);
                for (LedgerRow row : page.rows()) {
                    calls.add(facts(row));
                    sim |= isSimulated(row.call().requestId());
                }
                if (!page.hasNext()) {
                    break;
                }
                q = q.after(page);
            }
        }
        return new Loaded(List.copyOf(calls), sim, models);
    }

    Optional<Policy> policy(ModelCatalog models) {
        Path file = policyFile;
        return file == null ? Optional.empty() : Optional.of(loadPolicy("--policy", file, models));
    }

    static Policy loadPolicy(String option, Path file, ModelCatalog models) {
        try {
            return PolicyCommand.loadPolicy(file, models);
        } catch (ConfigException e) {
            throw new CliException("invalid " + option + " " + file + ":\n" + e.lines());
        }
    }

    /** The label every output carries: {@code simulated} or empty. */
    static String label(boolean simulated) {
        return simulated ? "simulated" : "";
    }

    static CallFacts facts(LedgerRow row) {
        String served = row.outcome().servedModel().isEmpty()
                ? row.call().routedModel()
                : row.outcome().servedModel();
        return new CallFacts(
                row.call().startedAt(),
                row.call().taskType(),
                row.call().tier(),
                served,
                row.outcome().usage(),
                row.outcome().cost(),
                CallFacts.Status.valueOf(row.outcome().status().name()),
                row.outcome().stopReason(),
                row.call().maxTokens());
    }

    private static Optional<LocalDate> day(String option, String text) {
        if (text.isEmpty()) {
            return Optional.empty();
        }
        try {
            return Optional.of(LocalDate.parse(text));
        } catch (DateTimeParseException e) {
            throw new CliException(option + " must be a day YYYY-MM-DD, got '" + text + "'");
        }
    }
}
