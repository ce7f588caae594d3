package dev.tiergate.messages;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

class BodyRewriterTest {

    private static String rewrite(String body, String model, OptionalLong max) {
        return new String(
                BodyRewriter.rewrite(body.getBytes(StandardCharsets.UTF_8), model, max), StandardCharsets.UTF_8);
    }

    @Test
    void replacesModelAndMaxTokensAndKeepsEveryOtherByte() {
        String body = "{ \"model\" : \"task:extraction\",\n  \"max_tokens\": 4096, \"temperature\": 1.50,"
                + " \"x_unknown\": {\"n\": 1e3, \"s\": \"caf\\u00e9 \\\"q\\\"\"}, \"messages\": [{\"role\":\"user\","
                + "\"content\":\"hi\"}] }";
        String out = rewrite(body, "claude-haiku-4-5-20251001", OptionalLong.of(300));
        assertThat(out)
                .isEqualTo(body.replace("\"task:extraction\"", "\"claude-haiku-4-5-20251001\"")
                        .replace("4096", "300"));
    }

    @Test
    void aTopLevelStringOverJacksonsDefault20MillionCharactersIsKept() {
        // a system prompt (or any top-level string) of 20,000,001 characters: the body limit bounds it, not Jackson
        String big = "s".repeat(20_000_001);
        String body = "{\"model\":\"task:x\",\"system\":\"" + big + "\",\"max_tokens\":10}";

        assertThat(rewrite(body, "m", OptionalLong.of(5)))
                .isEqualTo("{\"model\":\"m\",\"system\":\"" + big + "\",\"max_tokens\":5}");
    }

    @Test
    void worksWhenMaxTokensComesBeforeModel() {
        assertThat(rewrite("{\"max_tokens\":10,\"model\":\"a\",\"messages\":[]}", "bb", OptionalLong.of(7)))
                .isEqualTo("{\"max_tokens\":7,\"model\":\"bb\",\"messages\":[]}");
    }

    @Test
    void insertsMissingFieldsAfterTheOpeningBrace() {
        assertThat(rewrite("{\"messages\":[]}", "m", OptionalLong.of(5)))
                .isEqualTo("{\"model\":\"m\",\"max_tokens\":5,\"messages\":[]}");
        assertThat(rewrite("{ }", "m", OptionalLong.of(5))).isEqualTo("{\"model\":\"m\",\"max_tokens\":5 }");
    }

    @Test
    void leavesMaxTokensAloneWhenNoCapIsGiven() {
        assertThat(rewrite("{\"model\":\"a\",\"max_tokens\":9}", "b", OptionalLong.empty()))
                .isEqualTo("{\"model\":\"b\",\"max_tokens\":9}");
    }

    @Test
    void nestedModelFieldsAreNotTouched() {
        assertThat(rewrite("{\"metadata\":{\"model\":\"x\"},\"model\":\"a\"}", "b", OptionalLong.empty()))
                .isEqualTo("{\"metadata\":{\"model\":\"x\"},\"model\":\"b\"}");
    }

    @Test
    void escapesTheModelName() {
        assertThat(rewrite("{\"model\":\"a\"}", "we\"ird", OptionalLong.empty()))
                .isEqualTo("{\"model\":\"we\\\"ird\"}");
    }

    @Test
    void multiByteContentBeforeTheFieldsKeepsOffsetsRight() {
        String body = "{\"system\":\"日本語 ✓ 😀\",\"model\":\"a\",\"max_tokens\":1}";
        assertThat(rewrite(body, "b", OptionalLong.of(2)))
                .isEqualTo("{\"system\":\"日本語 ✓ 😀\",\"model\":\"b\",\"max_tokens\":2}");
    }

    @Test
    void rejectsNonObjects() {
        assertThatThrownBy(() -> rewrite("[1]", "m", OptionalLong.empty()))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
