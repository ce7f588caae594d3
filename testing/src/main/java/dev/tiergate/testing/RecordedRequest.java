package dev.tiergate.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.MissingNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One request {@link FakeAnthropic} received, as it arrived. Immutable, except that {@link #clientDisconnected()}
 * completes later if the client goes away while the response is being sent.
 *
 * <p>A class rather than a record: the body is a byte array, returned as a copy.
 */
public final class RecordedRequest {

    private final int sequence;
    private final String method;
    private final String target;
    private final List<Map.Entry<String, String>> headerLines;
    private final Map<String, List<String>> headers;
    private final byte[] body;
    private final boolean chunked;
    private final JsonNode json;
    private final CompletableFuture<Void> disconnected = new CompletableFuture<>();

    RecordedRequest(
            int sequence,
            String method,
            String target,
            List<Map.Entry<String, String>> headerLines,
            byte[] body,
            boolean chunked) {
        this.sequence = sequence;
        this.method = method;
        this.target = target;
        this.headerLines = List.copyOf(headerLines);
        TreeMap<String, List<String>> byName = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
        for (Map.Entry<String, String> line : headerLines) {
            byName.merge(line.getKey(), List.of(line.getValue()), (a, b) -> concat(a, b));
        }
        this.headers = byName;
        this.body = body.clone();
        this.chunked = chunked;
        this.json = parse(body);
    }

    /** 0 for the first request the fake received, then 1, 2, ... across all connections. */
    public int sequence() {
        return sequence;
    }

    /** The method, e.g. {@code POST}. */
    public String method() {
        return method;
    }

    /** The request target as sent, e.g. {@code /v1/messages?beta=true}. */
    public String target() {
        return target;
    }

    /** The path without any query, e.g. {@code /v1/messages}. */
    public String path() {
        int query = target.indexOf('?');
        return query < 0 ? target : target.substring(0, query);
    }

    /** The first value of a header, by case-insensitive name. */
    public Optional<String> header(String name) {
        List<String> values = headers.get(name);
        return values == null ? Optional.empty() : Optional.of(values.get(0));
    }

    /** Every value of a header, by case-insensitive name, in arrival order; empty if absent. */
    public List<String> headers(String name) {
        return headers.getOrDefault(name, List.of());
    }

    /** All header lines as (name, value) pairs, in arrival order, names as the client spelled them. */
    public List<Map.Entry<String, String>> headerLines() {
        return headerLines;
    }

    /** The body bytes, de-chunked; a copy. */
    public byte[] body() {
        return body.clone();
    }

    /** The body as UTF-8 text. */
    public String bodyUtf8() {
        return new String(body, StandardCharsets.UTF_8);
    }

    /** Whether the body came with {@code Transfer-Encoding: chunked} (else Content-Length or none). */
    public boolean chunked() {
        return chunked;
    }

    /** The body parsed as JSON; a {@link MissingNode} if it is empty or not JSON. A copy. */
    public JsonNode json() {
        return json.deepCopy();
    }

    /** The request's {@code model}, or empty. */
    public Optional<String> model() {
        JsonNode model = json.path("model");
        return model.isTextual() ? Optional.of(model.asText()) : Optional.empty();
    }

    /**
     * Completes when the client disconnects while the fake is still sending this request's response (a write
     * fails, or the client closes its side mid-stream). Never completes if the response finished.
     */
    public CompletableFuture<Void> clientDisconnected() {
        return disconnected.copy();
    }

    /** Waits up to {@code timeout} for {@link #clientDisconnected()}; {@code true} if the client went away. */
    public boolean awaitClientDisconnect(Duration timeout) {
        try {
            disconnected.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
            return true;
        } catch (TimeoutException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } catch (ExecutionException e) {
            throw new IllegalStateException("disconnect future never fails", e);
        }
    }

    void markClientDisconnected() {
        disconnected.complete(null);
    }

    @Override
    public String toString() {
        return "RecordedRequest#" + sequence + "[" + method + " " + target + ", " + body.length + " body bytes]";
    }

    private static List<String> concat(List<String> a, List<String> b) {
        return java.util.stream.Stream.concat(a.stream(), b.stream()).toList();
    }

    private static JsonNode parse(byte[] body) {
        if (body.length == 0) {
            return MissingNode.getInstance();
        }
        try {
            JsonNode node = Wire.JSON.readTree(body);
            return node == null ? MissingNode.getInstance() : node;
        } catch (IOException e) {
            return MissingNode.getInstance();
        }
    }
}
