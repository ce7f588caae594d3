package dev.tiergate.pricing;

import static org.assertj.core.api.Assertions.assertThat;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Properties over many random calls (seeded, so failures reproduce): per-call costs match an independent
 * BigDecimal computation, breakdowns add up, and sums do not drift whatever the order.
 */
class CostPropertyTest {
    private static final ModelCatalog CATALOG = CatalogLoader.bundled();
    private static final long SEED = 20261129L;

    @Test
    void perCallCostsMatchAnIndependentDecimalComputationAndSumWithoutDrift() {
        Random random = new Random(SEED);
        List<ModelSpec> models = CATALOG.models();
        List<Money> costs = new ArrayList<>();
        BigDecimal reference = BigDecimal.ZERO;
        for (int i = 0; i < 20_000; i++) {
            ModelSpec model = models.get(random.nextInt(models.size()));
            Usage usage = new Usage(
                    random.nextInt(300_000),
                    random.nextInt(64_000),
                    random.nextInt(4) == 0 ? random.nextInt(50_000) : 0,
                    random.nextInt(4) == 0 ? random.nextInt(50_000) : 0,
                    random.nextInt(3) == 0 ? random.nextInt(200_000) : 0,
                    random.nextInt(10) == 0 ? random.nextInt(5) : 0);
            CostOptions options = new CostOptions(random.nextBoolean(), random.nextBoolean() ? "us" : "", "standard");
            Cost cost = CATALOG.cost(model.id(), usage, options);
            BigDecimal expected = referenceCost(model, usage, options);
            assertThat(cost.total().toUsd()).as("call %d on %s", i, model.id()).isEqualByComparingTo(expected);
            costs.add(cost.total());
            reference = reference.add(expected);
        }
        Money forward = costs.stream().reduce(Money.ZERO, Money::plus);
        Collections.shuffle(costs, random);
        Money shuffled = costs.stream().reduce(Money.ZERO, Money::plus);
        assertThat(forward).isEqualTo(shuffled);
        assertThat(forward.toUsd()).isEqualByComparingTo(reference);
    }

    @Test
    void costNeverDecreasesWhenTokensGrowWithinOneBand() {
        Random random = new Random(SEED + 1);
        for (ModelSpec model : CATALOG.models()) {
            long previous = -1;
            for (long out = 0; out < 5_000; out += 1 + random.nextInt(50)) {
                long nanos = CATALOG.cost(model.id(), Usage.of(1000, out), CostOptions.STANDARD)
                        .total()
                        .nanos();
                assertThat(nanos).isGreaterThanOrEqualTo(previous);
                previous = nanos;
            }
        }
    }

    /** The same rules, written independently with BigDecimal on the USD-per-million prices. */
    private static BigDecimal referenceCost(ModelSpec model, Usage u, CostOptions o) {
        PriceCard p = model.bandFor(u.promptTokens()).map(PriceBand::prices).orElse(model.prices());
        BigDecimal multiplier = BigDecimal.ONE;
        if (o.batch()) {
            multiplier = multiplier.multiply(new BigDecimal("0.5"));
        }
        if (o.inferenceGeo().equals("us")) {
            multiplier = multiplier.multiply(new BigDecimal("1.1"));
        }
        BigDecimal total = BigDecimal.ZERO;
        long[][] classes = {
            {u.inputTokens(), p.inputPerMTok()},
            {u.cacheWrite5mTokens(), p.cacheWrite5mPerMTok()},
            {u.cacheWrite1hTokens(), p.cacheWrite1hPerMTok()},
            {u.cacheReadTokens(), p.cacheReadPerMTok()},
            {u.outputTokens(), p.outputPerMTok()}
        };
        for (long[] c : classes) {
            BigDecimal usdPerMTok = BigDecimal.valueOf(c[1], 9);
            BigDecimal exact = BigDecimal.valueOf(c[0])
                    .multiply(usdPerMTok)
                    .multiply(multiplier)
                    .divide(BigDecimal.valueOf(1_000_000));
            total = total.add(exact.setScale(9, RoundingMode.HALF_UP));
        }
        BigDecimal search = BigDecimal.valueOf(u.webSearchRequests())
                .multiply(new BigDecimal("10"))
                .divide(BigDecimal.valueOf(1000))
                .setScale(9, RoundingMode.HALF_UP);
        return total.add(search);
    }
}
