package dev.tiergate.messages;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Base64;

/**
 * A conservative estimate of the input tokens a Messages API request will be billed for, used to admit a request
 * against a budget before it is sent.
 *
 * <p>The estimate is meant to be an upper bound: on the measured corpus it is never below the legacy Claude
 * tokenizer's count by more than {@link #DOCUMENTED_UNDERESTIMATE_BOUND} (15%), and on natural text, code and
 * JSON it is 1.0-2.3 times that count (median about 1.3). See {@code docs/token-estimate.md} for the method,
 * weights, corpus and measurements. Current models' tokenizers are not public, hence the {@link TokenizerFamily}
 * factor; when an exact number matters, call {@code count_tokens}.
 *
 * <p>What is counted: the text of {@code system} (string or text blocks); every message's content (string, text
 * blocks, {@code tool_use} name and input JSON, {@code tool_result} content, thinking text, document text);
 * tool definitions (name, description, input schema as JSON); a fixed overhead per request, message, content
 * block and tool; the tool-use system prompt when tools are present; images and PDFs by the rules on
 * {@link #IMAGE_TOKENS_PER_PIXEL_DIVISOR} and {@link #PDF_TOKENS_PER_PAGE_TEXT}. Unknown block types are
 * counted as their whole JSON, so new wire features are over- rather than under-estimated.
 *
 * <p>Thread-safe and stateless apart from its configuration; each call allocates only a small counter. Work is
 * linear in the size of the body, with no regular expressions.
 */
public final class InputTokenEstimator {

    /**
     * The documented worst underestimate, as a fraction of the legacy tokenizer's count: the estimate is at least
     * {@code (1 - bound) * true tokens} on every measured sample.
     */
    public static final double DOCUMENTED_UNDERESTIMATE_BOUND = 0.15;

    /** Formatting tokens per request (turn markers, start of prompt). Not measured: chosen generously. */
    public static final long TOKENS_PER_REQUEST = 16;

    /** Formatting tokens per message (role marker, separators). Not measured: chosen generously. */
    public static final long TOKENS_PER_MESSAGE = 8;

    /** Formatting tokens per content block or system block. Not measured: chosen generously. */
    public static final long TOKENS_PER_BLOCK = 4;

    /** Formatting tokens per tool definition, beyond its serialized JSON. Not measured: chosen generously. */
    public static final long TOKENS_PER_TOOL = 16;

    /**
     * The tool-use system prompt added when {@code tools} is non-empty. Anthropic's tool-use pricing page lists
     * 159-530 tokens depending on model and {@code tool_choice} (530: Claude 3 Opus, auto); third-party copies
     * of the current page give 346 (auto/none) and 313 (any/tool). We take the largest documented value.
     */
    public static final long TOOL_USE_SYSTEM_PROMPT_TOKENS = 530;

    /**
     * Extra tokens per Anthropic-defined tool (a tool with a {@code type} but no {@code input_schema}, such as
     * bash, text editor, computer use, web search), whose definition is expanded server-side. Documented examples:
     * bash 245, text editor 700, computer use 735 plus a system prompt of about 500.
     */
    public static final long TOKENS_PER_SERVER_TOOL = 1_300;

    /** Image tokens are about {@code width * height / 750} (Anthropic vision docs). */
    public static final long IMAGE_TOKENS_PER_PIXEL_DIVISOR = 750;

    /**
     * Text tokens per PDF page: Anthropic documents 1,500-3,000 per page depending on density; each page is
     * also billed as an image, capped by {@link TokenizerFamily#maxImageTokens()}.
     */
    public static final long PDF_TOKENS_PER_PAGE_TEXT = 3_000;

    /**
     * Pages assumed for a PDF whose pages cannot be counted: a URL or file reference, or a base64 PDF whose page
     * objects are all inside compressed object streams is sized at one page per this many bytes, at least one.
     */
    public static final long PDF_BYTES_PER_PAGE_FALLBACK = 3_000;

    /** Pages assumed for a PDF given by URL or file id, whose size the gateway does not see. */
    public static final long PDF_PAGES_UNKNOWN = 100;

    private static final ObjectMapper JSON = new ObjectMapper();

    private final TokenizerFamily family;

    private InputTokenEstimator(TokenizerFamily family) {
        this.family = family;
    }

    /** An estimator for models of {@code family}. */
    public static InputTokenEstimator of(TokenizerFamily family) {
        return new InputTokenEstimator(family);
    }

    /** The family whose factor and image cap this estimator applies. */
    public TokenizerFamily family() {
        return family;
    }

    /**
     * Conservative input tokens of raw text for this family: the calibrated character-class estimate times
     * {@link TokenizerFamily#textFactor()}, rounded up. Zero for empty text; no formatting overhead is added.
     */
    public long estimateText(CharSequence text) {
        TextTokenCounter counter = new TextTokenCounter();
        counter.accept(text);
        return scaled(counter.millitokens());
    }

    /**
     * Conservative billed input tokens for a Messages (or {@code count_tokens}) request body: all text, tool
     * definitions and formatting overheads, scaled by the family factor, plus images and PDFs (not scaled).
     * Cached and uncached input are not distinguished: this is the whole prompt. A body that is not an object, or
     * lacks {@code messages}, is estimated from what is there (at least the per-request overhead).
     */
    public long estimate(JsonNode messagesRequestBody) {
        Tally tally = new Tally();
        tally.overhead += TOKENS_PER_REQUEST;
        JsonNode system = messagesRequestBody.path("system");
        if (system.isTextual()) {
            tally.text(system.textValue());
        } else if (system.isArray()) {
            for (JsonNode block : system) {
                tally.block(block);
            }
        }
        for (JsonNode message : messagesRequestBody.path("messages")) {
            tally.overhead += TOKENS_PER_MESSAGE;
            JsonNode content = message.path("content");
            if (content.isTextual()) {
                tally.text(content.textValue());
            } else {
                for (JsonNode block : content) {
                    tally.block(block);
                }
            }
        }
        JsonNode tools = messagesRequestBody.path("tools");
        if (tools.isArray() && !tools.isEmpty()) {
            tally.overhead += TOOL_USE_SYSTEM_PROMPT_TOKENS;
            for (JsonNode tool : tools) {
                tally.overhead += TOKENS_PER_TOOL;
                if (tool.has("type") && !tool.has("input_schema")) {
                    tally.overhead += TOKENS_PER_SERVER_TOOL;
                }
                tally.text(tool.path("name").asText(""));
                tally.text(tool.path("description").asText(""));
                tally.json(tool.path("input_schema"));
            }
        }
        return Math.addExact(
                scaled(Math.addExact(tally.text.millitokens(), tally.overhead * TextTokenCounter.ONE)), tally.media);
    }

    /** Whole tokens of {@code millitokens} for this family: rounded up, times the family factor, rounded up. */
    long scaled(long millitokens) {
        double tokens = Math.ceil(millitokens / (double) TextTokenCounter.ONE);
        return (long) Math.ceil(tokens * family.textFactor());
    }

    /** Accumulates one request's counts; not thread-safe, one per {@link #estimate} call. */
    private final class Tally {
        final TextTokenCounter text = new TextTokenCounter();
        long overhead;
        long media;

        void text(String s) {
            text.accept(s);
            text.endText();
        }

        void json(JsonNode node) {
            if (node.isMissingNode() || node.isNull()) {
                return;
            }
            try (JsonGenerator generator = JSON.createGenerator(text)) {
                JSON.writeTree(generator, node);
            } catch (IOException e) {
                // The counter never throws; a failure here is a bug, not an input problem.
                throw new UncheckedIOException(e);
            }
            text.endText();
        }

        void block(JsonNode block) {
            overhead += TOKENS_PER_BLOCK;
            if (block.isTextual()) {
                text(block.textValue());
                return;
            }
            switch (block.path("type").asText("")) {
                case "text" -> text(block.path("text").asText(""));
                case "thinking" -> text(block.path("thinking").asText(""));
                // Encrypted; its size is the best proxy we have for what the model reads.
                case "redacted_thinking" -> text(block.path("data").asText(""));
                case "tool_use", "server_tool_use" -> {
                    text(block.path("name").asText(""));
                    json(block.path("input"));
                }
                case "tool_result" -> {
                    JsonNode content = block.path("content");
                    if (content.isTextual()) {
                        text(content.textValue());
                    } else {
                        for (JsonNode inner : content) {
                            block(inner);
                        }
                    }
                }
                case "image" -> media += imageTokens(block.path("source"));
                case "document" -> document(block);
                default -> json(block);
            }
        }

        void document(JsonNode block) {
            text(block.path("title").asText(""));
            text(block.path("context").asText(""));
            JsonNode source = block.path("source");
            switch (source.path("type").asText("")) {
                case "text" -> text(source.path("data").asText(""));
                case "content" -> {
                    JsonNode content = source.path("content");
                    if (content.isTextual()) {
                        text(content.textValue());
                    } else {
                        for (JsonNode inner : content) {
                            block(inner);
                        }
                    }
                }
                case "base64" -> media += pdfTokens(pdfPages(source.path("data").asText("")));
                default -> media += pdfTokens(PDF_PAGES_UNKNOWN);
            }
        }
    }

    private long pdfTokens(long pages) {
        long perPage = (long) Math.ceil(PDF_TOKENS_PER_PAGE_TEXT * family.textFactor()) + family.maxImageTokens();
        return Math.multiplyExact(pages, perPage);
    }

    /** Tokens of one image source; without readable dimensions, the family's cap. */
    long imageTokens(JsonNode source) {
        if (!"base64".equals(source.path("type").asText(""))) {
            return family.maxImageTokens();
        }
        long dimensions = ImageHeaders.dimensions(source.path("data").asText(""));
        if (dimensions < 0) {
            return family.maxImageTokens();
        }
        long width = dimensions >>> 32;
        long height = dimensions & 0xFFFF_FFFFL;
        // Two documented rules: about w*h/750, and one token per 28x28 patch after padding. Take the larger.
        long byArea = (width * height + IMAGE_TOKENS_PER_PIXEL_DIVISOR - 1) / IMAGE_TOKENS_PER_PIXEL_DIVISOR;
        long byPatches = ((width + 27) / 28) * ((height + 27) / 28);
        return Math.max(1, Math.min(family.maxImageTokens(), Math.max(byArea, byPatches)));
    }

    /** Pages of a base64 PDF: page objects found in its uncompressed part, else a size-based guess. */
    static long pdfPages(String base64) {
        long decodedBytes = (long) base64.length() * 3 / 4;
        long counted = PdfPages.count(base64);
        if (counted > 0) {
            return counted;
        }
        return Math.max(1, (decodedBytes + PDF_BYTES_PER_PAGE_FALLBACK - 1) / PDF_BYTES_PER_PAGE_FALLBACK);
    }

    /** Reads image dimensions from the first bytes of base64 PNG and GIF data. */
    static final class ImageHeaders {
        private ImageHeaders() {}

        /** {@code width << 32 | height}, or -1 when the format is not recognised. */
        static long dimensions(String base64) {
            if (base64.length() < 32) {
                return -1;
            }
            byte[] head;
            try {
                head = Base64.getDecoder().decode(base64.substring(0, 32));
            } catch (IllegalArgumentException e) {
                return -1;
            }
            // PNG: 8-byte signature, then the IHDR chunk with big-endian width and height at 16 and 20.
            if ((head[0] & 0xFF) == 0x89 && head[1] == 'P' && head[2] == 'N' && head[3] == 'G') {
                return (bigEndian(head, 16) << 32) | bigEndian(head, 20);
            }
            // GIF: "GIF8", then little-endian 16-bit width and height at 6 and 8.
            if (head[0] == 'G' && head[1] == 'I' && head[2] == 'F' && head[3] == '8') {
                long width = (head[6] & 0xFF) | (head[7] & 0xFF) << 8;
                long height = (head[8] & 0xFF) | (head[9] & 0xFF) << 8;
                return (width << 32) | height;
            }
            return -1;
        }

        private static long bigEndian(byte[] b, int at) {
            return ((long) (b[at] & 0xFF) << 24)
                    | (b[at + 1] & 0xFF) << 16
                    | (b[at + 2] & 0xFF) << 8
                    | (b[at + 3] & 0xFF);
        }
    }
}
