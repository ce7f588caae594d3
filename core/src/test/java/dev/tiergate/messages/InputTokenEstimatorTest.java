package dev.tiergate.messages;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import org.junit.jupiter.api.Test;

class InputTokenEstimatorTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private final InputTokenEstimator classic = InputTokenEstimator.of(TokenizerFamily.CLASSIC);
    private final InputTokenEstimator newer = InputTokenEstimator.of(TokenizerFamily.CLAUDE_4_7_PLUS);

    private static JsonNode body(String json) {
        try {
            return JSON.readTree(json.replace('\'', '"'));
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void emptyTextIsZeroAndEmptyBodyIsTheRequestOverhead() {
        assertThat(classic.estimateText("")).isZero();
        assertThat(classic.estimate(body("{}"))).isEqualTo(InputTokenEstimator.TOKENS_PER_REQUEST);
        assertThat(classic.estimate(JSON.getNodeFactory().textNode("not an object")))
                .isEqualTo(InputTokenEstimator.TOKENS_PER_REQUEST);
    }

    @Test
    void countsEnglishWordsAboutOneTokenEach() {
        // The legacy tokenizer gives 10 tokens for this sentence.
        assertThat(classic.estimateText("The quick brown fox jumps over the lazy dog."))
                .isBetween(10L, 14L);
    }

    @Test
    void newerTokenizerFamilyScalesTextUp() {
        String text = "Budget admission must be conservative for every model family.";
        assertThat(newer.estimateText(text))
                .isEqualTo((long) Math.ceil(classic.estimateText(text) * TokenizerFamily.CLAUDE_4_7_PLUS.textFactor()));
    }

    @Test
    void stringAndBlockContentEstimateAlike() {
        long asString = classic.estimate(body("{'messages':[{'role':'user','content':'Hello there, how are you?'}]}"));
        long asBlock = classic.estimate(
                body("{'messages':[{'role':'user','content':[{'type':'text','text':'Hello there, how are you?'}]}]}"));
        assertThat(asBlock).isEqualTo(asString + InputTokenEstimator.TOKENS_PER_BLOCK);
    }

    @Test
    void countsSystemToolUseToolResultAndThinking() {
        long base = classic.estimate(body("{'messages':[]}"));
        long full = classic.estimate(body("{'system':[{'type':'text','text':'You are terse.'}],'messages':["
                + "{'role':'user','content':'Weather in Paris?'},"
                + "{'role':'assistant','content':[{'type':'thinking','thinking':'Need the weather tool.','signature':'x'},"
                + "{'type':'tool_use','id':'toolu_1','name':'get_weather','input':{'city':'Paris'}}]},"
                + "{'role':'user','content':[{'type':'tool_result','tool_use_id':'toolu_1','content':"
                + "[{'type':'text','text':'18 C, cloudy'}]}]}]}"));
        long text = classic.estimateText("You are terse.")
                + classic.estimateText("Weather in Paris?")
                + classic.estimateText("Need the weather tool.")
                + classic.estimateText("18 C, cloudy");
        assertThat(full - base).isGreaterThan(text + 3 * InputTokenEstimator.TOKENS_PER_MESSAGE);
    }

    @Test
    void toolsAddTheirSchemaAndTheToolUseSystemPrompt() {
        String messages = "'messages':[{'role':'user','content':'hi'}]";
        long without = classic.estimate(body("{" + messages + "}"));
        long with = classic.estimate(body("{" + messages + ",'tools':[{'name':'get_weather','description':"
                + "'Get the weather for a city','input_schema':{'type':'object','properties':{'city':"
                + "{'type':'string'}},'required':['city']}}]}"));
        assertThat(with - without)
                .isGreaterThan(
                        InputTokenEstimator.TOOL_USE_SYSTEM_PROMPT_TOKENS + InputTokenEstimator.TOKENS_PER_TOOL + 20);
        long serverTool = classic.estimate(body("{" + messages + ",'tools':[{'type':'bash_20250124','name':'bash'}]}"));
        assertThat(serverTool - without).isGreaterThan(InputTokenEstimator.TOKENS_PER_SERVER_TOOL);
    }

    @Test
    void imagesUseHeaderDimensionsElseTheFamilyCap() {
        String small = png(280, 140); // 10 x 5 patches; area rule 52.3 -> 53
        long base = classic.estimate(body("{'messages':[{'role':'user','content':[]}]}"));
        long withSmall = classic.estimate(image(small));
        assertThat(withSmall - base - InputTokenEstimator.TOKENS_PER_BLOCK).isEqualTo(53);
        long withHuge = classic.estimate(image(png(8000, 6000)));
        assertThat(withHuge - base - InputTokenEstimator.TOKENS_PER_BLOCK).isEqualTo(1_600);
        long unknown = newer.estimate(body("{'messages':[{'role':'user','content':[{'type':'image','source':"
                + "{'type':'url','url':'https://example.com/a.jpg'}}]}]}"));
        long newerBase = newer.estimate(body("{'messages':[{'role':'user','content':[]}]}"));
        assertThat(unknown - newerBase).isGreaterThanOrEqualTo(4_800);
    }

    @Test
    void countsPdfPageObjectsButNotThePageTree() {
        String pdf = "%PDF-1.4\n1 0 obj <</Type /Pages /Kids [2 0 R 3 0 R] /Count 2>> endobj\n"
                + "2 0 obj <</Type /Page /Parent 1 0 R>> endobj\n3 0 obj <</Type/Page/Parent 1 0 R>> endobj\n";
        String base64 = Base64.getEncoder().encodeToString(pdf.getBytes(StandardCharsets.ISO_8859_1));
        assertThat(InputTokenEstimator.pdfPages(base64)).isEqualTo(2);
        assertThat(InputTokenEstimator.pdfPages(Base64.getEncoder().encodeToString(new byte[9_000])))
                .isEqualTo(3);
        long base = classic.estimate(body("{'messages':[{'role':'user','content':[]}]}"));
        long withPdf = classic.estimate(body("{'messages':[{'role':'user','content':[{'type':'document','source':"
                + "{'type':'base64','media_type':'application/pdf','data':'" + base64 + "'}}]}]}"));
        assertThat(withPdf - base - InputTokenEstimator.TOKENS_PER_BLOCK)
                .isEqualTo(2 * (InputTokenEstimator.PDF_TOKENS_PER_PAGE_TEXT + 1_600));
    }

    @Test
    void unknownBlockTypesCountTheirWholeJson() {
        long base = classic.estimate(body("{'messages':[{'role':'user','content':[]}]}"));
        long unknown = classic.estimate(body("{'messages':[{'role':'user','content':[{'type':'search_result',"
                + "'source':'https://example.com','title':'Result','content':[{'type':'text','text':"
                + "'A long enough passage of text to matter.'}]}]}]}"));
        assertThat(unknown - base).isGreaterThan(classic.estimateText("A long enough passage of text to matter."));
    }

    @Test
    void nonLatinScriptsCostMoreThanAscii() {
        assertThat(classic.estimateText("你好世界")).isGreaterThanOrEqualTo(4);
        assertThat(classic.estimateText("😀😂")).isGreaterThanOrEqualTo(6);
        // A lone surrogate is still counted, never dropped or thrown on.
        assertThat(classic.estimateText("a\uD800")).isGreaterThanOrEqualTo(3);
    }

    @Test
    void workIsLinearInInputSize() {
        // No regular expressions and one pass: doubling the input doubles the estimate, and a 4 MB text is quick.
        String chunk = "Routing decisions depend on budgets; see STYLE.md §3. id=550e8400 {\"k\": [1, 2]}\n";
        String big = chunk.repeat(50_000);
        long once = classic.estimateText(big);
        assertThat(classic.estimateText(big + big)).isBetween(2 * once - 2, 2 * once + 2);
        long start = System.nanoTime();
        for (int i = 0; i < 5; i++) {
            classic.estimateText(big);
        }
        assertThat((System.nanoTime() - start) / 5)
                .as("nanos per 4 MB estimate")
                .isLessThan(2_000_000_000L);
    }

    @Test
    void rejectsFactorsBelowOne() {
        assertThatThrownBy(() -> new TokenizerFamily("x", 0.9, 1_600))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("textFactor 0.9");
        assertThatThrownBy(() -> new TokenizerFamily("x", Double.NaN, 1_600))
                .isInstanceOf(IllegalArgumentException.class);
    }

    private static JsonNode image(String base64Png) {
        return body("{'messages':[{'role':'user','content':[{'type':'image','source':"
                + "{'type':'base64','media_type':'image/png','data':'" + base64Png + "'}}]}]}");
    }

    private static String png(int width, int height) {
        ByteBuffer header = ByteBuffer.allocate(33);
        header.put(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'});
        header.putInt(13).put(new byte[] {'I', 'H', 'D', 'R'}).putInt(width).putInt(height);
        return Base64.getEncoder().encodeToString(header.array());
    }
}
