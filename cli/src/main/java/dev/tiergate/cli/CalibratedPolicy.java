package dev.tiergate.cli;

import static dev.tiergate.cli.CalibrateCommand.yamlScalar;

import dev.tiergate.calibration.Decision;
import dev.tiergate.calibration.Evidence;
import dev.tiergate.calibration.TaskTypeCalibration;
import dev.tiergate.config.ConfigException;
import dev.tiergate.policy.Policy;
import dev.tiergate.policy.PolicyLoader;
import dev.tiergate.policy.Priority;
import dev.tiergate.policy.Rule;
import dev.tiergate.policy.TaskPolicy;
import dev.tiergate.policy.Tier;
import dev.tiergate.pricing.ModelCatalog;
import dev.tiergate.pricing.ModelSpec;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Calibration against a policy: which model each evidence task type uses today, and the policy rewritten so that
 * every task type whose recommendation is a switch routes to a tier served by the recommended model.
 */
final class CalibratedPolicy {

    /** Tier and task type names the policy loader accepts (as {@code PolicyLoader}'s name check). */
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.:-]*");

    /** How an evidence task type is routed by the policy today. */
    record Current(String taskType, String tier, String model, boolean viaDefaultTier) {}

    /** An evidence task type that is not calibrated, and why. */
    record Skipped(String taskType, String reason) {}

    /** What to calibrate: the current model per task type (in the evidence's spelling) and what was skipped. */
    record Plan(Map<String, Current> current, List<Skipped> skipped, List<String> policyTypesWithoutEvidence) {
        Plan {
            current = Map.copyOf(current);
            skipped = List.copyOf(skipped);
            policyTypesWithoutEvidence = List.copyOf(policyTypesWithoutEvidence);
        }

        Map<String, String> currentModels() {
            Map<String, String> m = new TreeMap<>();
            current.forEach((type, c) -> m.put(type, c.model()));
            return m;
        }
    }

    /** One task type's outcome in the written policy. */
    record Change(String taskType, boolean switched, String text) {}

    /** The written policy text and what happened to each calibrated task type. */
    record Written(String yaml, List<Change> changes) {}

    private CalibratedPolicy() {}

    /**
     * Maps each evidence task type to the model its tier routes to today: the task type's own tier, else the
     * default tier; types with neither are skipped. The model is spelled as in the evidence when the evidence
     * names it by an alias.
     */
    static Plan plan(Evidence ev, Policy policy, ModelCatalog catalog) {
        Map<String, Current> current = new LinkedHashMap<>();
        List<Skipped> skipped = new ArrayList<>();
        for (String type : ev.taskTypes()) {
            TaskPolicy task = policy.taskTypes().get(type);
            Optional<String> tier = task != null ? Optional.of(task.tier()) : policy.defaultTier();
            if (tier.isEmpty()) {
                skipped.add(new Skipped(
                        type,
                        "not in policy " + policy.source() + ", which has no default_tier; add it under task_types"));
                continue;
            }
            Tier routed = policy.tiers().get(tier.get());
            if (routed == null) {
                throw new IllegalStateException("a loaded policy routes to tier '" + tier.get() + "' it lacks");
            }
            String model = routed.model();
            current.put(type, new Current(type, tier.get(), evidenceSpelling(ev, type, model, catalog), task == null));
        }
        List<String> withoutEvidence = policy.taskTypes().keySet().stream()
                .filter(t -> !ev.taskTypes().contains(t))
                .toList();
        return new Plan(current, skipped, withoutEvidence);
    }

    private static String evidenceSpelling(Evidence ev, String type, String model, ModelCatalog catalog) {
        for (String m : ev.models(type)) {
            if (m.equals(model)
                    || catalog.find(m).map(s -> s.id().equals(model)).orElse(false)) {
                return m;
            }
        }
        return model;
    }

    /**
     * The input policy with each switched task type moved to a tier served by its recommended model (an existing
     * tier with that model whose models all accept the type's cap, else a new {@code calibrated-<model>} tier).
     * Task types routed by the default tier get their own entry, capped at {@code default_max_tokens} or else the
     * model's max output. A switch that would make the policy invalid (model not in the catalog or retired, cap
     * above its max output, task type name not allowed) is not applied, and a comment says why.
     *
     * @param header comment lines (without {@code #}) to put first
     * @param evidenceComments per task type, comment lines (without {@code #}) with the evidence
     * @throws CliException if the written policy does not load, listing its problems (a bug, not bad input)
     */
    static Written write(
            Policy policy,
            Plan plan,
            List<TaskTypeCalibration> results,
            ModelCatalog catalog,
            LocalDate today,
            List<String> header,
            Map<String, List<String>> evidenceComments) {
        Map<String, Tier> tiers = new LinkedHashMap<>(policy.tiers());
        Map<String, TaskPolicy> tasks = new LinkedHashMap<>(policy.taskTypes());
        Map<String, List<String>> comments = new LinkedHashMap<>();
        List<String> addedTiers = new ArrayList<>();
        List<Change> changes = new ArrayList<>();
        for (TaskTypeCalibration r : results) {
            String type = r.taskType();
            Current cur = plan.current().get(type);
            if (cur == null) {
                continue;
            }
            List<String> notes = new ArrayList<>(evidenceComments.getOrDefault(type, List.of()));
            comments.put(type, notes);
            if (!(r.decision() instanceof Decision.Switch)) {
                changes.add(new Change(type, false, "keep tier '" + cur.tier() + "' (" + cur.model() + ")"));
                continue;
            }
            String rec = r.recommendedModel();
            TaskPolicy task = tasks.get(type);
            long cap = task != null
                    ? task.maxTokens()
                    : policy.defaultMaxTokens() > 0
                            ? policy.defaultMaxTokens()
                            : catalog.find(rec).map(ModelSpec::maxOutput).orElse(1L);
            Optional<String> why = whyNot(type, rec, cap, catalog, today);
            if (why.isPresent()) {
                String text = "not switched to " + rec + ": " + why.get() + "; kept tier '" + cur.tier() + "' ("
                        + cur.model() + ")";
                notes.add(text);
                changes.add(new Change(type, false, text));
                continue;
            }
            ModelSpec spec = catalog.require(rec);
            String tierName = reusableTier(tiers, spec.id(), cap, catalog).orElseGet(() -> {
                String name = newTierName(tiers, spec.id());
                tiers.put(name, new Tier(name, spec.id(), List.of()));
                addedTiers.add(name);
                return name;
            });
            if (task != null) {
                tasks.put(type, new TaskPolicy(type, tierName, cap, task.priority(), task.description()));
            } else {
                notes.add("added by calibrate: was routed by default_tier '" + cur.tier() + "'; max_tokens is "
                        + (policy.defaultMaxTokens() > 0 ? "default_max_tokens" : "the max output of " + spec.id()));
                tasks.put(type, new TaskPolicy(type, tierName, cap, Priority.NORMAL, ""));
            }
            changes.add(new Change(
                    type,
                    true,
                    "switched from tier '" + cur.tier() + "' (" + cur.model() + ") to tier '" + tierName + "' ("
                            + spec.id() + ")"));
        }
        String yaml = yaml(policy, tiers, addedTiers, tasks, comments, header);
        try {
            PolicyLoader.parse("the calibrated policy", yaml, catalog, today);
        } catch (ConfigException e) {
            throw new CliException("bug: the calibrated policy does not load; nothing written:\n" + e.lines(), 1);
        }
        return new Written(yaml, changes);
    }

    /** Why switching {@code type} to {@code model} would make the policy invalid, if it would. */
    private static Optional<String> whyNot(String type, String model, long cap, ModelCatalog catalog, LocalDate today) {
        Optional<ModelSpec> spec = catalog.find(model);
        if (spec.isEmpty()) {
            return Optional.of("the model is not in the model catalog (" + catalog.date()
                    + "), so a policy cannot route to it; add it with --models FILE");
        }
        if (spec.get().status().isRetiredOn(today)) {
            return Optional.of("the model is " + spec.get().status() + " and can no longer be called");
        }
        if (cap > spec.get().maxOutput()) {
            return Optional.of("max_tokens " + cap + " is above its max output "
                    + spec.get().maxOutput());
        }
        if (!NAME.matcher(type).matches() || type.equals(Policy.UNCLASSIFIED)) {
            return Optional.of("'" + type + "' is not a valid policy task type name (letters, digits, _ . : -)");
        }
        return Optional.empty();
    }

    /** The first tier served by {@code modelId} whose models (fallbacks too) all accept a cap of {@code cap}. */
    private static Optional<String> reusableTier(Map<String, Tier> tiers, String modelId, long cap, ModelCatalog c) {
        return tiers.values().stream()
                .filter(t -> t.model().equals(modelId))
                .filter(t -> c.require(t.model()).maxOutput() >= cap
                        && t.fallbacks().stream().allMatch(f -> c.require(f).maxOutput() >= cap))
                .map(Tier::name)
                .findFirst();
    }

    private static String newTierName(Map<String, Tier> tiers, String modelId) {
        String base = "calibrated-" + modelId.replaceAll("[^A-Za-z0-9_.:-]", "-");
        String name = base;
        for (int i = 2; tiers.containsKey(name); i++) {
            name = base + "-" + i;
        }
        return name;
    }

    private static String yaml(
            Policy policy,
            Map<String, Tier> tiers,
            List<String> addedTiers,
            Map<String, TaskPolicy> tasks,
            Map<String, List<String>> comments,
            List<String> header) {
        StringBuilder sb = new StringBuilder();
        header.forEach(line -> comment(sb, "", line));
        sb.append("tiers:\n");
        for (Tier t : tiers.values()) {
            if (addedTiers.contains(t.name())) {
                comment(sb, "  ", "added by calibrate");
            }
            sb.append("  ").append(yamlScalar(t.name())).append(":\n");
            sb.append("    model: ").append(yamlScalar(t.model())).append('\n');
            if (!t.fallbacks().isEmpty()) {
                sb.append("    fallbacks: ").append(flowList(t.fallbacks())).append('\n');
            }
        }
        policy.defaultTier()
                .ifPresent(
                        t -> sb.append("default_tier: ").append(yamlScalar(t)).append('\n'));
        if (policy.defaultMaxTokens() > 0) {
            sb.append("default_max_tokens: ").append(policy.defaultMaxTokens()).append('\n');
        }
        if (!tasks.isEmpty()) {
            sb.append("task_types:\n");
        }
        for (TaskPolicy t : tasks.values()) {
            sb.append("  ").append(yamlScalar(t.name())).append(":\n");
            comments.getOrDefault(t.name(), List.of()).forEach(line -> comment(sb, "    ", line));
            sb.append("    tier: ").append(yamlScalar(t.tier())).append('\n');
            sb.append("    max_tokens: ").append(t.maxTokens()).append('\n');
            sb.append("    priority: ")
                    .append(t.priority().name().toLowerCase(Locale.ROOT))
                    .append('\n');
            if (!t.description().isEmpty()) {
                sb.append("    description: ")
                        .append(yamlScalar(t.description()))
                        .append('\n');
            }
        }
        // Comments of calibrated types the written policy does not list (kept on the default tier).
        comments.forEach((type, lines) -> {
            if (!tasks.containsKey(type)) {
                comment(sb, "", type + " (stays on default_tier):");
                lines.forEach(line -> comment(sb, "  ", line));
            }
        });
        if (!policy.rules().isEmpty()) {
            sb.append("rules:\n");
        }
        for (Rule r : policy.rules()) {
            sb.append("  - when: { input_tokens_over: ").append(r.inputTokensOver());
            if (!r.taskTypes().isEmpty()) {
                sb.append(", task_types: ")
                        .append(flowList(r.taskTypes().stream().sorted().toList()));
            }
            sb.append(" }\n");
            sb.append("    route_to: ").append(yamlScalar(r.routeTo())).append('\n');
        }
        return sb.toString();
    }

    private static String flowList(List<String> items) {
        return items.stream().map(CalibrateCommand::yamlScalar).collect(Collectors.joining(", ", "[", "]"));
    }

    private static void comment(StringBuilder sb, String indent, String text) {
        sb.append(indent)
                .append("#")
                .append(text.isEmpty() ? "" : " " + text.replace('\n', ' ').replace('\r', ' '))
                .append('\n');
    }
}
