package dev.tiergate.gateway;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tiergate.messages.RequestJson;
import java.util.OptionalLong;

/**
 * A caller's Messages (or count_tokens) body, checked for the fields the gateway relies on: {@code model}
 * ("" if absent), {@code max_tokens}, {@code stream}, {@code messages}, {@code system}. Everything else in the
 * body is the upstream's business and passes through untouched.
 */
final class ParsedRequest {
    private static final ObjectMapper JSON = RequestJson.mapper();

    private final byte[] raw;
    private final JsonNode json;
    private final String model;
    private final OptionalLong maxTokens;
    private final boolean stream;

    private ParsedRequest(byte[] raw, JsonNode json, String model, OptionalLong maxTokens, boolean stream) {
        this.raw = raw;
        this.json = json;
        this.model = model;
        this.maxTokens = maxTokens;
        this.stream = stream;
    }

    /** The body as received; not copied (the gateway never modifies it, it splices a new array). */
    byte[] raw() {
        return raw;
    }

    JsonNode json() {
        return json;
    }

    String model() {
        return model;
    }

    OptionalLong maxTokens() {
        return maxTokens;
    }

    boolean stream() {
        return stream;
    }

    /** Parses and checks a body; the error names the field and what is wrong with it. */
    static Either parse(byte[] raw, boolean requireMessages) {
        JsonNode json;
        try {
            json = JSON.readTree(raw);
        } catch (JsonProcessingException e) {
            var loc = e.getLocation();
            return new Either.Bad(new GatewayError.BadRequest("request body is not valid JSON"
                    + (loc == null ? "" : " at line " + loc.getLineNr() + ", column " + loc.getColumnNr()) + ": "
                    + e.getOriginalMessage()));
        } catch (java.io.IOException e) {
            return new Either.Bad(new GatewayError.BadRequest("request body could not be read: " + e.getMessage()));
        }
        if (json == null || !json.isObject()) {
            return new Either.Bad(new GatewayError.BadRequest("request body must be a JSON object"));
        }
        JsonNode messages = json.path("messages");
        if (requireMessages && messages.isMissingNode()) {
            return new Either.Bad(new GatewayError.BadRequest("messages: Field required"));
        }
        if (!messages.isMissingNode() && !messages.isArray()) {
            return new Either.Bad(new GatewayError.BadRequest("messages: Input should be a valid list, got "
                    + messages.getNodeType().name().toLowerCase(java.util.Locale.ROOT)));
        }
        JsonNode model = json.path("model");
        if (!model.isMissingNode() && !model.isTextual()) {
            return new Either.Bad(new GatewayError.BadRequest("model: Input should be a valid string"));
        }
        JsonNode max = json.path("max_tokens");
        OptionalLong maxTokens = OptionalLong.empty();
        if (!max.isMissingNode() && !max.isNull()) {
            if (!max.isIntegralNumber() || !max.canConvertToLong() || max.longValue() < 0) {
                return new Either.Bad(
                        new GatewayError.BadRequest("max_tokens: Input should be a non-negative integer, got " + max));
            }
            maxTokens = OptionalLong.of(max.longValue());
        }
        JsonNode stream = json.path("stream");
        if (!stream.isMissingNode() && !stream.isNull() && !stream.isBoolean()) {
            return new Either.Bad(
                    new GatewayError.BadRequest("stream: Input should be a valid boolean, got " + stream));
        }
        JsonNode system = json.path("system");
        if (!system.isMissingNode() && !system.isNull() && !system.isTextual() && !system.isArray()) {
            return new Either.Bad(
                    new GatewayError.BadRequest("system: Input should be a string or a list of text blocks"));
        }
        return new Either.Ok(new ParsedRequest(raw, json, model.asText(""), maxTokens, stream.asBoolean(false)));
    }

    /** A parsed request or the error that stops it. */
    sealed interface Either {
        record Ok(ParsedRequest request) implements Either {}

        record Bad(GatewayError.BadRequest error) implements Either {}
    }
}
