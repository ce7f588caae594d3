package dev.tiergate.budget;

import dev.tiergate.config.ConfigException;
import dev.tiergate.config.ConfigProblem;
import dev.tiergate.config.Problems;
import dev.tiergate.config.YamlNode;
import dev.tiergate.config.YamlTree;
import dev.tiergate.policy.Priority;
import dev.tiergate.pricing.Money;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.DateTimeException;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Reads the {@code budgets:} list of a config file.
 *
 * <p>Every problem is reported at once, located as {@code FILE:LINE:COL}: unknown scope, window or mode, a limit
 * that is not a positive USD amount, a zone Java does not know, duplicate names, unknown keys, a scope without its
 * subject, demotion settings on a hard budget. Invalid config never yields {@link BudgetRules}.
 *
 * <pre>{@code
 * budgets:
 *   - { name: global-daily, scope: global, window: day, limit_usd: 100 }
 *   - { name: team-a, scope: team, team: a, window: day, limit_usd: 4.50, zone: Europe/Berlin }
 *   - { name: runs, scope: run, per_run: true, window: total, limit_usd: 2 }
 *   - { name: cheap-work, scope: task_type, task_type: extraction, window: month, limit_usd: 50, mode: soft,
 *       demote_below_priority: normal, demote_to_tier: small }
 * }</pre>
 */
public final class BudgetLoader {
    private static final Set<String> KEYS = Set.of(
            "name",
            "scope",
            "key",
            "team",
            "task_type",
            "run",
            "per_run",
            "window",
            "limit_usd",
            "zone",
            "mode",
            "demote_below_priority",
            "demote_to_tier");
    // each scope but global names its subject under a key of the same name: `scope: team` + `team: a`
    private static final List<String> SUBJECT_KEYS = List.of("key", "team", "task_type", "run");
    private static final Set<String> SCOPES = Set.of("global", "key", "team", "task_type", "run");
    private static final Set<String> WINDOWS = Set.of("total", "day", "month");
    private static final Set<String> MODES = Set.of("hard", "soft");
    private static final Set<String> PRIORITIES = Set.of("normal", "high");

    private BudgetLoader() {}

    /**
     * Reads a file whose only top-level key is {@code budgets}.
     *
     * @throws ConfigException listing every problem, if the file is missing or invalid
     */
    public static BudgetRules load(Path path) {
        try {
            return parse(path.toString(), Files.readString(path, StandardCharsets.UTF_8));
        } catch (NoSuchFileException e) {
            throw new ConfigException(List.of(new ConfigProblem(path.toString(), 0, 0, "no such file")));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read budgets " + path, e);
        }
    }

    /** Reads budgets from text whose only top-level key is {@code budgets}; {@code source} names it in problems. */
    public static BudgetRules parse(String source, String yaml) {
        Problems problems = new Problems(source);
        Optional<YamlNode.Mapping> root =
                YamlTree.parse(source, yaml, problems.sink()).flatMap(n -> problems.mapping(n, "the budget file"));
        BudgetRules rules = BudgetRules.NONE;
        if (root.isPresent()) {
            problems.rejectUnknownKeys(root.get(), "the budget file", Set.of("budgets"));
            rules = root.get().get("budgets").map(n -> read(n, problems)).orElse(BudgetRules.NONE);
        }
        problems.throwIfAny();
        return rules;
    }

    /**
     * Reads the value of a {@code budgets:} key inside a larger config file, adding problems to {@code problems}.
     * When a problem was added (here or before), the result is only for further checks that list their own
     * problems too (a demotion tier against the policy): it holds the budgets that could be read, the first of
     * each name, and must not be enforced.
     */
    public static BudgetRules read(YamlNode budgetsNode, Problems problems) {
        if (budgetsNode instanceof YamlNode.Null) {
            return BudgetRules.NONE;
        }
        List<Budget> budgets = new ArrayList<>();
        Map<String, YamlNode> names = new HashMap<>();
        problems.sequence(budgetsNode, "budgets").ifPresent(seq -> {
            for (YamlNode item : seq.items()) {
                problems.mapping(item, "a budget")
                        .flatMap(m -> readBudget(m, names, problems))
                        // a duplicate name is already a problem; keeping the first leaves valid BudgetRules
                        .filter(b -> budgets.stream().noneMatch(o -> o.name().equals(b.name())))
                        .ifPresent(budgets::add);
            }
        });
        return new BudgetRules(budgets);
    }

    private static Optional<Budget> readBudget(YamlNode.Mapping m, Map<String, YamlNode> names, Problems problems) {
        Optional<String> name = required(m, "name", "a budget", problems).flatMap(n -> problems.text(n, "budget name"));
        String where = name.map(n -> "budget '" + n + "'").orElse("a budget");
        problems.rejectUnknownKeys(m, where, KEYS);
        name.ifPresent(n -> {
            YamlNode at = m.get("name").orElseThrow();
            YamlNode earlier = names.putIfAbsent(n, at);
            if (earlier != null) {
                problems.add(at, "duplicate budget name '" + n + "' (first defined at line " + earlier.line() + ")");
            }
            if (n.equals(BudgetRules.REQUESTED_RUN_BUDGET)) {
                problems.add(at, "budget name '" + n + "' is reserved for run caps requested by callers");
            }
        });

        Optional<String> scopeWord =
                required(m, "scope", where, problems).flatMap(n -> problems.oneOf(n, where + " scope", SCOPES));
        Optional<Scope> scope = scopeWord.flatMap(s -> readScope(s, m, where, problems));
        for (String subjectKey : SUBJECT_KEYS) {
            if (m.get(subjectKey).isPresent()
                    && scopeWord.isPresent()
                    && !scopeWord.get().equals(subjectKey)) {
                problems.add(
                        m.keyNode(subjectKey),
                        where + " has `" + subjectKey + ":` but its scope is " + scopeWord.get());
            }
        }
        if (m.get("per_run").isPresent()
                && scopeWord.isPresent()
                && !scopeWord.get().equals("run")) {
            problems.add(m.keyNode("per_run"), where + " has `per_run:` but its scope is " + scopeWord.get());
        }

        Optional<Window> window = required(m, "window", where, problems)
                .flatMap(n -> problems.oneOf(n, where + " window", WINDOWS))
                .map(w -> Window.valueOf(w.toUpperCase(Locale.ROOT)));
        Optional<Money> limit = required(m, "limit_usd", where, problems).flatMap(n -> limit(n, where, problems));
        Optional<ZoneId> zone = m.get("zone").isEmpty()
                ? Optional.of(ZoneOffset.UTC)
                : m.get("zone").flatMap(n -> zone(n, where, problems));
        Optional<Mode> mode = readMode(m, where, problems);
        if (name.isEmpty()
                || scope.isEmpty()
                || window.isEmpty()
                || limit.isEmpty()
                || zone.isEmpty()
                || mode.isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(new Budget(name.get(), scope.get(), window.get(), zone.get(), limit.get(), mode.get()));
    }

    private static Optional<Scope> readScope(String scope, YamlNode.Mapping m, String where, Problems problems) {
        if (scope.equals("global")) {
            return Optional.of(new Scope.Global());
        }
        if (scope.equals("run")) {
            Optional<YamlNode> run = m.get("run");
            Optional<Boolean> perRun = m.get("per_run").flatMap(n -> problems.bool(n, where + " per_run"));
            if (run.isPresent() && perRun.orElse(false)) {
                problems.add(m.keyNode("per_run"), where + " has both `run:` and `per_run: true`; pick one");
                return Optional.empty();
            }
            if (run.isPresent()) {
                return problems.text(run.get(), where + " run").map(Scope.Run::new);
            }
            if (perRun.orElse(false)) {
                return Optional.of(new Scope.EachRun());
            }
            if (m.get("per_run").isEmpty() || perRun.isPresent()) {
                problems.add(m, where + " with scope run needs `run: <run id>` or `per_run: true`");
            }
            return Optional.empty();
        }
        String key = scope;
        Optional<YamlNode> subject = m.get(key);
        if (subject.isEmpty()) {
            problems.add(m, where + " with scope " + scope + " needs `" + key + ": <name>`");
            return Optional.empty();
        }
        return problems.text(subject.get(), where + " " + key).map(s -> switch (scope) {
            case "key" -> new Scope.Key(s);
            case "team" -> new Scope.Team(s);
            default -> new Scope.TaskType(s);
        });
    }

    private static Optional<Mode> readMode(YamlNode.Mapping m, String where, Problems problems) {
        Optional<String> word = m.get("mode").isEmpty()
                ? Optional.of("hard")
                : m.get("mode").flatMap(n -> problems.oneOf(n, where + " mode", MODES));
        Optional<YamlNode> below = m.get("demote_below_priority");
        Optional<YamlNode> tier = m.get("demote_to_tier");
        if (word.isEmpty()) {
            return Optional.empty();
        }
        if (word.get().equals("hard")) {
            for (String k : List.of("demote_below_priority", "demote_to_tier")) {
                if (m.get(k).isPresent()) {
                    problems.add(m.keyNode(k), where + " is hard: `" + k + "` only applies to `mode: soft`");
                }
            }
            return Optional.of(new Mode.Hard());
        }
        if (below.isEmpty() && tier.isEmpty()) {
            return Optional.of(Mode.Soft.ALERT_ONLY);
        }
        if (below.isEmpty() || tier.isEmpty()) {
            YamlNode at = below.isPresent() ? m.keyNode("demote_below_priority") : m.keyNode("demote_to_tier");
            problems.add(at, where + " needs both `demote_below_priority` and `demote_to_tier` to demote");
            return Optional.empty();
        }
        Optional<Priority> p = problems.oneOf(below.get(), where + " demote_below_priority", PRIORITIES)
                .map(s -> Priority.valueOf(s.toUpperCase(Locale.ROOT)));
        Optional<String> t = problems.text(tier.get(), where + " demote_to_tier");
        if (p.isEmpty() || t.isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(new Mode.Soft(p.get(), t.get()));
    }

    private static Optional<Money> limit(YamlNode n, String where, Problems problems) {
        if (n instanceof YamlNode.Scalar s) {
            try {
                BigDecimal usd = new BigDecimal(s.text().replace("_", ""));
                if (usd.signum() <= 0) {
                    problems.add(n, where + " limit_usd must be positive, got " + s.text());
                    return Optional.empty();
                }
                return Optional.of(Money.ofUsd(usd));
            } catch (NumberFormatException e) {
                // fall through to the problem below
            } catch (IllegalArgumentException e) {
                problems.add(n, where + " limit_usd " + s.text() + " has more than 9 decimal places or is too large");
                return Optional.empty();
            }
        }
        problems.add(n, where + " limit_usd must be a USD amount such as 4.50, got " + Problems.describe(n));
        return Optional.empty();
    }

    private static Optional<ZoneId> zone(YamlNode n, String where, Problems problems) {
        return problems.text(n, where + " zone").flatMap(z -> {
            try {
                return Optional.of(ZoneId.of(z));
            } catch (DateTimeException e) {
                problems.add(n, where + " zone '" + z + "' is not a time zone; use e.g. UTC or Europe/Berlin");
                return Optional.empty();
            }
        });
    }

    private static Optional<YamlNode> required(YamlNode.Mapping m, String key, String where, Problems problems) {
        Optional<YamlNode> n = m.get(key);
        if (n.isEmpty()) {
            problems.add(m, where + " needs `" + key + "`");
        }
        return n;
    }
}
