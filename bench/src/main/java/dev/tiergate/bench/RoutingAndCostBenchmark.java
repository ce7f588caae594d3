package dev.tiergate.bench;

import dev.tiergate.policy.PolicyLoader;
import dev.tiergate.policy.RequestFacts;
import dev.tiergate.policy.Router;
import dev.tiergate.policy.RoutingDecision;
import dev.tiergate.pricing.CatalogLoader;
import dev.tiergate.pricing.Cost;
import dev.tiergate.pricing.CostOptions;
import dev.tiergate.pricing.ModelCatalog;
import dev.tiergate.pricing.Money;
import dev.tiergate.pricing.Usage;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.LocalDate;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/** One routing decision and one exact cost computation: the per-call work the gateway adds in core. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(
        value = 2,
        jvmArgsAppend = {"-Xmx256m"})
public class RoutingAndCostBenchmark {
    private ModelCatalog catalog = CatalogLoader.bundled();
    private Router router;
    private RequestFacts shortRequest = RequestFacts.of(2_000, 5_000);
    private RequestFacts longRequest = RequestFacts.of(160_000, 5_000);
    private Usage cachedUsage = new Usage(1_234, 567, 2_048, 1_000, 30_000, 0);
    private Usage bandUsage = new Usage(90_000, 4_000, 0, 60_000, 10_000, 0);
    private CostOptions batchUs = new CostOptions(true, "us", "standard");

    @Setup
    public void setUp() throws IOException {
        try (InputStream in = RoutingAndCostBenchmark.class.getResourceAsStream("/bench-policy.yaml")) {
            if (in == null) {
                throw new IllegalStateException("bench-policy.yaml missing");
            }
            String yaml = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            router = new Router(
                    PolicyLoader.parse("bench-policy.yaml", yaml, catalog, LocalDate.of(2026, 11, 29)), catalog);
        }
    }

    @Benchmark
    public RoutingDecision routeKnownTaskType() {
        return router.route("extraction", shortRequest);
    }

    @Benchmark
    public RoutingDecision routeUnknownTaskTypePromotedByRule() {
        return router.route("poetry", longRequest);
    }

    @Benchmark
    public Cost costWithCacheClasses() {
        return catalog.cost("claude-opus-4-6", cachedUsage, CostOptions.STANDARD);
    }

    @Benchmark
    public Cost costBatchGeoAndPriceBand() {
        return catalog.cost("claude-haiku-5-5", bandUsage, batchUs);
    }

    @Benchmark
    public Money worstCaseReservation() {
        return catalog.worstCase("claude-opus-4-6", 2_000, 2_000, CostOptions.STANDARD);
    }
}
