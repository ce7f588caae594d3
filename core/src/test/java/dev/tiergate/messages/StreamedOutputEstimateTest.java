package dev.tiergate.messages;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class StreamedOutputEstimateTest {
    private static final TokenizerFamily FAMILY = TokenizerFamily.CLAUDE_4_7_PLUS;
    private static final InputTokenEstimator TEXT = InputTokenEstimator.of(FAMILY);

    private static String delta(String type, String field, String jsonString) {
        return "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"" + type + "\",\"" + field + "\":"
                + jsonString + "}}";
    }

    @Test
    void textStreamedInPiecesCountsAsTheWholeTextWould() {
        StreamedOutputEstimate e = new StreamedOutputEstimate(FAMILY);
        for (String piece : new String[] {"\"Hello\"", "\" wor\"", "\"ld, getUserName()\"", "\" 12345!\""}) {
            e.accept(delta("text_delta", "text", piece));
        }

        assertThat(e.tokens()).isEqualTo(TEXT.estimateText("Hello world, getUserName() 12345!"));
        assertThat(e.tokens()).isPositive();
    }

    @Test
    void thinkingAndToolInputCountAndEscapesAreReadAsTheCharactersTheyStandFor() {
        StreamedOutputEstimate e = new StreamedOutputEstimate(FAMILY);
        e.accept(delta("thinking_delta", "thinking", "\"Let me think.\\nStep \\\"one\\\"\""));
        e.accept(delta("input_json_delta", "partial_json", "\"{\\\"city\\\": \\\"Par\""));
        e.accept(delta("signature_delta", "signature", "\"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds\""));

        assertThat(e.tokens()).isEqualTo(TEXT.estimateText("Let me think.\nStep \"one\"{\"city\": \"Par"));
    }

    @Test
    void aSignatureAloneIsNoOutputText() {
        StreamedOutputEstimate e = new StreamedOutputEstimate(FAMILY);
        e.accept(delta("signature_delta", "signature", "\"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds\""));

        assertThat(e.tokens()).isZero();
    }

    @Test
    void aDeltaOfATypeNotKnownOrNotJsonIsCountedWholeNeverDropped() {
        String unknown = delta("hologram_delta", "frames", "\"abc\"");
        StreamedOutputEstimate e = new StreamedOutputEstimate(FAMILY);
        e.accept(unknown);
        assertThat(e.tokens()).isEqualTo(TEXT.estimateText(unknown)).isPositive();

        StreamedOutputEstimate broken = new StreamedOutputEstimate(FAMILY);
        broken.accept("{\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"cut");
        assertThat(broken.tokens()).isPositive();
    }
}
