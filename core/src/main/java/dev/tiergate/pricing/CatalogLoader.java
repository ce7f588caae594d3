package dev.tiergate.pricing;

import dev.tiergate.config.ConfigException;
import dev.tiergate.config.Problems;
import dev.tiergate.config.YamlNode;
import dev.tiergate.config.YamlTree;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Reads model catalogs from YAML: the bundled {@code models.yaml}, and users' additions and overrides.
 *
 * <p>Every problem is reported at once as {@code FILE:LINE:COL: message} through {@link ConfigException}.
 * A user entry with the id of a bundled model replaces it whole; a new id adds a model.
 */
public final class CatalogLoader {
    private static final String BUNDLED = "models.yaml";
    private static final Set<String> MODEL_KEYS = Set.of(
            "id",
            "aliases",
            "provider",
            "display_name",
            "status",
            "released",
            "retires",
            "retired_on",
            "context_window",
            "max_output",
            "tokenizer_factor",
            "prices",
            "bands",
            "speed_multipliers",
            "speed_unconfirmed",
            "unconfirmed",
            "source");
    private static final Set<String> PRICE_KEYS =
            Set.of("input", "cache_write_5m", "cache_write_1h", "cache_read", "output");
    private static final Set<String> BAND_KEYS = Set.of("prompt_tokens_over", "prices", "unconfirmed", "source");
    private static final Set<String> STATUSES = Set.of("current", "legacy", "deprecated", "retired");

    private CatalogLoader() {}

    /** The catalog bundled with this build. */
    public static ModelCatalog bundled() {
        try (InputStream in = CatalogLoader.class.getResourceAsStream(BUNDLED)) {
            if (in == null) {
                throw new IllegalStateException("bundled " + BUNDLED + " is missing from the classpath");
            }
            return parse("<bundled models.yaml>", new String(in.readAllBytes(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A whole catalog file: {@code catalog_date}, {@code modifiers}, {@code models}. */
    public static ModelCatalog parse(String source, String yaml) {
        Problems problems = new Problems(source);
        Optional<YamlNode.Mapping> root =
                YamlTree.parse(source, yaml, problems.sink()).flatMap(n -> problems.mapping(n, "the catalog"));
        LocalDate date = LocalDate.EPOCH;
        CatalogModifiers modifiers = new CatalogModifiers(Ratio.ONE, Map.of(), 0);
        List<ModelSpec> models = new ArrayList<>();
        if (root.isPresent()) {
            YamlNode.Mapping r = root.get();
            date = r.get("catalog_date")
                    .flatMap(n -> problems.date(n, "catalog_date"))
                    .orElse(date);
            modifiers = r.get("modifiers")
                    .flatMap(n -> problems.mapping(n, "modifiers"))
                    .map(m -> readModifiers(m, problems))
                    .orElse(modifiers);
            models = r.get("models").map(n -> readModels(n, problems)).orElse(List.of());
            if (r.get("models").isEmpty()) {
                problems.add(r, "the catalog has no `models:` list");
            }
        }
        problems.throwIfAny();
        return new ModelCatalog(date, modifiers, models);
    }

    /**
     * {@code base} with the models of a user's {@code models:} list added or replacing entries of the same id.
     *
     * @param modelsNode the value of the user's {@code models:} key
     * @param problems where problems in the user's file are recorded; the caller throws when done
     */
    public static ModelCatalog withOverrides(ModelCatalog base, YamlNode modelsNode, Problems problems) {
        List<ModelSpec> user = readModels(modelsNode, problems);
        Map<String, ModelSpec> merged = new LinkedHashMap<>();
        for (ModelSpec m : base.models()) {
            merged.put(m.id(), m);
        }
        for (ModelSpec m : user) {
            ModelSpec replaced = merged.get(m.id());
            // An override that lists no aliases keeps the bundled ones, so `claude-haiku-4-5` still resolves.
            if (replaced != null && m.aliases().isEmpty()) {
                m = new ModelSpec(
                        m.id(),
                        replaced.aliases(),
                        m.provider(),
                        m.displayName(),
                        m.status(),
                        m.contextWindow(),
                        m.maxOutput(),
                        m.prices(),
                        m.bands(),
                        m.speedMultipliers(),
                        m.tokenizerFactor(),
                        m.unconfirmed(),
                        m.source());
            }
            merged.put(m.id(), m);
        }
        return new ModelCatalog(base.date(), base.modifiers(), merged.values());
    }

    /** {@code base} with the models of a YAML file whose top level has a {@code models:} list. */
    public static ModelCatalog withOverrides(ModelCatalog base, String source, String yaml) {
        Problems problems = new Problems(source);
        Optional<YamlNode.Mapping> root =
                YamlTree.parse(source, yaml, problems.sink()).flatMap(n -> problems.mapping(n, "the file"));
        ModelCatalog result = base;
        if (root.isPresent()) {
            Optional<YamlNode> models = root.get().get("models");
            if (models.isPresent()) {
                result = withOverrides(base, models.get(), problems);
            }
        }
        problems.throwIfAny();
        return result;
    }

    private static CatalogModifiers readModifiers(YamlNode.Mapping m, Problems problems) {
        Ratio batch = m.get("batch_multiplier")
                .flatMap(n -> problems.nonNegativeDecimal(n, "modifiers.batch_multiplier"))
                .map(Ratio::of)
                .orElse(Ratio.ONE);
        Map<String, Ratio> geo = m.get("inference_geo_multipliers")
                .map(n -> readMultipliers(n, "modifiers.inference_geo_multipliers", problems))
                .orElse(Map.of());
        long search = m.get("web_search_usd_per_1k")
                .flatMap(n -> problems.nonNegativeDecimal(n, "modifiers.web_search_usd_per_1k"))
                .flatMap(usd -> nanos(usd, m, "web_search_usd_per_1k", problems))
                .orElse(0L);
        return new CatalogModifiers(batch, geo, search);
    }

    private static List<ModelSpec> readModels(YamlNode node, Problems problems) {
        List<ModelSpec> models = new ArrayList<>();
        Optional<YamlNode.Sequence> list = problems.sequence(node, "models");
        if (list.isEmpty()) {
            return models;
        }
        Map<String, YamlNode> seen = new LinkedHashMap<>();
        for (YamlNode item : list.get().items()) {
            problems.mapping(item, "a model entry")
                    .flatMap(m -> readModel(m, problems))
                    .ifPresent(spec -> {
                        Set<String> names = new HashSet<>(spec.aliases());
                        names.add(spec.id());
                        for (String name : names) {
                            YamlNode first = seen.putIfAbsent(name, item);
                            if (first != null) {
                                problems.add(
                                        item,
                                        "model id or alias '" + name + "' is defined twice (first at line "
                                                + first.line() + ")");
                            }
                        }
                        models.add(spec);
                    });
        }
        return models;
    }

    private static Optional<ModelSpec> readModel(YamlNode.Mapping m, Problems problems) {
        int before = problems.sorted().size();
        Optional<String> id = m.get("id").flatMap(n -> problems.text(n, "model id"));
        if (m.get("id").isEmpty()) {
            problems.add(m, "a model entry needs an `id`");
        }
        String where = "model '" + id.orElse("?") + "'";
        problems.rejectUnknownKeys(m, where, MODEL_KEYS);
        List<String> aliases = m.get("aliases")
                .map(n -> texts(n, where + " aliases", problems))
                .orElse(List.of());
        String provider = m.get("provider")
                .flatMap(n -> problems.text(n, where + " provider"))
                .orElse("anthropic");
        String display = m.get("display_name")
                .flatMap(n -> problems.text(n, where + " display_name"))
                .orElse(id.orElse("?"));
        ModelStatus status = readStatus(m, where, problems);
        long context = required(m, "context_window", where, problems)
                .flatMap(n -> problems.wholeNumber(n, where + " context_window", 1, Long.MAX_VALUE))
                .orElse(1L);
        long maxOutput = required(m, "max_output", where, problems)
                .flatMap(n -> problems.wholeNumber(n, where + " max_output", 1, Long.MAX_VALUE))
                .orElse(1L);
        BigDecimal factor = m.get("tokenizer_factor")
                .flatMap(n -> problems.nonNegativeDecimal(n, where + " tokenizer_factor"))
                .orElse(BigDecimal.ONE);
        if (factor.compareTo(BigDecimal.ONE) < 0) {
            problems.add(
                    m.get("tokenizer_factor").orElse(m), where + " tokenizer_factor must be at least 1, got " + factor);
        }
        Optional<PriceCard> prices =
                required(m, "prices", where, problems).flatMap(n -> readPrices(n, where + " prices", problems));
        Set<String> unconfirmed = new HashSet<>(m.get("unconfirmed")
                .map(n -> texts(n, where + " unconfirmed", problems))
                .orElse(List.of()));
        List<PriceBand> bands = new ArrayList<>();
        m.get("bands").flatMap(n -> problems.sequence(n, where + " bands")).ifPresent(seq -> {
            long previous = -1;
            for (int i = 0; i < seq.items().size(); i++) {
                YamlNode b = seq.items().get(i);
                Optional<PriceBand> band = readBand(b, where + " bands[" + i + "]", problems);
                if (band.isPresent()) {
                    if (band.get().promptTokensOver() <= previous) {
                        problems.add(b, where + " bands must be in ascending prompt_tokens_over order");
                    }
                    previous = band.get().promptTokensOver();
                    bands.add(band.get());
                    int index = i;
                    problems.mapping(b, "band")
                            .flatMap(bm -> bm.get("unconfirmed"))
                            .map(n -> texts(n, where + " band unconfirmed", problems))
                            .ifPresent(names -> names.forEach(f -> unconfirmed.add("bands[" + index + "]." + f)));
                }
            }
        });
        Map<String, Ratio> speeds = m.get("speed_multipliers")
                .map(n -> readMultipliers(n, where + " speed_multipliers", problems))
                .orElse(Map.of());
        if (m.get("speed_unconfirmed")
                .flatMap(n -> problems.bool(n, where + " speed_unconfirmed"))
                .orElse(false)) {
            unconfirmed.add("speed_multipliers");
        }
        String source = m.get("source")
                .flatMap(n -> problems.text(n, where + " source"))
                .orElse("user config");
        if (problems.sorted().size() > before || id.isEmpty() || prices.isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(new ModelSpec(
                id.get(),
                aliases,
                provider,
                display,
                status,
                context,
                maxOutput,
                prices.get(),
                bands,
                speeds,
                factor,
                unconfirmed,
                source));
    }

    private static ModelStatus readStatus(YamlNode.Mapping m, String where, Problems problems) {
        ModelStatus.Kind kind = m.get("status")
                .flatMap(n -> problems.oneOf(n, where + " status", STATUSES))
                .map(s -> ModelStatus.Kind.valueOf(s.toUpperCase(Locale.ROOT)))
                .orElse(ModelStatus.Kind.CURRENT);
        LocalDate date = null;
        if (kind == ModelStatus.Kind.DEPRECATED) {
            date = m.get("retires")
                    .flatMap(n -> problems.date(n, where + " retires"))
                    .orElse(null);
        } else if (kind == ModelStatus.Kind.RETIRED) {
            date = m.get("retired_on")
                    .flatMap(n -> problems.date(n, where + " retired_on"))
                    .orElse(null);
        }
        m.get("released").ifPresent(n -> problems.date(n, where + " released"));
        return new ModelStatus(kind, date);
    }

    private static Optional<PriceBand> readBand(YamlNode node, String where, Problems problems) {
        Optional<YamlNode.Mapping> b = problems.mapping(node, where);
        if (b.isEmpty()) {
            return Optional.empty();
        }
        problems.rejectUnknownKeys(b.get(), where, BAND_KEYS);
        Optional<Long> over = required(b.get(), "prompt_tokens_over", where, problems)
                .flatMap(n -> problems.wholeNumber(n, where + " prompt_tokens_over", 0, Long.MAX_VALUE));
        Optional<PriceCard> prices =
                required(b.get(), "prices", where, problems).flatMap(n -> readPrices(n, where + " prices", problems));
        if (over.isEmpty() || prices.isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(new PriceBand(over.get(), prices.get()));
    }

    private static Optional<PriceCard> readPrices(YamlNode node, String where, Problems problems) {
        Optional<YamlNode.Mapping> p = problems.mapping(node, where);
        if (p.isEmpty()) {
            return Optional.empty();
        }
        problems.rejectUnknownKeys(p.get(), where, PRICE_KEYS);
        Optional<Long> input = price(p.get(), "input", where, problems, true);
        Optional<Long> output = price(p.get(), "output", where, problems, true);
        if (input.isEmpty() || output.isEmpty()) {
            return Optional.empty();
        }
        // A provider without prompt caching has no cache prices: cache classes then bill as plain input.
        long w5 = price(p.get(), "cache_write_5m", where, problems, false).orElse(input.get());
        long w1 = price(p.get(), "cache_write_1h", where, problems, false).orElse(input.get());
        long read = price(p.get(), "cache_read", where, problems, false).orElse(input.get());
        return Optional.of(new PriceCard(input.get(), w5, w1, read, output.get()));
    }

    private static Optional<Long> price(
            YamlNode.Mapping p, String key, String where, Problems problems, boolean isRequired) {
        Optional<YamlNode> node = isRequired ? required(p, key, where, problems) : p.get(key);
        return node.flatMap(n -> problems.nonNegativeDecimal(n, where + "." + key))
                .flatMap(usd -> nanos(usd, node.get(), where + "." + key, problems));
    }

    /** USD (per million tokens, or per 1k searches) as an exact nano-USD count. */
    private static Optional<Long> nanos(BigDecimal usd, YamlNode at, String what, Problems problems) {
        try {
            return Optional.of(Money.ofUsd(usd).nanos());
        } catch (IllegalArgumentException e) {
            problems.add(at, what + " " + usd.toPlainString() + " has more than nine decimal places");
            return Optional.empty();
        }
    }

    private static Map<String, Ratio> readMultipliers(YamlNode node, String where, Problems problems) {
        Map<String, Ratio> out = new LinkedHashMap<>();
        problems.mapping(node, where)
                .ifPresent(m -> m.entries()
                        .forEach((k, v) -> problems.nonNegativeDecimal(v, where + "." + k)
                                .ifPresent(d -> out.put(k, Ratio.of(d)))));
        return out;
    }

    private static List<String> texts(YamlNode node, String where, Problems problems) {
        List<String> out = new ArrayList<>();
        problems.sequence(node, where)
                .ifPresent(s -> s.items()
                        .forEach(i -> problems.text(i, where + " entry").ifPresent(out::add)));
        return out;
    }

    private static Optional<YamlNode> required(YamlNode.Mapping m, String key, String where, Problems problems) {
        Optional<YamlNode> v = m.get(key);
        if (v.isEmpty()) {
            problems.add(m, where + " needs `" + key + "`");
        }
        return v;
    }
}
