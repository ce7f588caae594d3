package dev.tiergate.gateway;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;

/**
 * Prometheus metrics for calls, with OpenTelemetry GenAI names where they exist
 * ({@code gen_ai.client.operation.duration}, {@code gen_ai.client.token.usage},
 * {@code gen_ai.server.time_to_first_token}) and {@code tiergate.*} for the rest. Thread-safe.
 */
final class GatewayMetrics {
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);

    void record(CallRecord c) {
        String model = c.servedModel().isEmpty() ? "none" : c.servedModel();
        String tier = c.tier().isEmpty() ? "none" : c.tier();
        Counter.builder("tiergate.requests")
                .description("Calls by task type, tier, model and status")
                .tags("task_type", c.taskType(), "tier", tier, "model", model, "status", c.status())
                .register(registry)
                .increment();
        if (c.status().equals("denied") && c.servedModel().isEmpty()) {
            return;
        }
        Timer.builder("gen_ai.client.operation.duration")
                .description("Call duration, arrival to last byte")
                .tags("gen_ai.operation.name", "chat", "gen_ai.response.model", model, "task_type", c.taskType())
                .publishPercentileHistogram()
                .register(registry)
                .record(Duration.ofMillis(c.latencyMillis()));
        if (c.timeToFirstTokenMillis() >= 0) {
            Timer.builder("gen_ai.server.time_to_first_token")
                    .description("Arrival to the first streamed event")
                    .tags("gen_ai.response.model", model, "task_type", c.taskType())
                    .publishPercentileHistogram()
                    .register(registry)
                    .record(Duration.ofMillis(c.timeToFirstTokenMillis()));
        }
        tokens("input", c.usage().inputTokens(), model, c.taskType());
        tokens("output", c.usage().outputTokens(), model, c.taskType());
        tokens("cache_read", c.usage().cacheReadTokens(), model, c.taskType());
        tokens("cache_write_5m", c.usage().cacheWrite5mTokens(), model, c.taskType());
        tokens("cache_write_1h", c.usage().cacheWrite1hTokens(), model, c.taskType());
        // Prometheus counters are doubles; the exact nano-USD figure is in the log line and the ledger.
        Counter.builder("tiergate.cost")
                .baseUnit("usd")
                .description("Spend by task type, tier and model (exact per call, summed)")
                .tags("task_type", c.taskType(), "tier", tier, "model", model)
                .register(registry)
                .increment(c.cost().toUsd().doubleValue());
        if (!c.errorType().isEmpty()) {
            Counter.builder("tiergate.upstream.errors")
                    .tags("model", model, "type", c.errorType())
                    .register(registry)
                    .increment();
        }
    }

    private void tokens(String type, long count, String model, String taskType) {
        DistributionSummary.builder("gen_ai.client.token.usage")
                .baseUnit("tokens")
                .tags("gen_ai.token.type", type, "gen_ai.response.model", model, "task_type", taskType)
                .register(registry)
                .record(count);
    }

    /** One step of shadow evaluation: sampled, judged, budget_denied, no_candidate, no_verdict, ... */
    void shadow(String taskType, String outcome) {
        Counter.builder("tiergate.shadow.evaluations")
                .description("Shadow evaluation outcomes by task type")
                .tags("task_type", taskType, "outcome", outcome)
                .register(registry)
                .increment();
    }

    String scrape() {
        return registry.scrape();
    }
}
