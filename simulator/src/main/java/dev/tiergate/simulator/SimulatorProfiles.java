package dev.tiergate.simulator;

import dev.tiergate.config.ConfigException;
import dev.tiergate.config.ConfigProblem;
import dev.tiergate.config.Problems;
import dev.tiergate.config.YamlNode;
import dev.tiergate.config.YamlTree;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * How the simulated upstream behaves per model and per task type. Immutable and thread-safe.
 *
 * <p>A call's output length is drawn from the task type's {@link OutputLength} (lognormal), with the median
 * multiplied by the model's {@link Model#verbosity()}. Latency is the model's time to first token plus output
 * tokens at {@link Model#tokensPerSecond()}. Built-in values live in {@code profiles.yaml} beside this class; a
 * user's file ({@link #parse}, {@link #load}) overrides them entry by entry, and fields an entry leaves out keep the
 * value it overrides. See {@code docs/simulator.md}.
 *
 * @param models profiles by exact model id or by prefix pattern ending in {@code *}
 * @param defaultModel the profile of models no key matches
 * @param taskTypes output-length distributions by task type; always has {@link #UNCLASSIFIED}
 */
public record SimulatorProfiles(Map<String, Model> models, Model defaultModel, Map<String, OutputLength> taskTypes) {

    /** The task type of calls that name none, and the fallback distribution of unknown task types. */
    public static final String UNCLASSIFIED = "unclassified";

    // Never used: the constructor requires UNCLASSIFIED. It only spares NullAway a Map.get that cannot be null.
    private static final OutputLength FALLBACK_LENGTH = new OutputLength(400, 0.6);
    private static final String BUILT_IN_RESOURCE = "profiles.yaml";
    private static final Set<String> TOP_KEYS = Set.of("task_types", "default", "models");
    private static final Set<String> LENGTH_KEYS = Set.of("median", "sigma");
    private static final Set<String> MODEL_KEYS =
            Set.of("ttft_ms", "ttft_jitter_ms", "tokens_per_second", "verbosity", "cache_hit_rate", "failures");
    private static final Set<String> FAILURE_KEYS =
            Set.of("rate_limit", "overloaded", "mid_stream", "retry_after_seconds");

    public SimulatorProfiles {
        models = Map.copyOf(models);
        taskTypes = Map.copyOf(taskTypes);
        for (String key : models.keySet()) {
            int star = key.indexOf('*');
            if (key.isBlank() || (star >= 0 && star != key.length() - 1)) {
                throw new IllegalArgumentException(
                        "model key '" + key + "' must be a model id or a prefix ending in a single '*'");
            }
        }
        if (!taskTypes.containsKey(UNCLASSIFIED)) {
            throw new IllegalArgumentException(
                    "task types must include '" + UNCLASSIFIED + "', got " + taskTypes.keySet());
        }
    }

    /**
     * One model's simulated behaviour.
     *
     * @param ttftMillis median time to first token, simulated milliseconds
     * @param ttftJitterMillis the time to first token varies uniformly by up to this much either way (never below 0)
     * @param tokensPerSecond output speed after the first token, simulated
     * @param verbosity multiplies every task type's median output length: frontier models above 1, concise ones 1
     * @param cacheHitRate probability that a request with {@code cache_control} reads its prefix from the cache
     *     rather than writing it
     * @param failures injected failure rates
     */
    public record Model(
            long ttftMillis,
            long ttftJitterMillis,
            double tokensPerSecond,
            double verbosity,
            double cacheHitRate,
            Failures failures) {
        public Model {
            if (ttftMillis < 0 || ttftJitterMillis < 0) {
                throw new IllegalArgumentException("ttft_ms and ttft_jitter_ms must not be negative, got " + ttftMillis
                        + " and " + ttftJitterMillis);
            }
            requirePositive("tokens_per_second", tokensPerSecond);
            requirePositive("verbosity", verbosity);
            requireProbability("cache_hit_rate", cacheHitRate);
        }

        /** This profile with other failure rates. */
        public Model withFailures(Failures other) {
            return new Model(ttftMillis, ttftJitterMillis, tokensPerSecond, verbosity, cacheHitRate, other);
        }
    }

    /**
     * Injected failure rates, each a probability per call, drawn from the call's seeded randomness.
     *
     * @param rateLimit HTTP 429 {@code rate_limit_error}
     * @param overloaded HTTP 529 {@code overloaded_error}
     * @param midStream a streamed call sends HTTP 200, some tokens, then an {@code error} event
     *     ({@code overloaded_error}); applies to streamed calls only
     * @param retryAfterSeconds the {@code retry-after} header of a 429; 0 sends none
     */
    public record Failures(double rateLimit, double overloaded, double midStream, long retryAfterSeconds) {
        /** No injected failures. */
        public static final Failures NONE = new Failures(0, 0, 0, 0);

        public Failures {
            requireProbability("rate_limit", rateLimit);
            requireProbability("overloaded", overloaded);
            requireProbability("mid_stream", midStream);
            if (rateLimit + overloaded + midStream > 1.0) {
                throw new IllegalArgumentException("failure rates must add up to at most 1, got rate_limit " + rateLimit
                        + " + overloaded " + overloaded + " + mid_stream " + midStream);
            }
            if (retryAfterSeconds < 0) {
                throw new IllegalArgumentException(
                        "retry_after_seconds must not be negative, got " + retryAfterSeconds);
            }
        }
    }

    /**
     * A lognormal output length: {@code median * exp(sigma * z)} tokens for a standard normal {@code z}, at least 1.
     *
     * @param median tokens
     * @param sigma spread of the natural log of the length; 0 gives always the median
     */
    public record OutputLength(double median, double sigma) {
        public OutputLength {
            requirePositive("median", median);
            if (!(sigma >= 0) || Double.isInfinite(sigma)) {
                throw new IllegalArgumentException("sigma must be a finite number >= 0, got " + sigma);
            }
        }
    }

    /** The built-in profiles: every Anthropic model family in the bundled catalog, and a default. */
    public static SimulatorProfiles builtIn() {
        return BuiltIn.PROFILES;
    }

    /**
     * The built-in profiles overridden by a YAML file's entries.
     *
     * @throws ConfigException listing every problem, each located, if the file is missing or invalid
     */
    public static SimulatorProfiles load(Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new ConfigException(List.of(new ConfigProblem(file.toString(), 0, 0, "no such file")));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read simulator profiles " + file, e);
        }
        return parse(file.toString(), text);
    }

    /**
     * The built-in profiles overridden by YAML text; {@code source} names it in problems.
     *
     * @throws ConfigException listing every problem, each located
     */
    public static SimulatorProfiles parse(String source, String yaml) {
        return read(source, yaml, builtIn());
    }

    /**
     * The profile of {@code model}: an exact key, else the longest matching {@code prefix*} key, else
     * {@link #defaultModel()}.
     */
    public Model forModel(String model) {
        return keyFor(model).map(models::get).orElse(defaultModel);
    }

    /** The key of {@link #models()} that applies to {@code model}; empty when the default applies. */
    public Optional<String> keyFor(String model) {
        if (models.containsKey(model)) {
            return Optional.of(model);
        }
        String best = null;
        for (String key : models.keySet()) {
            if (key.endsWith("*")
                    && model.startsWith(key.substring(0, key.length() - 1))
                    && (best == null || key.length() > best.length())) {
                best = key;
            }
        }
        return Optional.ofNullable(best);
    }

    /** The output-length distribution of {@code taskType}; unknown types get {@link #UNCLASSIFIED}'s. */
    public OutputLength forTaskType(String taskType) {
        OutputLength length = taskTypes.get(taskType);
        return length != null ? length : taskTypes.getOrDefault(UNCLASSIFIED, FALLBACK_LENGTH);
    }

    /** These profiles with {@code failures} on every model and the default (e.g. from the command line). */
    public SimulatorProfiles withFailures(Failures failures) {
        Map<String, Model> replaced = new HashMap<>();
        models.forEach((key, m) -> replaced.put(key, m.withFailures(failures)));
        return new SimulatorProfiles(replaced, defaultModel.withFailures(failures), taskTypes);
    }

    private static final class BuiltIn {
        static final SimulatorProfiles PROFILES = readBuiltIn();

        private static SimulatorProfiles readBuiltIn() {
            try (InputStream in = SimulatorProfiles.class.getResourceAsStream(BUILT_IN_RESOURCE)) {
                if (in == null) {
                    throw new IllegalStateException(
                            "missing resource " + BUILT_IN_RESOURCE + " beside " + SimulatorProfiles.class.getName());
                }
                return read(BUILT_IN_RESOURCE, new String(in.readAllBytes(), StandardCharsets.UTF_8), null);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    /** Reads {@code yaml} over {@code base}; without a base, every field must be given. */
    private static SimulatorProfiles read(String source, String yaml, @Nullable SimulatorProfiles base) {
        Problems problems = new Problems(source);
        Optional<YamlNode> parsed = YamlTree.parse(source, yaml, problems.sink());
        if (parsed.isEmpty()) {
            problems.throwIfAny();
            throw new IllegalStateException("unreachable: unparsable YAML always has a problem");
        }
        if (parsed.get() instanceof YamlNode.Null && base != null) {
            return base;
        }
        Optional<YamlNode.Mapping> root = problems.mapping(parsed.get(), "the simulator profiles");
        if (root.isEmpty()) {
            problems.throwIfAny();
        }
        YamlNode.Mapping r = root.orElseThrow();
        problems.rejectUnknownKeys(r, "the simulator profiles", TOP_KEYS);

        Map<String, OutputLength> lengths = new HashMap<>(base != null ? base.taskTypes() : Map.of());
        r.get("task_types")
                .flatMap(n -> problems.mapping(n, "task_types"))
                .ifPresent(m -> m.entries().forEach((name, node) -> {
                    OutputLength over = lengths.get(name);
                    if (over == null && base != null) {
                        over = base.forTaskType(name);
                    }
                    OutputLength read = readLength("task_types." + name, node, over, problems);
                    if (read != null) {
                        lengths.put(name, read);
                    }
                }));
        if (!lengths.containsKey(UNCLASSIFIED)) {
            problems.add(r, "task_types must define '" + UNCLASSIFIED + "'");
        }

        Model defaultModel = base != null ? base.defaultModel() : null;
        Optional<YamlNode> defaultNode = r.get("default");
        if (defaultNode.isPresent()) {
            Model read = readModel("default", defaultNode.get(), defaultModel, problems);
            // On a problem keep the base default, so model entries are not blamed for it as well.
            defaultModel = read != null ? read : defaultModel;
        } else if (base == null) {
            problems.add(r, "the simulator profiles need `default:`");
        }

        Map<String, Model> models = new HashMap<>(base != null ? base.models() : Map.of());
        Model fallback = defaultModel;
        r.get("models")
                .flatMap(n -> problems.mapping(n, "models"))
                .ifPresent(m -> m.entries().forEach((key, node) -> {
                    int star = key.indexOf('*');
                    if (star >= 0 && star != key.length() - 1) {
                        problems.add(
                                m.keyNode(key),
                                "model key '" + key + "' must be a model id or a prefix ending" + " in a single '*'");
                        return;
                    }
                    Model over = models.getOrDefault(key, fallback);
                    Model read = readModel("models." + key, node, over, problems);
                    if (read != null) {
                        models.put(key, read);
                    }
                }));
        problems.throwIfAny();
        if (defaultModel == null) {
            throw new IllegalStateException("unreachable: a missing default always has a problem");
        }
        return new SimulatorProfiles(models, defaultModel, lengths);
    }

    private static @Nullable OutputLength readLength(
            String where, YamlNode node, @Nullable OutputLength over, Problems problems) {
        Optional<YamlNode.Mapping> m = problems.mapping(node, where);
        if (m.isEmpty()) {
            return null;
        }
        problems.rejectUnknownKeys(m.get(), where, LENGTH_KEYS);
        Double median = decimal(m.get(), "median", where, over == null ? null : over.median(), problems);
        Double sigma = decimal(m.get(), "sigma", where, over == null ? null : over.sigma(), problems);
        if (median == null || sigma == null) {
            return null;
        }
        if (median <= 0) {
            problems.add(m.get().get("median").orElse(m.get()), where + ".median must be above 0, got " + median);
            return null;
        }
        return new OutputLength(median, sigma);
    }

    private static @Nullable Model readModel(String where, YamlNode node, @Nullable Model over, Problems problems) {
        Optional<YamlNode.Mapping> found = problems.mapping(node, where);
        if (found.isEmpty()) {
            return null;
        }
        YamlNode.Mapping m = found.get();
        problems.rejectUnknownKeys(m, where, MODEL_KEYS);
        Long ttft = whole(m, "ttft_ms", where, over == null ? null : over.ttftMillis(), problems);
        Long jitter = whole(m, "ttft_jitter_ms", where, over == null ? null : over.ttftJitterMillis(), problems);
        Double tps = decimal(m, "tokens_per_second", where, over == null ? null : over.tokensPerSecond(), problems);
        Double verbosity = decimal(m, "verbosity", where, over == null ? null : over.verbosity(), problems);
        Double hitRate = decimal(m, "cache_hit_rate", where, over == null ? null : over.cacheHitRate(), problems);
        Failures failures = over == null ? null : over.failures();
        Optional<YamlNode> failuresNode = m.get("failures");
        if (failuresNode.isPresent()) {
            failures = readFailures(where + ".failures", failuresNode.get(), failures, problems);
        } else if (over == null) {
            problems.add(m, where + " needs `failures:`");
        }
        boolean ok = true;
        if (tps != null && tps <= 0) {
            problems.add(m.get("tokens_per_second").orElse(m), where + ".tokens_per_second must be above 0");
            ok = false;
        }
        if (verbosity != null && verbosity <= 0) {
            problems.add(m.get("verbosity").orElse(m), where + ".verbosity must be above 0");
            ok = false;
        }
        if (hitRate != null && hitRate > 1) {
            problems.add(
                    m.get("cache_hit_rate").orElse(m), where + ".cache_hit_rate must be at most 1, got " + hitRate);
            ok = false;
        }
        if (!ok || ttft == null || jitter == null || tps == null || verbosity == null || hitRate == null) {
            return null;
        }
        return failures == null ? null : new Model(ttft, jitter, tps, verbosity, hitRate, failures);
    }

    private static @Nullable Failures readFailures(
            String where, YamlNode node, @Nullable Failures over, Problems problems) {
        Optional<YamlNode.Mapping> found = problems.mapping(node, where);
        if (found.isEmpty()) {
            return null;
        }
        YamlNode.Mapping m = found.get();
        problems.rejectUnknownKeys(m, where, FAILURE_KEYS);
        Failures base = over != null ? over : Failures.NONE;
        Double rateLimit = decimal(m, "rate_limit", where, base.rateLimit(), problems);
        Double overloaded = decimal(m, "overloaded", where, base.overloaded(), problems);
        Double midStream = decimal(m, "mid_stream", where, base.midStream(), problems);
        Long retryAfter = whole(m, "retry_after_seconds", where, base.retryAfterSeconds(), problems);
        if (rateLimit == null || overloaded == null || midStream == null || retryAfter == null) {
            return null;
        }
        if (rateLimit > 1 || overloaded > 1 || midStream > 1 || rateLimit + overloaded + midStream > 1) {
            problems.add(
                    m,
                    where + ": rates must each be in [0, 1] and add up to at most 1, got rate_limit " + rateLimit
                            + " + overloaded " + overloaded + " + mid_stream " + midStream);
            return null;
        }
        return new Failures(rateLimit, overloaded, midStream, retryAfter);
    }

    private static @Nullable Double decimal(
            YamlNode.Mapping m, String key, String where, @Nullable Double fallback, Problems problems) {
        Optional<YamlNode> node = m.get(key);
        if (node.isEmpty()) {
            if (fallback == null) {
                problems.add(m, where + " needs `" + key + ":`");
            }
            return fallback;
        }
        return problems.nonNegativeDecimal(node.get(), where + "." + key)
                .map(BigDecimal::doubleValue)
                .orElse(null);
    }

    private static @Nullable Long whole(
            YamlNode.Mapping m, String key, String where, @Nullable Long fallback, Problems problems) {
        Optional<YamlNode> node = m.get(key);
        if (node.isEmpty()) {
            if (fallback == null) {
                problems.add(m, where + " needs `" + key + ":`");
            }
            return fallback;
        }
        return problems.wholeNumber(node.get(), where + "." + key, 0, Integer.MAX_VALUE)
                .orElse(null);
    }

    private static void requirePositive(String what, double value) {
        if (!(value > 0) || Double.isInfinite(value)) {
            throw new IllegalArgumentException(what + " must be a finite number above 0, got " + value);
        }
    }

    private static void requireProbability(String what, double value) {
        if (!(value >= 0 && value <= 1)) {
            throw new IllegalArgumentException(what + " must be a probability in [0, 1], got " + value);
        }
    }
}
