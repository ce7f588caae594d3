package dev.tiergate.gateway;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/** Where finished calls go: a log line now, the ledger when one is configured. Implementations are thread-safe. */
@FunctionalInterface
public interface CallRecorder {

    /** Records one call; must not throw for a well-formed record. */
    void record(CallRecord call);

    /** One JSON line per call on the {@code tiergate.calls} logger. */
    static CallRecorder log() {
        System.Logger logger = System.getLogger("tiergate.calls");
        ObjectMapper json = new ObjectMapper();
        return call -> logger.log(System.Logger.Level.INFO, () -> toJson(json, call));
    }

    /** The JSON form of a call, as logged. */
    static String toJson(ObjectMapper json, CallRecord c) {
        ObjectNode n = json.createObjectNode();
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
        return n.toString();
    }
}
