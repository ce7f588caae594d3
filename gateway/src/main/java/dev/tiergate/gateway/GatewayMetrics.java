package dev.tiergate.gateway;

import dev.tiergate.ledger.Ledger;
import dev.tiergate.ledger.WriteStats;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Prometheus metrics for calls, with OpenTelemetry GenAI names where they exist
 * ({@code gen_ai.client.operation.duration}, {@code gen_ai.client.token.usage},
 * {@code gen_ai.server.time_to_first_token}) and {@code tiergate.*} for the rest. Thread-safe.
 *
 * <p>Meters are registered once per tag set and kept: building and registering them costs more than recording,
 * and it was paid on every call. The caches grow exactly as the registry does (one entry per tag set seen).
 */
final class GatewayMetrics {
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Map<RequestTags, Counter> requests = new ConcurrentHashMap<>();
    private final Map<CallTags, CallMeters> calls = new ConcurrentHashMap<>();
    private final Map<ErrorTags, Counter> errors = new ConcurrentHashMap<>();
    private final Map<ShadowTags, Counter> shadows = new ConcurrentHashMap<>();
    private final Map<SoftLimitTags, Counter> softLimits = new ConcurrentHashMap<>();

    private record RequestTags(String taskType, String tier, String model, String status) {}

    private record CallTags(String taskType, String tier, String model) {}

    private record ErrorTags(String model, String type) {}

    private record ShadowTags(String taskType, String outcome) {}

    private record SoftLimitTags(String budget, String window) {}

    /** The meters one (task type, tier, model) records to. */
    private record CallMeters(
            Timer duration,
            Timer ttft,
            DistributionSummary input,
            DistributionSummary output,
            DistributionSummary cacheRead,
            DistributionSummary cacheWrite5m,
            DistributionSummary cacheWrite1h,
            Counter cost) {}

    void record(CallRecord c) {
        String model = c.servedModel().isEmpty() ? "none" : c.servedModel();
        String tier = c.tier().isEmpty() ? "none" : c.tier();
        requests.computeIfAbsent(new RequestTags(c.taskType(), tier, model, c.status()), this::requestsCounter)
                .increment();
        if (c.status().equals("denied") && c.servedModel().isEmpty()) {
            return;
        }
        CallMeters m = calls.computeIfAbsent(new CallTags(c.taskType(), tier, model), this::callMeters);
        m.duration().record(c.latencyMillis(), TimeUnit.MILLISECONDS);
        if (c.timeToFirstTokenMillis() >= 0) {
            m.ttft().record(c.timeToFirstTokenMillis(), TimeUnit.MILLISECONDS);
        }
        m.input().record(c.usage().inputTokens());
        m.output().record(c.usage().outputTokens());
        m.cacheRead().record(c.usage().cacheReadTokens());
        m.cacheWrite5m().record(c.usage().cacheWrite5mTokens());
        m.cacheWrite1h().record(c.usage().cacheWrite1hTokens());
        // Prometheus counters are doubles; the exact nano-USD figure is in the log line and the ledger.
        m.cost().increment(c.cost().toUsd().doubleValue());
        if (!c.errorType().isEmpty()) {
            errors.computeIfAbsent(new ErrorTags(model, c.errorType()), this::errorsCounter)
                    .increment();
        }
    }

    private Counter requestsCounter(RequestTags t) {
        return Counter.builder("tiergate.requests")
                .description("Calls by task type, tier, model and status")
                .tags("task_type", t.taskType(), "tier", t.tier(), "model", t.model(), "status", t.status())
                .register(registry);
    }

    private CallMeters callMeters(CallTags t) {
        return new CallMeters(
                Timer.builder("gen_ai.client.operation.duration")
                        .description("Call duration, arrival to last byte")
                        .tags(
                                "gen_ai.operation.name",
                                "chat",
                                "gen_ai.response.model",
                                t.model(),
                                "task_type",
                                t.taskType())
                        .publishPercentileHistogram()
                        .register(registry),
                Timer.builder("gen_ai.server.time_to_first_token")
                        .description("Arrival to the first streamed event")
                        .tags("gen_ai.response.model", t.model(), "task_type", t.taskType())
                        .publishPercentileHistogram()
                        .register(registry),
                tokens("input", t),
                tokens("output", t),
                tokens("cache_read", t),
                tokens("cache_write_5m", t),
                tokens("cache_write_1h", t),
                Counter.builder("tiergate.cost")
                        .baseUnit("usd")
                        .description("Spend by task type, tier and model (exact per call, summed)")
                        .tags("task_type", t.taskType(), "tier", t.tier(), "model", t.model())
                        .register(registry));
    }

    private DistributionSummary tokens(String type, CallTags t) {
        return DistributionSummary.builder("gen_ai.client.token.usage")
                .baseUnit("tokens")
                .tags("gen_ai.token.type", type, "gen_ai.response.model", t.model(), "task_type", t.taskType())
                .register(registry);
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
    }

    String scrape() {
        return registry.scrape();
    }
}
