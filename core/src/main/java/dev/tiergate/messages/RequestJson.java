package dev.tiergate.messages;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Jackson set up to read whole Messages request bodies, whose size the gateway's body limit bounds.
 *
 * <p>Why: Jackson's defaults refuse any single string over 20,000,000 characters, so a legitimate request well
 * under the 32 MB body limit, such as one carrying a 15-24 MB base64 PDF or image, would be refused as invalid
 * JSON. The body limit ({@code max_body_bytes}) is the bound that matters; the other defaults (nesting depth,
 * number length) stay.
 */
public final class RequestJson {
    private static final StreamReadConstraints CONSTRAINTS =
            StreamReadConstraints.builder().maxStringLength(Integer.MAX_VALUE).build();

    private RequestJson() {}

    /** A streaming factory for request bodies. */
    public static JsonFactory factory() {
        return JsonFactory.builder().streamReadConstraints(CONSTRAINTS).build();
    }

    /** An object mapper for request bodies. */
    public static ObjectMapper mapper() {
        return new ObjectMapper(factory());
    }
}
