package dev.tiergate.messages;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;

/**
 * A running, conservative estimate of the output tokens a Messages stream has carried so far: the text, thinking
 * and tool-input JSON of its {@code content_block_delta} events, counted as {@link InputTokenEstimator#estimateText}
 * counts text. For a stream its caller left before the {@code message_delta} that reports the final usage, whose
 * reported output ({@code message_start}'s, usually 1 token) says nothing of what was streamed since.
 *
 * <p>What it cannot see is not counted: reasoning a model did not stream (a thinking summary stands for more), and
 * whatever it generated after the last event read. A delta of a type it does not know is counted as its whole JSON,
 * so a new kind of output is over-counted, never dropped. Not thread-safe: one per stream.
 */
public final class StreamedOutputEstimate {
    private static final JsonFactory JSON = new JsonFactory();

    private final InputTokenEstimator estimator;
    private final TextTokenCounter counter = new TextTokenCounter();

    /** An estimate for a stream from a model of {@code family}. */
    public StreamedOutputEstimate(TokenizerFamily family) {
        this.estimator = InputTokenEstimator.of(family);
    }

    /** Counts one {@code content_block_delta} event's data (a JSON object). */
    public void accept(String contentBlockDelta) {
        try (JsonParser p = JSON.createParser(contentBlockDelta)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                counter.accept(contentBlockDelta);
                return;
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                p.nextToken();
                if (field.equals("delta") && p.currentToken() == JsonToken.START_OBJECT) {
                    if (!countDelta(p)) {
                        counter.accept(contentBlockDelta);
                    }
                    return;
                }
                p.skipChildren();
            }
            counter.accept(contentBlockDelta); // no delta object: unknown, counted whole
        } catch (IOException e) {
            counter.accept(contentBlockDelta); // not JSON: counted whole, as the caller got it
        }
    }

    /**
     * Counts the output in the {@code delta} object the parser is at; false if it is of no known type, for the
     * caller to count whole. Known: {@code text_delta} (text), {@code thinking_delta} (thinking), {@code
     * input_json_delta} (partial_json), and {@code signature_delta} and {@code citations_delta}, which carry no
     * generated text.
     */
    private boolean countDelta(JsonParser p) throws IOException {
        boolean known = false;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            JsonToken value = p.nextToken();
            if (value == JsonToken.VALUE_STRING) {
                switch (field) {
                    case "type" ->
                        known = switch (p.getText()) {
                            case "text_delta",
                                    "thinking_delta",
                                    "input_json_delta",
                                    "signature_delta",
                                    "citations_delta" -> true;
                            default -> false;
                        };
                    case "text", "thinking", "partial_json" -> {
                        char[] chars = p.getTextCharacters();
                        int end = p.getTextOffset() + p.getTextLength();
                        for (int i = p.getTextOffset(); i < end; i++) {
                            counter.accept(chars[i]);
                        }
                    }
                    default -> {}
                }
            } else {
                p.skipChildren();
            }
        }
        return known;
    }

    /** Output tokens streamed so far, as conservative as {@link InputTokenEstimator#estimateText} (docs/token-estimate.md). */
    public long tokens() {
        return estimator.scaled(counter.millitokens());
    }
}
