package dev.tiergate.report;

import dev.tiergate.policy.Policy;
import dev.tiergate.policy.RequestFacts;
import dev.tiergate.policy.Router;
import dev.tiergate.policy.RoutingDecision;
import dev.tiergate.pricing.CostOptions;
import dev.tiergate.pricing.ModelCatalog;
import dev.tiergate.pricing.ModelSpec;
import dev.tiergate.pricing.Money;
import dev.tiergate.pricing.Usage;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Where the money went over a set of recorded calls, and what the same recorded usage would have cost on the
 * frontier model or under other policies.
 *
 * <p>Every amount is an exact sum of per-call exact costs in nano-USD. Denied calls cost nothing and are only
 * counted ({@link Line#deniedCalls}); every other count and amount covers the calls that were not denied.
 * Interrupted calls are included at the worst case they were charged, and carried at that cost, unrepriced, in
 * every scenario: their usage is unknown.
 *
 * <p>Counterfactuals ({@link Scenario}) reprice recorded token counts at the catalog's standard prices (the
 * ledger does not record batch, geography or speed); a call whose model would not change, and whose output would
 * not be cut, keeps its recorded cost. See {@link #COUNTERFACTUAL_CAVEAT}.
 *
 * <p>Immutable and thread-safe. An empty list of calls gives a report of zeros.
 *
 * @param frontier the model counted as frontier, and why
 * @param total every call
 * @param byTaskType one line per task type, largest cost first
 * @param byTier one line per tier, largest cost first
 * @param byModel one line per served model, largest cost first
 * @param byDay one line per UTC day ({@code YYYY-MM-DD}), oldest first
 * @param scenarios the all-frontier counterfactual, then one per what-if policy in the order given
 */
public record SpendReport(
        Frontier frontier,
        Line total,
        List<Line> byTaskType,
        List<Line> byTier,
        List<Line> byModel,
        List<Line> byDay,
        List<Scenario> scenarios) {

    /** What a counterfactual is and is not; every rendering of a scenario should carry it. */
    public static final String COUNTERFACTUAL_CAVEAT = "Counterfactuals reprice the recorded token counts of each"
            + " call on another model at standard prices. They do not predict quality, nor the different verbosity"
            + " of another model: a smaller model may write more or fewer tokens than were recorded.";

    public SpendReport {
        byTaskType = List.copyOf(byTaskType);
        byTier = List.copyOf(byTier);
        byModel = List.copyOf(byModel);
        byDay = List.copyOf(byDay);
        scenarios = List.copyOf(scenarios);
    }

    /**
     * Builds the report.
     *
     * @param calls the recorded calls, any order
     * @param catalog prices for repricing; served models it does not know are fine unless a scenario must reprice
     *     on them (it never must: scenarios reprice on the frontier or a routed model)
     * @param frontier the model counted as frontier, and the all-frontier scenario's target
     * @param whatIf policies to route every call under, one scenario each; may be empty
     * @throws dev.tiergate.pricing.PricingException if a target model is not in {@code catalog}
     */
    public static SpendReport of(List<CallFacts> calls, ModelCatalog catalog, Frontier frontier, List<Policy> whatIf) {
        String frontierId = catalog.require(frontier.model()).id();
        Acc total = new Acc("total");
        Map<String, Acc> task = new LinkedHashMap<>();
        Map<String, Acc> tier = new LinkedHashMap<>();
        Map<String, Acc> model = new LinkedHashMap<>();
        Map<String, Acc> day = new LinkedHashMap<>();
        for (CallFacts c : calls) {
            boolean isFrontier = canonical(catalog, c.model()).equals(frontierId);
            total.add(c, isFrontier);
            task.computeIfAbsent(c.taskType(), Acc::new).add(c, isFrontier);
            tier.computeIfAbsent(c.tier(), Acc::new).add(c, isFrontier);
            model.computeIfAbsent(c.model(), Acc::new).add(c, isFrontier);
            day.computeIfAbsent(
                            c.startedAt().atOffset(ZoneOffset.UTC).toLocalDate().toString(), Acc::new)
                    .add(c, isFrontier);
        }
        List<Line> taskLines = byCost(task);
        List<Scenario> scenarios = new ArrayList<>();
        scenarios.add(allFrontier(calls, catalog, frontierId, taskLines));
        for (Policy p : whatIf) {
            scenarios.add(whatIf(calls, new Router(p, catalog), taskLines));
        }
        List<Line> days = day.values().stream()
                .map(Acc::line)
                .sorted(Comparator.comparing(Line::key))
                .toList();
        return new SpendReport(frontier, total.line(), taskLines, byCost(tier), byCost(model), days, scenarios);
    }

    /**
     * Totals for one group of calls.
     *
     * @param key the group: a task type, tier, model, day, or {@code total}; empty when the ledger had none
     * @param calls calls not denied
     * @param completedCalls calls with status ok
     * @param deniedCalls calls a budget denied (not in any other count or amount)
     * @param interruptedCalls calls interrupted by a gateway crash, charged their worst case
     * @param interruptedCost what the interrupted calls were charged, nano-USD (part of {@code cost})
     * @param truncatedCalls completed calls whose output stopped at {@code max_tokens}
     * @param frontierCalls calls served by the frontier model
     * @param cost what the calls cost, nano-USD
     * @param frontierCost what the frontier calls cost, nano-USD
     * @param outputTokens output tokens of the calls
     */
    public record Line(
            String key,
            long calls,
            long completedCalls,
            long deniedCalls,
            long interruptedCalls,
            Money interruptedCost,
            long truncatedCalls,
            long frontierCalls,
            Money cost,
            Money frontierCost,
            long outputTokens) {

        /** Truncated among completed calls, a fraction with four decimals; 0 when none completed. */
        public BigDecimal truncationRate() {
            return share(truncatedCalls, completedCalls);
        }

        /** Frontier calls among calls, a fraction with four decimals; 0 when there are none. */
        public BigDecimal frontierCallShare() {
            return share(frontierCalls, calls);
        }

        /** Frontier cost over cost, a fraction with four decimals; 0 when the cost is zero. */
        public BigDecimal frontierSpendShare() {
            return share(frontierCost.nanos(), cost.nanos());
        }
    }

    /** Which counterfactual a scenario is. */
    public enum Kind {
        /** Every call on the frontier model. */
        ALL_FRONTIER,
        /** Every call routed under another policy. */
        WHAT_IF
    }

    /**
     * The recorded calls repriced as if sent elsewhere.
     *
     * @param kind all-frontier or what-if
     * @param name {@code all-frontier}, or {@code what-if:} and the policy's source
     * @param description how the calls were repriced, in words
     * @param actualCost what the calls cost, nano-USD (the report's total cost)
     * @param cost what they would have cost, nano-USD
     * @param newlyTruncatedCalls completed calls not truncated before whose recorded output exceeds the scenario's
     *     cap (what-if only; their output is repriced at the cap)
     * @param unroutedCalls calls the what-if policy rejects (unknown task type without a default tier, input over
     *     the context window); carried at their recorded cost
     * @param byTaskType one line per task type, in the order of {@link SpendReport#byTaskType}
     */
    public record Scenario(
            Kind kind,
            String name,
            String description,
            Money actualCost,
            Money cost,
            long newlyTruncatedCalls,
            long unroutedCalls,
            List<ScenarioLine> byTaskType) {
        public Scenario {
            byTaskType = List.copyOf(byTaskType);
        }

        /** {@code cost - actualCost}: positive when the scenario costs more. */
        public Money difference() {
            return cost.minus(actualCost);
        }
    }

    /**
     * One task type in a scenario.
     *
     * @param taskType the task type
     * @param models the models the scenario sends its calls to, sorted
     * @param actualCost what its calls cost, nano-USD
     * @param cost what they would have cost, nano-USD
     * @param newlyTruncatedCalls see {@link Scenario#newlyTruncatedCalls}
     * @param unroutedCalls see {@link Scenario#unroutedCalls}
     */
    public record ScenarioLine(
            String taskType,
            List<String> models,
            Money actualCost,
            Money cost,
            long newlyTruncatedCalls,
            long unroutedCalls) {
        public ScenarioLine {
            models = List.copyOf(models);
        }

        /** {@code cost - actualCost}. */
        public Money difference() {
            return cost.minus(actualCost);
        }
    }

    /** {@code part / whole} rounded half-up to four decimals; zero when {@code whole} is zero. */
    static BigDecimal share(long part, long whole) {
        if (whole == 0) {
            return BigDecimal.ZERO.setScale(4);
        }
        return BigDecimal.valueOf(part).divide(BigDecimal.valueOf(whole), 4, RoundingMode.HALF_UP);
    }

    private static Scenario allFrontier(
            List<CallFacts> calls, ModelCatalog catalog, String frontierId, List<Line> taskLines) {
        Map<String, ScenarioAcc> acc = scenarioAccs(taskLines);
        for (CallFacts c : calls) {
            if (c.status() == CallFacts.Status.DENIED) {
                continue;
            }
            ScenarioAcc a = acc.computeIfAbsent(c.taskType(), ScenarioAcc::new);
            a.models.add(frontierId);
            a.actual = a.actual.plus(c.cost());
            boolean keep = c.status() == CallFacts.Status.INTERRUPTED
                    || canonical(catalog, c.model()).equals(frontierId);
            a.cost = a.cost.plus(
                    keep
                            ? c.cost()
                            : catalog.cost(frontierId, c.usage(), CostOptions.STANDARD)
                                    .total());
        }
        return scenario(
                Kind.ALL_FRONTIER,
                "all-frontier",
                "every call's recorded usage (all token classes) repriced on " + frontierId
                        + " at standard prices; calls already on it, and interrupted calls, keep their recorded"
                        + " cost",
                acc);
    }

    private static Scenario whatIf(List<CallFacts> calls, Router router, List<Line> taskLines) {
        ModelCatalog catalog = router.catalog();
        Map<String, ScenarioAcc> acc = scenarioAccs(taskLines);
        for (CallFacts c : calls) {
            if (c.status() == CallFacts.Status.DENIED) {
                continue;
            }
            ScenarioAcc a = acc.computeIfAbsent(c.taskType(), ScenarioAcc::new);
            a.actual = a.actual.plus(c.cost());
            long prompt = c.usage().promptTokens();
            RequestFacts facts =
                    c.maxTokens() > 0 ? RequestFacts.of(prompt, c.maxTokens()) : RequestFacts.withoutMaxTokens(prompt);
            switch (router.route(c.taskType(), facts)) {
                case RoutingDecision.Reject reject -> {
                    a.unrouted++;
                    a.cost = a.cost.plus(c.cost());
                }
                case RoutingDecision.Route route -> {
                    a.models.add(route.model());
                    Usage u = c.usage();
                    boolean cut = u.outputTokens() > route.maxTokens();
                    if (cut && !c.truncated() && c.status() == CallFacts.Status.OK) {
                        a.newlyTruncated++;
                    }
                    if (c.status() == CallFacts.Status.INTERRUPTED
                            || (!cut && canonical(catalog, c.model()).equals(route.model()))) {
                        a.cost = a.cost.plus(c.cost());
                    } else {
                        Usage capped = cut
                                ? new Usage(
                                        u.inputTokens(),
                                        route.maxTokens(),
                                        u.cacheWrite5mTokens(),
                                        u.cacheWrite1hTokens(),
                                        u.cacheReadTokens(),
                                        u.webSearchRequests())
                                : u;
                        a.cost = a.cost.plus(catalog.cost(route.model(), capped, CostOptions.STANDARD)
                                .total());
                    }
                }
            }
        }
        String source = router.policy().source();
        return scenario(
                Kind.WHAT_IF,
                "what-if:" + source,
                "each call routed under " + source + " (recorded prompt tokens as the input estimate, recorded"
                        + " max_tokens as requested), its recorded usage repriced on the routed model at standard"
                        + " prices with output cut at the policy's cap; calls that keep their model and are not"
                        + " cut, and interrupted calls, keep their recorded cost",
                acc);
    }

    private static Map<String, ScenarioAcc> scenarioAccs(List<Line> taskLines) {
        Map<String, ScenarioAcc> acc = new LinkedHashMap<>();
        for (Line l : taskLines) {
            acc.put(l.key(), new ScenarioAcc(l.key()));
        }
        return acc;
    }

    private static Scenario scenario(Kind kind, String name, String description, Map<String, ScenarioAcc> acc) {
        Money actual = Money.ZERO;
        Money cost = Money.ZERO;
        long truncated = 0;
        long unrouted = 0;
        List<ScenarioLine> lines = new ArrayList<>();
        for (ScenarioAcc a : acc.values()) {
            lines.add(new ScenarioLine(
                    a.taskType, List.copyOf(a.models), a.actual, a.cost, a.newlyTruncated, a.unrouted));
            actual = actual.plus(a.actual);
            cost = cost.plus(a.cost);
            truncated += a.newlyTruncated;
            unrouted += a.unrouted;
        }
        return new Scenario(kind, name, description, actual, cost, truncated, unrouted, lines);
    }

    /** The catalog id of {@code model}, or the model as given when the catalog does not know it. */
    private static String canonical(ModelCatalog catalog, String model) {
        return catalog.find(model).map(ModelSpec::id).orElse(model);
    }

    private static List<Line> byCost(Map<String, Acc> groups) {
        return groups.values().stream()
                .map(Acc::line)
                .sorted(Comparator.comparing((Line l) -> l.cost()).reversed().thenComparing(Line::key))
                .toList();
    }

    private static final class Acc {
        final String key;
        long calls;
        long completed;
        long denied;
        long interrupted;
        Money interruptedCost = Money.ZERO;
        long truncated;
        long frontier;
        Money cost = Money.ZERO;
        Money frontierCost = Money.ZERO;
        long output;

        Acc(String key) {
            this.key = key;
        }

        void add(CallFacts c, boolean isFrontier) {
            if (c.status() == CallFacts.Status.DENIED) {
                denied++;
                return;
            }
            calls++;
            cost = cost.plus(c.cost());
            output = Math.addExact(output, c.usage().outputTokens());
            switch (c.status()) {
                case OK -> completed++;
                case INTERRUPTED -> {
                    interrupted++;
                    interruptedCost = interruptedCost.plus(c.cost());
                }
                case UPSTREAM_ERROR, CLIENT_CANCELLED, DENIED -> {}
            }
            if (c.truncated()) {
                truncated++;
            }
            if (isFrontier) {
                frontier++;
                frontierCost = frontierCost.plus(c.cost());
            }
        }

        Line line() {
            return new Line(
                    key,
                    calls,
                    completed,
                    denied,
                    interrupted,
                    interruptedCost,
                    truncated,
                    frontier,
                    cost,
                    frontierCost,
                    output);
        }
    }

    private static final class ScenarioAcc {
        final String taskType;
        final TreeSet<String> models = new TreeSet<>();
        Money actual = Money.ZERO;
        Money cost = Money.ZERO;
        long newlyTruncated;
        long unrouted;

        ScenarioAcc(String taskType) {
            this.taskType = taskType;
        }
    }
}
