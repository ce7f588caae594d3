package dev.tiergate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tiergate.pricing.Money;
import dev.tiergate.pricing.Usage;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class CallRecorderTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The log line as it was written through a Jackson tree, before it was written by hand. */
    private static String treeJson(CallRecord c) {
        ObjectNode n = JSON.createObjectNode();
        n.put("request_id", c.requestId());
        n.put("time", c.time().toString());
        n.put("key", c.keyName());
        n.put("team", c.team());
        n.put("task_type", c.taskType());
        n.put("tier", c.tier());
        n.put("requested_model", c.requestedModel());
        n.put("served_model", c.servedModel());
        n.put("run", c.runId());
        n.put("agent", c.agentId());
        n.put("input_tokens", c.usage().inputTokens());
        n.put("cache_write_5m_tokens", c.usage().cacheWrite5mTokens());
        n.put("cache_write_1h_tokens", c.usage().cacheWrite1hTokens());
        n.put("cache_read_tokens", c.usage().cacheReadTokens());
        n.put("output_tokens", c.usage().outputTokens());
        n.put("cost_usd", c.cost().toUsdString());
        n.put("latency_ms", c.latencyMillis());
        n.put("ttft_ms", c.timeToFirstTokenMillis());
        n.put("stop_reason", c.stopReason());
        n.put("max_tokens", c.maxTokens());
        n.put("hit_cap", c.hitCap());
        n.put("status", c.status());
        n.put("error_type", c.errorType());
        n.put("stream", c.stream());
        n.put("attempts", c.attempts());
        n.put("unanswered_attempts", c.unansweredAttempts());
        return n.toString();
    }

    private static CallRecord call(String task, String run, String agent) {
        return new CallRecord(
                "tgreq_1",
                Instant.parse("2026-11-29T10:00:00.123456789Z"),
                "agents",
                "team-a",
                task,
                "small",
                "task:extraction",
                "claude-haiku-4-5-20251001",
                run,
                agent,
                new Usage(1200, 77, 3, 4, 5, 0),
                Money.ofNanos(123_456_789),
                812,
                -1,
                "max_tokens",
                300,
                true,
                "ok",
                "",
                true,
                3,
                1);
    }

    @Test
    void logLineIsTheJsonTheJacksonTreeWrote() {
        CallRecord plain = call("extraction", "", "");
        assertThat(CallRecorder.toJson(plain)).isEqualTo(treeJson(plain));
    }

    @Test
    void callerSuppliedTextIsEscapedAsJacksonEscapesIt() throws Exception {
        // Task type, run and agent come from request headers: quotes, backslashes, controls and non-ASCII.
        CallRecord odd = call("say \"hi\"\\now", "run\u0001\t\n\r\b\f", "agent-é-\u2028-😀");
        String line = CallRecorder.toJson(odd);
        assertThat(line).isEqualTo(treeJson(odd)).doesNotContain("\n");
        assertThat(JSON.readTree(line).path("task_type").asText()).isEqualTo("say \"hi\"\\now");
    }
}
