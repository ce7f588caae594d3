package dev.tiergate.gateway;

import com.fasterxml.jackson.core.io.JsonStringEncoder;

/** Where finished calls go: a log line now, the ledger when one is configured. Implementations are thread-safe. */
@FunctionalInterface
public interface CallRecorder {

    /** Records one call; must not throw for a well-formed record. */
    void record(CallRecord call);

    /**
     * One JSON line per call on the {@code tiergate.calls} logger (java.util.logging). The source is given, not
     * inferred: inferring it walks the stack on every call.
     */
    static CallRecorder log() {
        java.util.logging.Logger logger = java.util.logging.Logger.getLogger("tiergate.calls");
        return call -> {
            if (logger.isLoggable(java.util.logging.Level.INFO)) {
                logger.logp(java.util.logging.Level.INFO, CallRecorder.class.getName(), "record", toJson(call));
            }
        };
    }

    /** The JSON form of a call, as logged: one object, fields in a fixed order, strings escaped as Jackson does. */
    static String toJson(CallRecord c) {
        StringBuilder b = new StringBuilder(640);
        b.append('{');
        string(b, "request_id", c.requestId());
        string(b, "time", c.time().toString());
        string(b, "key", c.keyName());
        string(b, "team", c.team());
        string(b, "task_type", c.taskType());
        string(b, "tier", c.tier());
        string(b, "requested_model", c.requestedModel());
        string(b, "served_model", c.servedModel());
        string(b, "run", c.runId());
        string(b, "agent", c.agentId());
        number(b, "input_tokens", c.usage().inputTokens());
        number(b, "cache_write_5m_tokens", c.usage().cacheWrite5mTokens());
        number(b, "cache_write_1h_tokens", c.usage().cacheWrite1hTokens());
        number(b, "cache_read_tokens", c.usage().cacheReadTokens());
        number(b, "output_tokens", c.usage().outputTokens());
        string(b, "cost_usd", c.cost().toUsdString());
        number(b, "latency_ms", c.latencyMillis());
        number(b, "ttft_ms", c.timeToFirstTokenMillis());
        string(b, "stop_reason", c.stopReason());
        number(b, "max_tokens", c.maxTokens());
        bool(b, "hit_cap", c.hitCap());
        string(b, "status", c.status());
        string(b, "error_type", c.errorType());
        bool(b, "stream", c.stream());
        number(b, "attempts", c.attempts());
        number(b, "unanswered_attempts", c.unansweredAttempts());
        b.setCharAt(b.length() - 1, '}');
        return b.toString();
    }

    private static void string(StringBuilder b, String name, String value) {
        b.append('"').append(name).append("\":\"");
        JsonStringEncoder.getInstance().quoteAsString(value, b);
        b.append("\",");
    }

    private static void number(StringBuilder b, String name, long value) {
        b.append('"').append(name).append("\":").append(value).append(',');
    }

    private static void bool(StringBuilder b, String name, boolean value) {
        b.append('"').append(name).append("\":").append(value).append(',');
    }
}
