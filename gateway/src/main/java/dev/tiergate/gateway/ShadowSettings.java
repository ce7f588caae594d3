package dev.tiergate.gateway;

import dev.tiergate.budget.Budget;
import dev.tiergate.budget.BudgetRules;
import dev.tiergate.budget.Mode;
import dev.tiergate.budget.Scope;
import dev.tiergate.budget.Window;
import dev.tiergate.config.Problems;
import dev.tiergate.config.YamlNode;
import dev.tiergate.policy.Policy;
import dev.tiergate.policy.Tier;
import dev.tiergate.pricing.ModelCatalog;
import dev.tiergate.pricing.ModelSpec;
import dev.tiergate.pricing.Money;
import java.math.BigDecimal;
import java.time.ZoneOffset;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Shadow evaluation (config {@code shadow:}): which task types are sampled and how often, which cheaper model
 * replays a sampled call, which model judges, and the hard budget all shadow and judge calls share.
 *
 * @param taskTypes sampling per task type; a task type not listed is never sampled
 * @param budget the limit of the {@code shadow} budget; zero only when shadow evaluation is off
 * @param window the period of the {@code shadow} budget
 * @param seed seeds the sampler: the same seed and the same number of eligible calls sample the same count
 */
public record ShadowSettings(Map<String, TaskShadow> taskTypes, Money budget, Window window, long seed) {

    /** The name of the shadow budget; reserved when shadow evaluation is on. */
    public static final String BUDGET = "shadow";

    /** No shadow evaluation. */
    public static final ShadowSettings OFF = new ShadowSettings(Map.of(), Money.ZERO, Window.DAY, 1);

    public ShadowSettings {
        taskTypes = Map.copyOf(taskTypes);
        if (!taskTypes.isEmpty() && budget.nanos() <= 0) {
            throw new IllegalArgumentException("shadow.budget_usd must be positive, got " + budget);
        }
    }

    /**
     * Sampling of one task type.
     *
     * @param sampleRate the share of the type's successful calls replayed, in [0, 1]
     * @param candidate the model replayed on; empty: the policy's cheapest tier model cheaper than the served one
     * @param judge the model that compares the two answers
     */
    public record TaskShadow(double sampleRate, String candidate, String judge) {
        public TaskShadow {
            if (!(sampleRate >= 0 && sampleRate <= 1)) {
                throw new IllegalArgumentException("sample_rate must be in [0, 1], got " + sampleRate);
            }
            if (judge.isBlank()) {
                throw new IllegalArgumentException("a shadowed task type needs a judge model");
            }
        }
    }

    /** Whether any task type is sampled. */
    public boolean enabled() {
        return taskTypes.values().stream().anyMatch(t -> t.sampleRate() > 0);
    }

    /** The shadow budget as budget rules: one hard global budget named {@value #BUDGET}, in UTC. */
    BudgetRules rules() {
        if (budget.nanos() <= 0) {
            return BudgetRules.NONE;
        }
        return new BudgetRules(
                List.of(new Budget(BUDGET, new Scope.Global(), window, ZoneOffset.UTC, budget, new Mode.Hard())));
    }

    /**
     * The candidate for a call of {@code taskType} served by {@code servedModel}: the configured one, or the
     * cheapest tier model of the policy that is cheaper than the served one (by input + output list price).
     * Empty if there is none or it is the served model itself.
     */
    Optional<String> candidateFor(String taskType, String servedModel, Policy policy, ModelCatalog catalog) {
        TaskShadow t = taskTypes.get(taskType);
        if (t == null) {
            return Optional.empty();
        }
        Optional<ModelSpec> served = catalog.find(servedModel);
        if (!t.candidate().isEmpty()) {
            boolean same = served.isPresent()
                    && catalog.find(t.candidate())
                            .map(c -> c.id().equals(served.get().id()))
                            .orElse(false);
            return same ? Optional.empty() : Optional.of(t.candidate());
        }
        if (served.isEmpty()) {
            return Optional.empty();
        }
        long servedPrice = listPrice(served.get());
        return policy.tiers().values().stream()
                .map(Tier::model)
                .flatMap(m -> catalog.find(m).stream())
                .filter(s -> listPrice(s) < servedPrice)
                .min(Comparator.comparingLong(ShadowSettings::listPrice).thenComparing(ModelSpec::id))
                .map(ModelSpec::id);
    }

    private static long listPrice(ModelSpec s) {
        return s.prices().inputPerMTok() + s.prices().outputPerMTok();
    }

    private static final Set<String> KEYS = Set.of("budget_usd", "window", "judge", "seed", "task_types");
    private static final Set<String> TYPE_KEYS = Set.of("sample_rate", "candidate", "judge");

    /**
     * Reads {@code shadow:}. Needs the loaded policy: the default judge is the model of the tier named {@code
     * frontier}, or else of the tier whose model has the highest list price.
     */
    static ShadowSettings read(YamlNode node, Policy policy, ModelCatalog catalog, Problems problems) {
        Optional<YamlNode.Mapping> m = problems.mapping(node, "shadow");
        if (m.isEmpty()) {
            return OFF;
        }
        problems.rejectUnknownKeys(m.get(), "shadow", KEYS);
        Optional<Money> budget = Optional.empty();
        Optional<YamlNode> budgetNode = m.get().get("budget_usd");
        if (budgetNode.isEmpty()) {
            problems.add(m.get(), "shadow needs `budget_usd` (a hard limit on all shadow and judge calls)");
        } else {
            budget = problems.nonNegativeDecimal(budgetNode.get(), "shadow.budget_usd")
                    .flatMap(v -> positiveUsd(v, budgetNode.get(), problems));
        }
        Window window = m.get()
                .get("window")
                .flatMap(n -> problems.oneOf(n, "shadow.window", Set.of("day", "month", "total")))
                .map(w -> Window.valueOf(w.toUpperCase(Locale.ROOT)))
                .orElse(Window.DAY);
        long seed = m.get()
                .get("seed")
                .flatMap(n -> problems.wholeNumber(n, "shadow.seed", Long.MIN_VALUE, Long.MAX_VALUE))
                .orElse(1L);
        String defaultJudge = m.get()
                .get("judge")
                .flatMap(n -> model(n, "shadow.judge", catalog, problems))
                .orElseGet(() -> frontierModel(policy, catalog));
        Map<String, TaskShadow> types = new LinkedHashMap<>();
        Optional<YamlNode.Mapping> typesNode =
                m.get().get("task_types").flatMap(n -> problems.mapping(n, "shadow.task_types"));
        if (m.get().get("task_types").isEmpty()) {
            problems.add(m.get(), "shadow needs `task_types` (task type -> { sample_rate: 0..1 })");
        }
        if (typesNode.isPresent()) {
            for (Map.Entry<String, YamlNode> e : typesNode.get().entries().entrySet()) {
                String type = e.getKey();
                String where = "shadow.task_types." + type;
                if (!policy.taskTypes().containsKey(type) && !type.equals(Policy.UNCLASSIFIED)) {
                    problems.add(
                            typesNode.get().keyNode(type),
                            where + ": the policy has no task type '" + type + "'; it has "
                                    + policy.taskTypes().keySet() + " and " + Policy.UNCLASSIFIED);
                }
                Optional<YamlNode.Mapping> t = problems.mapping(e.getValue(), where);
                if (t.isEmpty()) {
                    continue;
                }
                problems.rejectUnknownKeys(t.get(), where, TYPE_KEYS);
                Optional<YamlNode> rateNode = t.get().get("sample_rate");
                Optional<Double> rate = Optional.empty();
                if (rateNode.isEmpty()) {
                    problems.add(t.get(), where + " needs `sample_rate` (0 to 1)");
                } else {
                    rate = problems.nonNegativeDecimal(rateNode.get(), where + ".sample_rate")
                            .filter(v -> {
                                if (v.compareTo(BigDecimal.ONE) > 0) {
                                    problems.add(
                                            rateNode.get(),
                                            where + ".sample_rate must be at most 1, got " + v.toPlainString());
                                    return false;
                                }
                                return true;
                            })
                            .map(BigDecimal::doubleValue);
                }
                String candidate = t.get()
                        .get("candidate")
                        .flatMap(n -> model(n, where + ".candidate", catalog, problems))
                        .orElse("");
                String judge = t.get()
                        .get("judge")
                        .flatMap(n -> model(n, where + ".judge", catalog, problems))
                        .orElse(defaultJudge);
                if (rate.isPresent() && !judge.isEmpty()) {
                    types.put(type, new TaskShadow(rate.get(), candidate, judge));
                }
            }
        }
        if (defaultJudge.isEmpty()) {
            problems.add(m.get(), "shadow needs `judge` (a catalog model): the policy's tiers name no catalog model");
        }
        if (budget.isEmpty() || !problems.isEmpty()) {
            return OFF;
        }
        return new ShadowSettings(types, budget.get(), window, seed);
    }

    private static Optional<Money> positiveUsd(BigDecimal v, YamlNode where, Problems problems) {
        if (v.signum() == 0) {
            problems.add(where, "shadow.budget_usd must be positive, got " + v.toPlainString());
            return Optional.empty();
        }
        try {
            return Optional.of(Money.ofUsd(v));
        } catch (IllegalArgumentException e) {
            problems.add(where, "shadow.budget_usd " + e.getMessage());
            return Optional.empty();
        }
    }

    private static Optional<String> model(YamlNode n, String what, ModelCatalog catalog, Problems problems) {
        Optional<String> id = problems.text(n, what);
        if (id.isPresent() && catalog.find(id.get()).isEmpty()) {
            problems.add(
                    n,
                    what + ": model '" + id.get() + "' is not in the model catalog; catalog models are "
                            + catalog.models().stream().map(ModelSpec::id).toList());
            return Optional.empty();
        }
        return id.map(i -> catalog.require(i).id());
    }

    private static String frontierModel(Policy policy, ModelCatalog catalog) {
        Tier frontier = policy.tiers().get("frontier");
        if (frontier != null && catalog.find(frontier.model()).isPresent()) {
            return catalog.require(frontier.model()).id();
        }
        return policy.tiers().values().stream()
                .flatMap(t -> catalog.find(t.model()).stream())
                .max(Comparator.comparingLong(ShadowSettings::listPrice).thenComparing(ModelSpec::id))
                .map(ModelSpec::id)
                .orElse("");
    }
}
