package dev.tiergate.testing;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/** JSON and header helpers shared by the fake's scripts and server. */
final class Wire {
    // like the real API, which takes any request within its 32 MB limit: no 20M-character cap on one string
    static final ObjectMapper JSON = new ObjectMapper(JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder()
                    .maxStringLength(Integer.MAX_VALUE)
                    .build())
            .build());

    private Wire() {}

    static JsonNode requireObject(String what, String json) {
        try {
            JsonNode node = JSON.readTree(json);
            if (node == null || !node.isObject()) {
                throw new IllegalArgumentException(what + " must be a JSON object, got: " + json);
            }
            return node;
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(what + " must be a JSON object, got: " + json, e);
        }
    }

    static void requireStatus(int status) {
        if (status < 100 || status > 599) {
            throw new IllegalArgumentException("HTTP status must be 100..599, got " + status);
        }
    }

    static Map<String, String> lowerCaseKeys(Map<String, String> headers) {
        Map<String, String> lower = new LinkedHashMap<>();
        headers.forEach((name, value) -> lower.put(name.toLowerCase(Locale.ROOT), value));
        return Collections.unmodifiableMap(lower);
    }
}
