package dev.tiergate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tiergate.pricing.Money;
import dev.tiergate.pricing.Usage;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class GatewayMetricsTest {

    private static CallRecord call(String task, String model, String status, String errorType) {
        return new CallRecord(
                "tgreq_1",
                Instant.EPOCH,
                "agents",
                "team-a",
                task,
                "small",
                "task:" + task,
                model,
                "",
                "",
                new Usage(10, 2, 0, 0, 0, 0),
                Money.ofNanos(500_000_000),
                12,
                3,
                "end_turn",
                300,
                false,
                status,
                errorType,
                true,
                1);
    }

    @Test
    void cachedMetersStillCountEachTagSetSeparately() {
        GatewayMetrics m = new GatewayMetrics();
        m.record(call("extraction", "claude-haiku-4-5", "ok", ""));
        m.record(call("extraction", "claude-haiku-4-5", "ok", ""));
        m.record(call("extraction", "claude-haiku-4-5", "upstream_error", "api_error"));
        m.record(call("judge", "claude-opus-4-6", "ok", ""));
        m.shadow("judge", "sampled");
        m.shadow("judge", "sampled");
        String s = m.scrape();
        assertThat(s)
                .contains("tiergate_requests_total{model=\"claude-haiku-4-5\",status=\"ok\",task_type=\"extraction\","
                        + "tier=\"small\"} 2.0")
                .contains("tiergate_requests_total{model=\"claude-haiku-4-5\",status=\"upstream_error\","
                        + "task_type=\"extraction\",tier=\"small\"} 1.0")
                .contains("tiergate_requests_total{model=\"claude-opus-4-6\",status=\"ok\",task_type=\"judge\","
                        + "tier=\"small\"} 1.0")
                .contains("gen_ai_client_operation_duration_seconds_count{gen_ai_operation_name=\"chat\","
                        + "gen_ai_response_model=\"claude-haiku-4-5\",task_type=\"extraction\"} 3")
                .contains("gen_ai_client_token_usage_tokens_sum{gen_ai_response_model=\"claude-haiku-4-5\","
                        + "gen_ai_token_type=\"input\",task_type=\"extraction\"} 30.0")
                .contains("tiergate_cost_usd_total{model=\"claude-haiku-4-5\",task_type=\"extraction\",tier=\"small\"}"
                        + " 1.5")
                .contains("tiergate_upstream_errors_total{model=\"claude-haiku-4-5\",type=\"api_error\"} 1.0")
                .contains("tiergate_shadow_evaluations_total{outcome=\"sampled\",task_type=\"judge\"} 2.0");
    }

    @Test
    void softLimitCrossingsAreCountedPerBudgetAndWindowFromZero() {
        GatewayMetrics m = new GatewayMetrics();
        m.softBudget("cheap-work", "month");
        m.softBudget("runs-soft", "total");
        assertThat(m.scrape())
                .contains("tiergate_budget_soft_limit_crossed_total{budget=\"cheap-work\",window=\"month\"} 0.0");

        m.softLimitCrossed("cheap-work", "month");
        m.softLimitCrossed("runs-soft", "total");
        m.softLimitCrossed("runs-soft", "total");

        assertThat(m.scrape())
                .contains("tiergate_budget_soft_limit_crossed_total{budget=\"cheap-work\",window=\"month\"} 1.0")
                .contains("tiergate_budget_soft_limit_crossed_total{budget=\"runs-soft\",window=\"total\"} 2.0");
    }
}
