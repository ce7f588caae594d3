package dev.tiergate.messages;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.io.JsonStringEncoder;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.OptionalLong;

/**
 * Rewrites the top-level {@code model} and {@code max_tokens} of a JSON request body and leaves every other
 * byte exactly as the caller sent it: field order, number formats, unknown fields, whitespace.
 *
 * <p>Re-serialising a parsed tree would change number spellings ({@code 1e3}, {@code 1.50}) and could reorder
 * or re-escape content the upstream then sees differently; splicing the two values in place cannot. A field
 * that is absent is inserted right after the opening brace. Thread-safe.
 */
public final class BodyRewriter {
    private static final JsonFactory JSON = RequestJson.factory();

    private BodyRewriter() {}

    /**
     * The body with {@code model} set to {@code model} and, if {@code maxTokens} is present, {@code max_tokens}
     * set to it. A {@code max_tokens} already in the body is left as is when {@code maxTokens} is empty.
     *
     * @param body a JSON object, already validated by the caller
     * @throws IllegalArgumentException if the body is not a JSON object
     */
    public static byte[] rewrite(byte[] body, String model, OptionalLong maxTokens) {
        Span modelSpan = null;
        Span maxSpan = null;
        int objectStart = -1;
        try (JsonParser p = JSON.createParser(body)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new IllegalArgumentException("request body must be a JSON object");
            }
            objectStart = (int) p.currentTokenLocation().getByteOffset();
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                JsonToken value = p.nextToken();
                int start = (int) p.currentTokenLocation().getByteOffset();
                if (value == JsonToken.START_OBJECT || value == JsonToken.START_ARRAY) {
                    p.skipChildren();
                } else {
                    // Forces the parser to consume the whole scalar so currentLocation() is its end.
                    p.getText();
                }
                int end = (int) p.currentLocation().getByteOffset();
                if (name.equals("model")) {
                    modelSpan = new Span(start, end);
                } else if (name.equals("max_tokens")) {
                    maxSpan = new Span(start, end);
                }
            }
        } catch (IOException e) {
            throw new IllegalArgumentException("request body is not valid JSON: " + e.getMessage(), e);
        }
        String modelJson = "\"" + new String(JsonStringEncoder.getInstance().quoteAsString(model)) + "\"";
        ByteArrayOutputStream out = new ByteArrayOutputStream(body.length + 64);
        StringBuilder inserted = new StringBuilder();
        if (modelSpan == null) {
            inserted.append("\"model\":").append(modelJson).append(',');
        }
        if (maxSpan == null && maxTokens.isPresent()) {
            inserted.append("\"max_tokens\":").append(maxTokens.getAsLong()).append(',');
        }
        int cursor = objectStart + 1;
        out.write(body, 0, cursor);
        if (!inserted.isEmpty()) {
            byte[] ins = inserted.toString().getBytes(StandardCharsets.UTF_8);
            // An empty object gets no trailing comma.
            int len = isEmptyObject(body, cursor) ? ins.length - 1 : ins.length;
            out.write(ins, 0, len);
        }
        Span first = modelSpan;
        Span second = maxTokens.isPresent() ? maxSpan : null;
        if (first != null && second != null && second.start < first.start) {
            Span t = first;
            first = second;
            second = t;
        }
        for (Span span : new Span[] {first, second}) {
            if (span == null) {
                continue;
            }
            out.write(body, cursor, span.start - cursor);
            String replacement = span.equals(modelSpan) ? modelJson : Long.toString(maxTokens.orElseThrow());
            byte[] r = replacement.getBytes(StandardCharsets.UTF_8);
            out.write(r, 0, r.length);
            cursor = span.end;
        }
        out.write(body, cursor, body.length - cursor);
        return out.toByteArray();
    }

    private static boolean isEmptyObject(byte[] body, int afterBrace) {
        for (int i = afterBrace; i < body.length; i++) {
            byte b = body[i];
            if (b == '}') {
                return true;
            }
            if (b != ' ' && b != '\n' && b != '\r' && b != '\t') {
                return false;
            }
        }
        return false;
    }

    private record Span(int start, int end) {}

    static {
        // Fail fast if Jackson ever stops reporting byte offsets for byte[] input.
        try (JsonParser p = JSON.createParser("{\"a\":1}".getBytes(StandardCharsets.UTF_8))) {
            p.nextToken();
            p.nextToken();
            p.nextToken();
            if (p.currentTokenLocation().getByteOffset() != 5) {
                throw new IllegalStateException("Jackson does not report byte offsets; BodyRewriter cannot splice");
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
