package dev.tiergate.pricing;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * Token counts of one call, by billing class, normalised from an Anthropic {@code usage} object.
 *
 * <p>All counts are tokens (web searches are requests) and never negative. {@link #inputTokens} is
 * uncached input only, as Anthropic reports it; the whole prompt is {@link #promptTokens()}.
 *
 * @param inputTokens uncached input tokens ({@code input_tokens})
 * @param outputTokens output tokens, thinking included ({@code output_tokens})
 * @param cacheWrite5mTokens tokens written to the 5-minute cache
 * @param cacheWrite1hTokens tokens written to the 1-hour cache
 * @param cacheReadTokens tokens read from the cache ({@code cache_read_input_tokens})
 * @param webSearchRequests server-side web searches ({@code server_tool_use.web_search_requests})
 */
public record Usage(
        long inputTokens,
        long outputTokens,
        long cacheWrite5mTokens,
        long cacheWrite1hTokens,
        long cacheReadTokens,
        long webSearchRequests) {

    /** No tokens at all. */
    public static final Usage ZERO = new Usage(0, 0, 0, 0, 0, 0);

    public Usage {
        requireNonNegative("input_tokens", inputTokens);
        requireNonNegative("output_tokens", outputTokens);
        requireNonNegative("cache 5m write tokens", cacheWrite5mTokens);
        requireNonNegative("cache 1h write tokens", cacheWrite1hTokens);
        requireNonNegative("cache_read_input_tokens", cacheReadTokens);
        requireNonNegative("web_search_requests", webSearchRequests);
    }

    /** Plain input and output tokens, nothing cached. */
    public static Usage of(long inputTokens, long outputTokens) {
        return new Usage(inputTokens, outputTokens, 0, 0, 0, 0);
    }

    /**
     * Reads an Anthropic {@code usage} object.
     *
     * <p>Missing or {@code null} fields count as zero (streaming deltas leave fields null). Cache writes come
     * from the {@code cache_creation} TTL split when present; a {@code cache_creation_input_tokens} total
     * without the split, or any part of the total the split does not account for, counts as 5-minute writes
     * (the cheaper class would under-count, but 5-minute is what Anthropic bills when no TTL is given).
     *
     * @throws IllegalArgumentException naming the field, if a count is negative, fractional or not a number
     */
    public static Usage fromJson(JsonNode usage) {
        if (!usage.isObject()) {
            throw new IllegalArgumentException("usage must be a JSON object, got " + usage.getNodeType());
        }
        long cacheCreationTotal = count(usage, "cache_creation_input_tokens");
        long write5m = 0;
        long write1h = 0;
        JsonNode split = usage.path("cache_creation");
        if (split.isObject()) {
            write5m = count(split, "ephemeral_5m_input_tokens", "cache_creation.");
            write1h = count(split, "ephemeral_1h_input_tokens", "cache_creation.");
        } else if (!split.isMissingNode() && !split.isNull()) {
            throw new IllegalArgumentException("usage.cache_creation must be an object, got " + split.getNodeType());
        }
        long unsplit = cacheCreationTotal - write5m - write1h;
        if (unsplit > 0) {
            write5m += unsplit;
        }
        long webSearches = 0;
        JsonNode serverTools = usage.path("server_tool_use");
        if (serverTools.isObject()) {
            webSearches = count(serverTools, "web_search_requests", "server_tool_use.");
        }
        return new Usage(
                count(usage, "input_tokens"),
                count(usage, "output_tokens"),
                write5m,
                write1h,
                count(usage, "cache_read_input_tokens"),
                webSearches);
    }

    /** The whole prompt: uncached input plus cache writes plus cache reads. */
    public long promptTokens() {
        return Math.addExact(
                Math.addExact(inputTokens, cacheReadTokens), Math.addExact(cacheWrite5mTokens, cacheWrite1hTokens));
    }

    /** All cache-write tokens, both TTLs. */
    public long cacheWriteTokens() {
        return Math.addExact(cacheWrite5mTokens, cacheWrite1hTokens);
    }

    /** Field-wise sum, e.g. to total a run. */
    public Usage plus(Usage other) {
        return new Usage(
                Math.addExact(inputTokens, other.inputTokens),
                Math.addExact(outputTokens, other.outputTokens),
                Math.addExact(cacheWrite5mTokens, other.cacheWrite5mTokens),
                Math.addExact(cacheWrite1hTokens, other.cacheWrite1hTokens),
                Math.addExact(cacheReadTokens, other.cacheReadTokens),
                Math.addExact(webSearchRequests, other.webSearchRequests));
    }

    private static long count(JsonNode parent, String field) {
        return count(parent, field, "");
    }

    private static long count(JsonNode parent, String field, String prefix) {
        JsonNode node = parent.path(field);
        if (node.isMissingNode() || node.isNull()) {
            return 0;
        }
        if (!node.isIntegralNumber() || !node.canConvertToLong()) {
            throw new IllegalArgumentException(
                    "usage." + prefix + field + " must be a whole number of tokens, got " + node);
        }
        long value = node.longValue();
        if (value < 0) {
            throw new IllegalArgumentException("usage." + prefix + field + " must not be negative, got " + value);
        }
        return value;
    }

    private static void requireNonNegative(String what, long value) {
        if (value < 0) {
            throw new IllegalArgumentException(what + " must not be negative, got " + value);
        }
    }
}
