package dev.tiergate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tiergate.pricing.Money;
import dev.tiergate.pricing.Usage;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class GatewayMetricsTest {
    private static final java.util.Set<String> TASK_TYPES = java.util.Set.of("extraction", "judge", "synthesis");

    private static CallRecord call(String task, String model, String status, String errorType) {
        return call(task, model, status, errorType, new Usage(10, 2, 0, 0, 0, 0), -1);
    }

    private static CallRecord call(
            String task, String model, String status, String errorType, Usage usage, long ttftMillis) {
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
                usage,
                Money.ofNanos(500_000_000),
                1500,
                ttftMillis,
                "end_turn",
                300,
                false,
                status,
                errorType,
                true,
                1,
                0);
    }

    @Test
    void taskTypesThePolicyDoesNotNameShareOneLabelSoCallersCannotGrowTheSeries() {
        GatewayMetrics m = new GatewayMetrics(TASK_TYPES);
        for (int i = 0; i < 50; i++) {
            m.settled(call("made-up-" + i, "claude-haiku-4-5", "ok", ""), "claude-haiku-4-5");
        }
        m.refused(call("made-up-refused", "", "denied", "rate_limit_error"));
        m.settled(call("unclassified", "claude-haiku-4-5", "ok", ""), "claude-haiku-4-5");
        String s = m.scrape();
        assertThat(s)
                .doesNotContain("made-up")
                .contains("tiergate_requests_total{model=\"claude-haiku-4-5\",status=\"ok\",task_type=\"other\","
                        + "tier=\"small\"} 50.0")
                .contains("task_type=\"unclassified\"");
        assertThat(s.lines().filter(l -> l.startsWith("gen_ai_client_operation_duration_seconds_count")))
                .hasSize(2);
    }

    @Test
    void cachedMetersStillCountEachTagSetSeparately() {
        GatewayMetrics m = new GatewayMetrics(TASK_TYPES);
        m.settled(call("extraction", "claude-haiku-4-5", "ok", ""), "claude-haiku-4-5");
        m.settled(call("extraction", "claude-haiku-4-5", "ok", ""), "claude-haiku-4-5");
        m.settled(call("extraction", "claude-haiku-4-5", "upstream_error", "api_error"), "claude-haiku-4-5");
        m.settled(call("judge", "claude-opus-4-6", "ok", ""), "claude-opus-4-6");
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
                .contains("gen_ai_client_operation_duration_seconds_count{" + genAi("claude-haiku-4-5", "extraction")
                        + "} 3")
                .contains("gen_ai_client_token_usage_sum{" + tokenUsage("claude-haiku-4-5", "extraction", "input")
                        + "} 30.0")
                .contains("tiergate_cost_usd_total{model=\"claude-haiku-4-5\",task_type=\"extraction\",tier=\"small\"}"
                        + " 1.5")
                .contains("tiergate_upstream_errors_total{model=\"claude-haiku-4-5\",type=\"api_error\"} 1.0")
                .contains("tiergate_shadow_evaluations_total{outcome=\"sampled\",task_type=\"judge\"} 2.0");
    }

    /** The OpenTelemetry GenAI labels of one call's series, in the order Prometheus prints them (sorted). */
    private static String genAi(String model, String task) {
        return genAi(model, model, task);
    }

    private static String genAi(String requestModel, String responseModel, String task) {
        return "gen_ai_operation_name=\"chat\",gen_ai_provider_name=\"anthropic\",gen_ai_request_model=\""
                + requestModel + "\",gen_ai_response_model=\"" + responseModel + "\",task_type=\"" + task + "\"";
    }

    /** The labels of a {@code gen_ai_client_token_usage} series: the token type sorts before task_type. */
    private static String tokenUsage(String model, String task, String tokenType) {
        return genAi(model, task).replace(",task_type=", ",gen_ai_token_type=\"" + tokenType + "\",task_type=");
    }

    /** The {@code le} boundaries of one histogram series, +Inf left out. */
    private static List<Double> buckets(String scrape, String histogram, String labels) {
        String prefix = histogram + "_bucket{" + labels + ",le=\"";
        return scrape.lines()
                .filter(l -> l.startsWith(prefix))
                .map(l -> l.substring(prefix.length(), l.indexOf('"', prefix.length())))
                .filter(le -> !le.equals("+Inf"))
                .map(Double::valueOf)
                .toList();
    }

    @Test
    void tokenUsageCountsEveryInputClassAsInputAndTiergateTokensKeepsTheClasses() {
        GatewayMetrics m = new GatewayMetrics(TASK_TYPES);
        // 100 uncached, 300 written to the 5-minute cache, 400 to the 1-hour cache, 5,000 read from the cache
        m.settled(
                call("synthesis", "claude-opus-4-6", "ok", "", new Usage(100, 20, 300, 400, 5000, 0), -1),
                "claude-opus-4-6");

        String s = m.scrape();
        assertThat(s)
                .contains("# TYPE gen_ai_client_token_usage histogram")
                .contains("gen_ai_client_token_usage_count{" + tokenUsage("claude-opus-4-6", "synthesis", "input")
                        + "} 1")
                .contains("gen_ai_client_token_usage_sum{" + tokenUsage("claude-opus-4-6", "synthesis", "input")
                        + "} 5800.0")
                .contains("gen_ai_client_token_usage_sum{" + tokenUsage("claude-opus-4-6", "synthesis", "output")
                        + "} 20.0")
                // semconv's unit {token} is an annotation: no unit suffix in the Prometheus name
                .doesNotContain("gen_ai_client_token_usage_tokens")
                .doesNotContain("gen_ai_token_type=\"cache_read\"");
        String classes = "tiergate_tokens_total{model=\"claude-opus-4-6\",task_type=\"synthesis\",tier=\"small\","
                + "token_class=";
        assertThat(s)
                .contains(classes + "\"input\"} 100.0")
                .contains(classes + "\"cache_write_5m\"} 300.0")
                .contains(classes + "\"cache_write_1h\"} 400.0")
                .contains(classes + "\"cache_read\"} 5000.0")
                .contains(classes + "\"output\"} 20.0");
    }

    @Test
    void histogramsHaveTheBucketBoundariesTheSemanticConventionsAdvise() {
        GatewayMetrics m = new GatewayMetrics(TASK_TYPES);
        m.settled(call("extraction", "claude-haiku-4-5", "ok", "", Usage.of(10, 2), 300), "claude-haiku-4-5");

        String s = m.scrape();
        String labels = genAi("claude-haiku-4-5", "extraction");
        assertThat(buckets(s, "gen_ai_client_operation_duration_seconds", labels))
                .containsExactly(
                        0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92);
        assertThat(buckets(s, "gen_ai_server_time_to_first_token_seconds", labels))
                .containsExactly(
                        0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0);
        assertThat(buckets(s, "gen_ai_client_token_usage", tokenUsage("claude-haiku-4-5", "extraction", "output")))
                .containsExactly(
                        1.0,
                        4.0,
                        16.0,
                        64.0,
                        256.0,
                        1024.0,
                        4096.0,
                        16384.0,
                        65536.0,
                        262144.0,
                        1048576.0,
                        4194304.0,
                        16777216.0,
                        67108864.0);
    }

    @Test
    void timeToFirstTokenIsRecordedOnlyForCallsThatHadOneUnderTheModelsAskedAndServed() {
        GatewayMetrics m = new GatewayMetrics(TASK_TYPES);
        // the route asked for Opus 4.6; its fallback, Opus 4.5, answered
        m.settled(call("synthesis", "claude-opus-4-5", "ok", "", Usage.of(10, 2), 250), "claude-opus-4-6");
        m.settled(call("extraction", "claude-haiku-4-5", "ok", "", Usage.of(10, 2), -1), "claude-haiku-4-5");

        String s = m.scrape();
        String fallback = genAi("claude-opus-4-6", "claude-opus-4-5", "synthesis");
        assertThat(s)
                .contains("# HELP gen_ai_server_time_to_first_token_seconds Arrival to the first content_block_delta")
                .contains("gen_ai_server_time_to_first_token_seconds_count{" + fallback + "} 1")
                .contains("gen_ai_server_time_to_first_token_seconds_sum{" + fallback + "} 0.25")
                .contains("gen_ai_server_time_to_first_token_seconds_count{" + genAi("claude-haiku-4-5", "extraction")
                        + "} 0")
                .contains("gen_ai_client_operation_duration_seconds_count{" + fallback + "} 1");
    }

    @Test
    void callsThatGotNoUsageRecordNoTokenUsage() {
        GatewayMetrics m = new GatewayMetrics(TASK_TYPES);
        m.settled(
                call("extraction", "claude-haiku-4-5", "upstream_error", "overloaded_error", Usage.ZERO, -1),
                "claude-haiku-4-5");
        m.settled(call("extraction", "claude-haiku-4-5", "ok", "", Usage.of(10, 2), -1), "claude-haiku-4-5");

        assertThat(m.scrape())
                .contains("gen_ai_client_operation_duration_seconds_count{" + genAi("claude-haiku-4-5", "extraction")
                        + "} 2")
                .contains("gen_ai_client_token_usage_count{" + tokenUsage("claude-haiku-4-5", "extraction", "input")
                        + "} 1")
                .contains("gen_ai_client_token_usage_bucket{" + tokenUsage("claude-haiku-4-5", "extraction", "output")
                        + ",le=\"1.0\"} 0");
    }

    @Test
    void refusedCallsAreCountedButMeasureNothing() {
        GatewayMetrics m = new GatewayMetrics(TASK_TYPES);
        m.refused(CallRecord.denied(
                "tgreq_2",
                Instant.EPOCH,
                "agents",
                "team-a",
                "extraction",
                "small",
                "task:extraction",
                "",
                "",
                300,
                "rate_limit_error",
                false));

        assertThat(m.scrape())
                .contains("tiergate_requests_total{model=\"none\",status=\"denied\",task_type=\"extraction\","
                        + "tier=\"small\"} 1.0")
                .doesNotContain("gen_ai_")
                .doesNotContain("tiergate_tokens_total")
                .doesNotContain("tiergate_cost_usd_total");
    }

    @Test
    void softLimitCrossingsAreCountedPerBudgetAndWindowFromZero() {
        GatewayMetrics m = new GatewayMetrics(TASK_TYPES);
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
