package dev.tiergate.policy;

import dev.tiergate.config.ConfigException;
import dev.tiergate.config.Problems;
import dev.tiergate.config.YamlNode;
import dev.tiergate.config.YamlTree;
import dev.tiergate.pricing.ModelCatalog;
import dev.tiergate.pricing.ModelSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * Reads and validates a policy file against a model catalog.
 *
 * <p>Validation reports every problem at once, each as {@code FILE:LINE:COL: message}: bad YAML, unknown keys,
 * unknown tiers, models not in the catalog or retired, duplicate task types, caps that are not positive or
 * exceed a model's max output. An invalid policy never yields a {@link Policy}.
 */
public final class PolicyLoader {
    private static final Set<String> TOP_KEYS =
            Set.of("tiers", "default_tier", "default_max_tokens", "task_types", "rules", "models");
    private static final Set<String> TIER_KEYS = Set.of("model", "fallbacks");
    private static final Set<String> TASK_KEYS = Set.of("tier", "max_tokens", "priority", "description");
    private static final Set<String> RULE_KEYS = Set.of("when", "route_to");
    private static final Set<String> WHEN_KEYS = Set.of("input_tokens_over", "task_types");
    private static final Set<String> PRIORITIES = Set.of("low", "normal", "high");
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.:-]*");

    private PolicyLoader() {}

    /**
     * Reads the policy file at {@code path}.
     *
     * @param today the day against which model retirement is checked
     * @throws ConfigException listing every problem, if the file is missing or invalid
     */
    public static Policy load(Path path, ModelCatalog catalog, LocalDate today) {
        String text;
        try {
            text = Files.readString(path, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new ConfigException(
                    List.of(new dev.tiergate.config.ConfigProblem(path.toString(), 0, 0, "no such file")));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read policy " + path, e);
        }
        return parse(path.toString(), text, catalog, today);
    }

    /** Reads a policy from text; {@code source} names it in problems. */
    public static Policy parse(String source, String yaml, ModelCatalog catalog, LocalDate today) {
        Problems problems = new Problems(source);
        Optional<YamlNode.Mapping> root =
                YamlTree.parse(source, yaml, problems.sink()).flatMap(n -> problems.mapping(n, "the policy"));
        if (root.isEmpty()) {
            problems.throwIfAny();
            throw new IllegalStateException("unreachable: an unparsable policy always has a problem");
        }
        Policy policy = read(root.get(), source, catalog, today, problems);
        problems.throwIfAny();
        return policy;
    }

    private static Policy read(
            YamlNode.Mapping root, String source, ModelCatalog catalog, LocalDate today, Problems problems) {
        problems.rejectUnknownKeys(root, "the policy", TOP_KEYS);
        Map<String, Tier> tiers = new LinkedHashMap<>();
        Map<String, YamlNode> tierNodes = new LinkedHashMap<>();
        Optional<YamlNode> tiersNode = root.get("tiers");
        if (tiersNode.isEmpty()) {
            problems.add(root, "the policy needs `tiers:` (for example frontier and small)");
        }
        tiersNode.flatMap(n -> problems.mapping(n, "tiers")).ifPresent(m -> {
            if (m.entries().isEmpty()) {
                problems.add(m, "tiers must define at least one tier");
            }
            m.entries().forEach((name, node) -> {
                checkName(m.keyNode(name), "tier", name, problems);
                readTier(name, node, catalog, today, problems).ifPresent(t -> {
                    tiers.put(name, t);
                    tierNodes.put(name, node);
                });
            });
        });

        String defaultTier = root.get("default_tier")
                .flatMap(n -> problems.text(n, "default_tier").filter(t -> knownTier(t, n, tiersNode, tiers, problems)))
                .orElse(null);
        long defaultMax = root.get("default_max_tokens")
                .flatMap(n -> problems.wholeNumber(n, "default_max_tokens", 1, Long.MAX_VALUE))
                .orElse(0L);
        if (defaultTier != null && defaultMax > 0) {
            checkCap(
                    "default_max_tokens",
                    defaultMax,
                    tiers.get(defaultTier),
                    root.get("default_max_tokens").get(),
                    catalog,
                    problems);
        }

        Map<String, TaskPolicy> tasks = new LinkedHashMap<>();
        root.get("task_types")
                .flatMap(n -> problems.mapping(n, "task_types"))
                .ifPresent(m -> m.entries().forEach((name, node) -> {
                    checkName(m.keyNode(name), "task type", name, problems);
                    if (name.equals(Policy.UNCLASSIFIED)) {
                        problems.add(
                                m.keyNode(name),
                                "'" + Policy.UNCLASSIFIED
                                        + "' is reserved for requests without a task type; use default_tier and"
                                        + " default_max_tokens for it");
                    }
                    readTask(name, node, tiersNode, tiers, catalog, problems).ifPresent(t -> tasks.put(name, t));
                }));

        List<Rule> rules = new ArrayList<>();
        root.get("rules").flatMap(n -> problems.sequence(n, "rules")).ifPresent(seq -> {
            for (YamlNode item : seq.items()) {
                readRule(item, tiersNode, tiers, tasks, problems).ifPresent(rules::add);
            }
        });
        return new Policy(source, tiers, tasks, defaultTier, defaultMax, rules);
    }

    private static Optional<Tier> readTier(
            String name, YamlNode node, ModelCatalog catalog, LocalDate today, Problems problems) {
        String where = "tier '" + name + "'";
        Optional<YamlNode.Mapping> m = problems.mapping(node, where);
        if (m.isEmpty()) {
            return Optional.empty();
        }
        problems.rejectUnknownKeys(m.get(), where, TIER_KEYS);
        Optional<YamlNode> modelNode = m.get().get("model");
        if (modelNode.isEmpty()) {
            problems.add(m.get(), where + " needs `model`");
        }
        Optional<String> model = modelNode
                .flatMap(n -> problems.text(n, where + " model"))
                .filter(id -> knownModel(id, modelNode.get(), where + " model", catalog, today, problems));
        List<String> fallbacks = new ArrayList<>();
        m.get()
                .get("fallbacks")
                .flatMap(n -> problems.sequence(n, where + " fallbacks"))
                .ifPresent(seq -> {
                    for (YamlNode f : seq.items()) {
                        problems.text(f, where + " fallback")
                                .filter(id -> knownModel(id, f, where + " fallback", catalog, today, problems))
                                .ifPresent(fallbacks::add);
                    }
                });
        return model.map(id -> new Tier(
                name,
                catalog.require(id).id(),
                fallbacks.stream().map(f -> catalog.require(f).id()).toList()));
    }

    private static Optional<TaskPolicy> readTask(
            String name,
            YamlNode node,
            Optional<YamlNode> tiersNode,
            Map<String, Tier> tiers,
            ModelCatalog catalog,
            Problems problems) {
        String where = "task type '" + name + "'";
        Optional<YamlNode.Mapping> m = problems.mapping(node, where);
        if (m.isEmpty()) {
            return Optional.empty();
        }
        problems.rejectUnknownKeys(m.get(), where, TASK_KEYS);
        Optional<YamlNode> tierNode = m.get().get("tier");
        if (tierNode.isEmpty()) {
            problems.add(m.get(), where + " needs `tier`");
        }
        Optional<String> tier = tierNode.flatMap(
                n -> problems.text(n, where + " tier").filter(t -> knownTier(t, n, tiersNode, tiers, problems)));
        Optional<YamlNode> capNode = m.get().get("max_tokens");
        if (capNode.isEmpty()) {
            problems.add(m.get(), where + " needs `max_tokens` (the output cap is the point of a task type)");
        }
        Optional<Long> cap = capNode.flatMap(n -> positive(n, where + " max_tokens", problems));
        if (tier.isPresent() && cap.isPresent()) {
            checkCap(where + " max_tokens", cap.get(), tiers.get(tier.get()), capNode.get(), catalog, problems);
        }
        Priority priority = m.get()
                .get("priority")
                .flatMap(n -> problems.oneOf(n, where + " priority", PRIORITIES))
                .map(p -> Priority.valueOf(p.toUpperCase(Locale.ROOT)))
                .orElse(Priority.NORMAL);
        String description = m.get()
                .get("description")
                .flatMap(n -> problems.text(n, where + " description"))
                .orElse("");
        if (tier.isEmpty() || cap.isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(new TaskPolicy(name, tier.get(), cap.get(), priority, description));
    }

    private static Optional<Rule> readRule(
            YamlNode node,
            Optional<YamlNode> tiersNode,
            Map<String, Tier> tiers,
            Map<String, TaskPolicy> tasks,
            Problems problems) {
        Optional<YamlNode.Mapping> m = problems.mapping(node, "a rule");
        if (m.isEmpty()) {
            return Optional.empty();
        }
        problems.rejectUnknownKeys(m.get(), "a rule", RULE_KEYS);
        Optional<YamlNode> whenNode = m.get().get("when");
        Optional<YamlNode> toNode = m.get().get("route_to");
        if (whenNode.isEmpty()) {
            problems.add(m.get(), "a rule needs `when:` (e.g. { input_tokens_over: 150000 })");
        }
        if (toNode.isEmpty()) {
            problems.add(m.get(), "a rule needs `route_to:` a tier");
        }
        Optional<String> to = toNode.flatMap(
                n -> problems.text(n, "route_to").filter(t -> knownTier(t, n, tiersNode, tiers, problems)));
        Optional<YamlNode.Mapping> when = whenNode.flatMap(n -> problems.mapping(n, "when"));
        Optional<Long> over = Optional.empty();
        Set<String> types = new HashSet<>();
        if (when.isPresent()) {
            problems.rejectUnknownKeys(when.get(), "when", WHEN_KEYS);
            over = when.get()
                    .get("input_tokens_over")
                    .flatMap(n -> problems.wholeNumber(n, "input_tokens_over", 0, Long.MAX_VALUE));
            if (when.get().get("input_tokens_over").isEmpty()) {
                problems.add(when.get(), "when needs `input_tokens_over`");
            }
            when.get()
                    .get("task_types")
                    .flatMap(n -> problems.sequence(n, "when.task_types"))
                    .ifPresent(seq -> {
                        for (YamlNode t : seq.items()) {
                            problems.text(t, "when.task_types entry").ifPresent(name -> {
                                if (!tasks.containsKey(name)) {
                                    problems.add(
                                            t, "unknown task type '" + name + "' in rule; known: " + tasks.keySet());
                                }
                                types.add(name);
                            });
                        }
                    });
        }
        if (to.isEmpty() || over.isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(new Rule(node.line(), over.get(), types, to.get()));
    }

    private static boolean knownTier(
            String tier, YamlNode at, Optional<YamlNode> tiersNode, Map<String, Tier> tiers, Problems problems) {
        if (tiers.containsKey(tier)) {
            return true;
        }
        boolean declared = tiersNode
                .filter(n -> n instanceof YamlNode.Mapping)
                .map(n -> ((YamlNode.Mapping) n).entries().containsKey(tier))
                .orElse(false);
        if (!declared) {
            // A tier that is declared but invalid already has its own problem; don't report it twice.
            List<String> known = tiersNode
                    .filter(n -> n instanceof YamlNode.Mapping)
                    .map(n -> List.copyOf(((YamlNode.Mapping) n).entries().keySet()))
                    .orElse(List.of());
            problems.add(at, "unknown tier '" + tier + "'; tiers are " + known);
        }
        return false;
    }

    private static boolean knownModel(
            String id, YamlNode at, String what, ModelCatalog catalog, LocalDate today, Problems problems) {
        Optional<ModelSpec> spec = catalog.find(id);
        if (spec.isEmpty()) {
            problems.add(
                    at,
                    what + " '" + id + "' is not in the model catalog (" + catalog.date()
                            + "); see `tiergate models`, or add it under `models:`");
            return false;
        }
        if (spec.get().status().isRetiredOn(today)) {
            problems.add(at, what + " '" + id + "' is " + spec.get().status() + " and can no longer be called");
            return false;
        }
        return true;
    }

    private static void checkCap(
            String what, long cap, @Nullable Tier tier, YamlNode at, ModelCatalog catalog, Problems problems) {
        if (tier == null) {
            return;
        }
        List<String> models = new ArrayList<>();
        models.add(tier.model());
        models.addAll(tier.fallbacks());
        for (String id : models) {
            long max = catalog.require(id).maxOutput();
            if (cap > max) {
                problems.add(
                        at,
                        what + " " + cap + " is above the max output of " + id + " (" + max + ") in tier '"
                                + tier.name() + "'");
            }
        }
    }

    private static Optional<Long> positive(YamlNode n, String what, Problems problems) {
        if (n instanceof YamlNode.Scalar s) {
            try {
                long v = Long.parseLong(s.text().replace("_", ""));
                if (v <= 0) {
                    problems.add(n, what + " must be positive, got " + v);
                    return Optional.empty();
                }
                return Optional.of(v);
            } catch (NumberFormatException e) {
                // fall through
            }
        }
        problems.add(n, what + " must be a whole number of tokens, got " + Problems.describe(n));
        return Optional.empty();
    }

    private static void checkName(YamlNode at, String what, String name, Problems problems) {
        if (!NAME.matcher(name).matches()) {
            problems.add(
                    at,
                    what + " name '" + name
                            + "' must start with a letter or digit and use only letters, digits and _ . : -");
        }
    }
}
