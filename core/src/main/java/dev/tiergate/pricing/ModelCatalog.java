package dev.tiergate.pricing;

import java.math.BigInteger;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;

/**
 * The models Tiergate knows, with their prices, and exact cost arithmetic over them.
 *
 * <p>Load the bundled catalog with {@link CatalogLoader#bundled()}; users add or override models in their own
 * YAML ({@link CatalogLoader#withOverrides}). Immutable and thread-safe; lookups and costs allocate little and
 * take well under a microsecond.
 */
public final class ModelCatalog {
    private static final long TOKENS_PER_MILLION = 1_000_000L;

    private final LocalDate date;
    private final CatalogModifiers modifiers;
    private final Map<String, ModelSpec> byId;
    private final Map<String, ModelSpec> byIdOrAlias;
    private final List<ModelSpec> ordered;

    ModelCatalog(LocalDate date, CatalogModifiers modifiers, Collection<ModelSpec> models) {
        this.date = date;
        this.modifiers = modifiers;
        Map<String, ModelSpec> ids = new LinkedHashMap<>();
        Map<String, ModelSpec> all = new LinkedHashMap<>();
        for (ModelSpec m : models) {
            ids.put(m.id(), m);
        }
        for (ModelSpec m : ids.values()) {
            all.put(m.id(), m);
        }
        // Aliases never shadow a real id: an override that adds model "x" wins over another model's alias "x".
        for (ModelSpec m : ids.values()) {
            for (String alias : m.aliases()) {
                all.putIfAbsent(alias, m);
            }
        }
        this.byId = Map.copyOf(ids);
        this.byIdOrAlias = Map.copyOf(all);
        this.ordered = List.copyOf(ids.values());
    }

    /** The date the prices were compiled on. */
    public LocalDate date() {
        return date;
    }

    /** Cross-model price rules. */
    public CatalogModifiers modifiers() {
        return modifiers;
    }

    /** Every model, in catalog order (current first). */
    public List<ModelSpec> models() {
        return ordered;
    }

    /** The model with this id or alias. */
    public Optional<ModelSpec> find(String idOrAlias) {
        return Optional.ofNullable(byIdOrAlias.get(idOrAlias));
    }

    /**
     * The model with this id or alias.
     *
     * @throws PricingException listing the nearest known ids, if there is none
     */
    public ModelSpec require(String idOrAlias) {
        ModelSpec m = byIdOrAlias.get(idOrAlias);
        if (m == null) {
            throw new PricingException("unknown model '" + idOrAlias + "'; the catalog (" + date + ") has: "
                    + new TreeSet<>(byId.keySet()) + ". Add it under `models:` in your config.");
        }
        return m;
    }

    /**
     * The exact cost of a call.
     *
     * @param model id or alias
     * @param usage token counts of the call
     * @param options batch, geography and speed as billed
     * @throws PricingException if the model is unknown or billed at a speed it has no price for
     */
    public Cost cost(String model, Usage usage, CostOptions options) {
        ModelSpec spec = require(model);
        List<String> rules = new ArrayList<>(3);
        long prompt = usage.promptTokens();
        Optional<PriceBand> band = spec.bandFor(prompt);
        PriceCard card = band.map(PriceBand::prices).orElse(spec.prices());
        band.ifPresent(b -> rules.add(
                "prompt of " + prompt + " tokens is over " + b.promptTokensOver() + ": whole request at band prices"));
        Ratio m = Ratio.ONE;
        if (options.batch()) {
            m = m.times(modifiers.batchMultiplier());
            rules.add("batch x" + modifiers.batchMultiplier());
        }
        if (!options.inferenceGeo().isEmpty() && !options.inferenceGeo().equals("global")) {
            Ratio geo = modifiers.inferenceGeoMultipliers().get(options.inferenceGeo());
            if (geo == null) {
                throw new PricingException("inference_geo '" + options.inferenceGeo()
                        + "' has no price multiplier; known: "
                        + new TreeSet<>(modifiers.inferenceGeoMultipliers().keySet()));
            }
            m = m.times(geo);
            rules.add("inference_geo " + options.inferenceGeo() + " x" + geo);
        }
        if (!options.speed().equals("standard")) {
            Ratio speed = spec.speedMultipliers().get(options.speed());
            if (speed == null) {
                throw new PricingException("model " + spec.id() + " has no price for speed '" + options.speed()
                        + "'; known: " + new TreeSet<>(spec.speedMultipliers().keySet()));
            }
            m = m.times(speed);
            rules.add("speed " + options.speed() + " x" + speed);
        }
        Money input = classCost(usage.inputTokens(), card.inputPerMTok(), m);
        Money w5 = classCost(usage.cacheWrite5mTokens(), card.cacheWrite5mPerMTok(), m);
        Money w1 = classCost(usage.cacheWrite1hTokens(), card.cacheWrite1hPerMTok(), m);
        Money read = classCost(usage.cacheReadTokens(), card.cacheReadPerMTok(), m);
        Money output = classCost(usage.outputTokens(), card.outputPerMTok(), m);
        // Web search is priced per request, not per token: no band, batch or geography multiplier.
        Money search = roundHalfUp(
                BigInteger.valueOf(usage.webSearchRequests()).multiply(BigInteger.valueOf(modifiers.webSearchPer1k())),
                BigInteger.valueOf(1000));
        Money total = input.plus(w5).plus(w1).plus(read).plus(output).plus(search);
        return new Cost(spec.id(), total, input, w5, w1, read, output, search, rules);
    }

    /**
     * The most a call can cost: every input token at the model's highest input-side price of its highest band,
     * plus {@code maxOutputTokens} at that band's output price, times {@code options}' multipliers. Used to
     * reserve budget before a call; never below the exact cost of any usage within those counts.
     */
    public Money worstCase(String model, long inputTokens, long maxOutputTokens, CostOptions options) {
        ModelSpec spec = require(model);
        PriceCard card = spec.highestPrices();
        Ratio m = Ratio.ONE;
        if (!options.inferenceGeo().isEmpty() && !options.inferenceGeo().equals("global")) {
            m = m.times(modifiers.inferenceGeoMultipliers().getOrDefault(options.inferenceGeo(), Ratio.ONE));
        }
        Ratio speed = spec.speedMultipliers().get(options.speed());
        if (speed != null) {
            m = m.times(speed);
        }
        return classCost(inputTokens, card.maxInputSidePerMTok(), m)
                .plus(classCost(maxOutputTokens, card.outputPerMTok(), m));
    }

    /** tokens x price-per-million x multiplier, rounded half-up once to the nano-dollar. */
    static Money classCost(long tokens, long pricePerMTok, Ratio multiplier) {
        if (tokens == 0 || pricePerMTok == 0) {
            return Money.ZERO;
        }
        try {
            long numerator = Math.multiplyExact(Math.multiplyExact(tokens, pricePerMTok), multiplier.numerator());
            long denominator = Math.multiplyExact(TOKENS_PER_MILLION, multiplier.denominator());
            long quotient = numerator / denominator;
            long remainder = numerator % denominator;
            return Money.ofNanos(remainder * 2 >= denominator ? quotient + 1 : quotient);
        } catch (ArithmeticException overflow) {
            return roundHalfUp(
                    BigInteger.valueOf(tokens)
                            .multiply(BigInteger.valueOf(pricePerMTok))
                            .multiply(BigInteger.valueOf(multiplier.numerator())),
                    BigInteger.valueOf(TOKENS_PER_MILLION).multiply(BigInteger.valueOf(multiplier.denominator())));
        }
    }

    private static Money roundHalfUp(BigInteger numerator, BigInteger denominator) {
        BigInteger[] qr = numerator.divideAndRemainder(denominator);
        BigInteger q = qr[1].shiftLeft(1).compareTo(denominator) >= 0 ? qr[0].add(BigInteger.ONE) : qr[0];
        return Money.ofNanos(q.longValueExact());
    }
}
