package dev.tiergate.gateway;

import dev.tiergate.ledger.Ledger;
import dev.tiergate.ledger.WriteStats;
import dev.tiergate.policy.Policy;
import dev.tiergate.pricing.Usage;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Prometheus metrics for calls, with OpenTelemetry GenAI names, attributes and bucket boundaries where they exist
 * ({@code gen_ai.client.operation.duration}, {@code gen_ai.server.time_to_first_token}, {@code
 * gen_ai.client.token.usage}) and {@code tiergate.*} for the rest. docs/gateway.md lists the exported names.
 * Thread-safe.
 *
 * <p>Meters are registered once per tag set and kept: building and registering them costs more than recording,
 * and it was paid on every call. The caches grow exactly as the registry does (one entry per tag set seen).
 */
final class GatewayMetrics {
    /** The Messages API is a chat operation, and every upstream speaks Anthropic's API (semconv's well-known values). */
    private static final String OPERATION = "chat";

    private static final String PROVIDER = "anthropic";

    /**
     * Bucket boundaries the GenAI semantic conventions advise: seconds for operation duration, seconds for time to
     * first token, tokens for token usage. Explicit, instead of Micrometer's percentile histogram: that has dozens of
     * buckets per series, and not the ones an OpenTelemetry dashboard expects.
     */
    private static final Duration[] DURATION_BUCKETS =
            seconds(0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92);

    private static final Duration[] TTFT_BUCKETS =
            seconds(0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0);

    private static final double[] TOKEN_BUCKETS = {
        1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864
    };

    /** The label for a task type the policy does not name (see {@link #GatewayMetrics(Set)}). */
    static final String OTHER_TASK_TYPE = "other";

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Set<String> taskTypes;
    private final Map<RequestTags, Counter> requests = new ConcurrentHashMap<>();
    private final Map<CallTags, CallMeters> calls = new ConcurrentHashMap<>();
    private final Map<ErrorTags, Counter> errors = new ConcurrentHashMap<>();
    private final Map<ShadowTags, Counter> shadows = new ConcurrentHashMap<>();
    private final Map<SoftLimitTags, Counter> softLimits = new ConcurrentHashMap<>();

    /**
     * @param taskTypes the task types the policy names: with {@link Policy#UNCLASSIFIED}, the only values of the
     *     {@code task_type} label. Any other task type a caller sends (routed to the default tier, and kept as sent
     *     in the ledger and the log line) is labelled {@value #OTHER_TASK_TYPE}: a caller that made task types up
     *     per call would otherwise add meters, and series to every scrape, without bound.
     */
    GatewayMetrics(Set<String> taskTypes) {
        this.taskTypes = Set.copyOf(taskTypes);
    }

    private record RequestTags(String taskType, String tier, String model, String status) {}

    private record CallTags(String taskType, String tier, String requestModel, String responseModel) {}

    private record ErrorTags(String model, String type) {}

    private record ShadowTags(String taskType, String outcome) {}

    private record SoftLimitTags(String budget, String window) {}

    /** The meters one (task type, tier, requested model, served model) records to. */
    private record CallMeters(
            Timer duration,
            Timer ttft,
            DistributionSummary inputUsage,
            DistributionSummary outputUsage,
            Counter input,
            Counter output,
            Counter cacheRead,
            Counter cacheWrite5m,
            Counter cacheWrite1h,
            Counter cost) {}

    /** A call refused before any upstream request (no key, a bad request, no route, over budget): counted only. */
    void refused(CallRecord c) {
        count(c);
    }

    /**
     * A call that was sent upstream and settled, whatever its status.
     *
     * @param requestModel the model the gateway asked the upstream for first (the route's); {@link
     *     CallRecord#servedModel()} is the one that answered, a fallback if one did
     */
    void settled(CallRecord c, String requestModel) {
        count(c);
        CallMeters m = calls.computeIfAbsent(
                new CallTags(taskLabel(c.taskType()), orNone(c.tier()), orNone(requestModel), orNone(c.servedModel())),
                this::callMeters);
        m.duration().record(c.latencyMillis(), TimeUnit.MILLISECONDS);
        if (c.timeToFirstTokenMillis() >= 0) {
            m.ttft().record(c.timeToFirstTokenMillis(), TimeUnit.MILLISECONDS);
        }
        Usage u = c.usage();
        // No usage at all is a call the upstream answered with none (failed before an answer, or the gateway did):
        // not a count of zero tokens, and the semconv says not to report what was not obtained.
        if (!u.equals(Usage.ZERO)) {
            // Semconv: input counts every input token, cached or not; the classes are tiergate_tokens_total's.
            m.inputUsage().record(u.promptTokens());
            m.outputUsage().record(u.outputTokens());
        }
        m.input().increment(u.inputTokens());
        m.output().increment(u.outputTokens());
        m.cacheRead().increment(u.cacheReadTokens());
        m.cacheWrite5m().increment(u.cacheWrite5mTokens());
        m.cacheWrite1h().increment(u.cacheWrite1hTokens());
        // Prometheus counters are doubles; the exact nano-USD figure is in the log line and the ledger.
        m.cost().increment(c.cost().toUsd().doubleValue());
        if (!c.errorType().isEmpty()) {
            errors.computeIfAbsent(new ErrorTags(orNone(c.servedModel()), c.errorType()), this::errorsCounter)
                    .increment();
        }
    }

    private void count(CallRecord c) {
        requests.computeIfAbsent(
                        new RequestTags(taskLabel(c.taskType()), orNone(c.tier()), orNone(c.servedModel()), c.status()),
                        this::requestsCounter)
                .increment();
    }

    private String taskLabel(String taskType) {
        return taskTypes.contains(taskType) || taskType.equals(Policy.UNCLASSIFIED) ? taskType : OTHER_TASK_TYPE;
    }

    private static String orNone(String value) {
        return value.isEmpty() ? "none" : value;
    }

    private Counter requestsCounter(RequestTags t) {
        return Counter.builder("tiergate.requests")
                .description("Calls by task type, tier, model and status")
                .tags("task_type", t.taskType(), "tier", t.tier(), "model", t.model(), "status", t.status())
                .register(registry);
    }

    private CallMeters callMeters(CallTags t) {
        Tags genAi = Tags.of(
                "gen_ai.operation.name", OPERATION,
                "gen_ai.provider.name", PROVIDER,
                "gen_ai.request.model", t.requestModel(),
                "gen_ai.response.model", t.responseModel(),
                "task_type", t.taskType());
        Tags classes = Tags.of("task_type", t.taskType(), "tier", t.tier(), "model", t.responseModel());
        return new CallMeters(
                Timer.builder("gen_ai.client.operation.duration")
                        .description("Call duration, arrival to last byte")
                        .tags(genAi)
                        .serviceLevelObjectives(DURATION_BUCKETS)
                        .register(registry),
                Timer.builder("gen_ai.server.time_to_first_token")
                        .description("Arrival to the first content_block_delta of a streamed call")
                        .tags(genAi)
                        .serviceLevelObjectives(TTFT_BUCKETS)
                        .register(registry),
                tokenUsage("input", genAi),
                tokenUsage("output", genAi),
                tokens("input", classes),
                tokens("output", classes),
                tokens("cache_read", classes),
                tokens("cache_write_5m", classes),
                tokens("cache_write_1h", classes),
                Counter.builder("tiergate.cost")
                        .baseUnit("usd")
                        .description("Spend by task type, tier and model (exact per call, summed)")
                        .tags(classes)
                        .register(registry));
    }

    /** No base unit: semconv's unit {@code {token}} is an annotation, which adds no suffix to the Prometheus name. */
    private DistributionSummary tokenUsage(String type, Tags genAi) {
        return DistributionSummary.builder("gen_ai.client.token.usage")
                .description("Tokens per call: input is every input token, cached or not")
                .tags(genAi.and("gen_ai.token.type", type))
                .serviceLevelObjectives(TOKEN_BUCKETS)
                .register(registry);
    }

    private Counter tokens(String tokenClass, Tags classes) {
        return Counter.builder("tiergate.tokens")
                .description("Tokens by billing class: input is uncached input only, as Anthropic reports it")
                .tags(classes.and("token_class", tokenClass))
                .register(registry);
    }

    private static Duration[] seconds(double... boundaries) {
        return Arrays.stream(boundaries)
                .mapToObj(s -> Duration.ofNanos(Math.round(s * 1e9)))
                .toArray(Duration[]::new);
    }

    private Counter errorsCounter(ErrorTags t) {
        return Counter.builder("tiergate.upstream.errors")
                .tags("model", t.model(), "type", t.type())
                .register(registry);
    }

    /** One step of shadow evaluation: sampled, judged, budget_denied, no_candidate, no_verdict, ... */
    void shadow(String taskType, String outcome) {
        shadows.computeIfAbsent(
                        new ShadowTags(taskType, outcome),
                        t -> Counter.builder("tiergate.shadow.evaluations")
                                .description("Shadow evaluation outcomes by task type")
                                .tags("task_type", t.taskType(), "outcome", t.outcome())
                                .register(registry))
                .increment();
    }

    /**
     * Registers {@code tiergate_budget_soft_limit_crossed_total{budget,window}} of one soft budget at 0, so that the
     * series exists before its first crossing and an alert on its increase sees that crossing too.
     *
     * @param window the budget's window as configured: {@code day}, {@code month} or {@code total}
     */
    void softBudget(String budget, String window) {
        softLimits.computeIfAbsent(new SoftLimitTags(budget, window), this::softLimitCounter);
    }

    /**
     * One soft-limit crossing the ledger reported ({@code soft_limit_crossed}): a window of a soft budget whose settled
     * spend went from below its limit to it or above. The ledger reports that once per window (per run, for a
     * per-run budget), or again only if the window's limit is raised above its spend and crossed again.
     */
    void softLimitCrossed(String budget, String window) {
        softLimits
                .computeIfAbsent(new SoftLimitTags(budget, window), this::softLimitCounter)
                .increment();
    }

    private Counter softLimitCounter(SoftLimitTags t) {
        return Counter.builder("tiergate.budget.soft_limit_crossed")
                .description("Soft budget windows whose settled spend reached their limit, by budget and window")
                .tags("budget", t.budget(), "window", t.window())
                .register(registry);
    }

    /**
     * The ledger's writes: {@code tiergate_ledger_transactions_total} (commits) and {@code
     * tiergate_ledger_writes_total{ran_on}} ({@code writer}: through the group-commit writer thread; {@code
     * caller}: on the caller's own thread, SQLite at light load). Writes per transaction is the average batch.
     * {@code tiergate_ledger_write_holds_total} and {@code tiergate_ledger_write_held_seconds_total}: how often and
     * how long every write waited for SQLite's WAL restart (a few ms every few seconds under sustained load).
     */
    void ledger(Ledger ledger) {
        FunctionCounter.builder(
                        "tiergate.ledger.transactions",
                        ledger,
                        l -> l.writeStats().transactions())
                .description("Ledger write transactions committed")
                .register(registry);
        FunctionCounter.builder("tiergate.ledger.writes", ledger, l -> {
                    WriteStats s = l.writeStats();
                    return s.writes() - s.writesOnCaller();
                })
                .description("Ledger writes (reserve, settle, ...) committed, by the thread that ran them")
                .tags("ran_on", "writer")
                .register(registry);
        FunctionCounter.builder(
                        "tiergate.ledger.writes", ledger, l -> l.writeStats().writesOnCaller())
                .description("Ledger writes (reserve, settle, ...) committed, by the thread that ran them")
                .tags("ran_on", "caller")
                .register(registry);
        FunctionCounter.builder(
                        "tiergate.ledger.write_holds",
                        ledger,
                        l -> l.writeStats().holds())
                .description("Times every ledger write was held back while the file was worked on alone"
                        + " (SQLite's WAL restart); a reservation that met one waited for it")
                .register(registry);
        FunctionCounter.builder(
                        "tiergate.ledger.write_held",
                        ledger,
                        l -> l.writeStats().heldNanos() / 1e9)
                .description("How long ledger writes were held back in all (see tiergate_ledger_write_holds)")
                .baseUnit("seconds")
                .register(registry);
    }

    String scrape() {
        return registry.scrape();
    }
}
