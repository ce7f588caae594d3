package dev.tiergate.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.Locale;
import java.util.Optional;

/**
 * The pairwise judge of shadow evaluation: the rubric prompt, the defensive reading of its verdict, and how two
 * verdicts (served answer first, then candidate first) become the candidate's score.
 *
 * <p>Score mapping, candidate against the served answer: it wins or ties in both orders: 1; it loses in both: 0;
 * the orders disagree (a position-biased judge, or a close call): 0.5. The served answer scores 1 by convention, so
 * the evidence measures "the candidate is not worse than what was served", never "better".
 */
final class PairwiseJudge {
    /** A judge's answer to "which is better". */
    enum Verdict {
        A,
        B,
        TIE
    }

    static final long MAX_TOKENS = 100;

    static final String RUBRIC = """
            You are an impartial judge. You compare two answers to the same request and decide which one \
            fulfils the request better: correct, complete, and following the instructions and format asked for. \
            Length is not a merit; the order in which the answers are shown is not a merit. If neither is \
            clearly better, say tie. Reply with JSON only, no other text: {"winner": "A"} or {"winner": "B"} \
            or {"winner": "tie"}.""";

    private static final ObjectMapper JSON = new ObjectMapper();

    private PairwiseJudge() {}

    /** The judge's request body: the rubric as system prompt, the request and both answers as one user turn. */
    static ObjectNode request(String judgeModel, JsonNode callerRequest, String answerA, String answerB) {
        ObjectNode body = JSON.createObjectNode();
        body.put("model", judgeModel);
        body.put("max_tokens", MAX_TOKENS);
        body.put("system", RUBRIC);
        String prompt = "<request>\n" + render(callerRequest) + "</request>\n\n<answer_A>\n" + answerA
                + "\n</answer_A>\n\n<answer_B>\n" + answerB + "\n</answer_B>";
        ObjectNode turn = body.putArray("messages").addObject();
        turn.put("role", "user");
        turn.put("content", prompt);
        return body;
    }

    /**
     * The verdict in a judge's reply: the first JSON object in the text with a {@code winner} of A, B or tie (any
     * case). Empty when there is none: such a reply is no evidence.
     */
    static Optional<Verdict> parse(String reply) {
        int from = reply.indexOf('{');
        while (from >= 0) {
            int to = reply.indexOf('}', from);
            if (to < 0) {
                return Optional.empty();
            }
            try {
                JsonNode node = JSON.readTree(reply.substring(from, to + 1));
                if (node != null && node.path("winner").isTextual()) {
                    return switch (node.path("winner").asText().trim().toLowerCase(Locale.ROOT)) {
                        case "a" -> Optional.of(Verdict.A);
                        case "b" -> Optional.of(Verdict.B);
                        case "tie" -> Optional.of(Verdict.TIE);
                        default -> Optional.empty();
                    };
                }
            } catch (IOException e) {
                // not JSON here: look for the next object
            }
            from = reply.indexOf('{', from + 1);
        }
        return Optional.empty();
    }

    /**
     * The candidate's score from both orders.
     *
     * @param servedFirst the verdict with the served answer as A and the candidate as B
     * @param candidateFirst the verdict with the candidate as A and the served answer as B
     */
    static double candidateScore(Verdict servedFirst, Verdict candidateFirst) {
        boolean lostFirst = servedFirst == Verdict.A;
        boolean lostSecond = candidateFirst == Verdict.B;
        if (!lostFirst && !lostSecond) {
            return 1;
        }
        if (lostFirst && lostSecond) {
            return 0;
        }
        return 0.5;
    }

    /** The text of a Messages response body: its text blocks, and tool calls as {@code [tool_use NAME INPUT]}. */
    static String answerText(JsonNode message) {
        StringBuilder sb = new StringBuilder();
        for (JsonNode block : message.path("content")) {
            switch (block.path("type").asText("")) {
                case "text" -> sb.append(block.path("text").asText(""));
                case "tool_use" ->
                    sb.append("[tool_use ")
                            .append(block.path("name").asText(""))
                            .append(' ')
                            .append(block.path("input"))
                            .append(']');
                default -> {}
            }
        }
        return sb.toString();
    }

    /** The caller's system prompt and turns as plain text, for the judge to read. */
    static String render(JsonNode request) {
        StringBuilder sb = new StringBuilder();
        JsonNode system = request.path("system");
        if (!system.isMissingNode() && !system.isNull()) {
            sb.append("system: ").append(text(system)).append('\n');
        }
        for (JsonNode turn : request.path("messages")) {
            sb.append(turn.path("role").asText("user"))
                    .append(": ")
                    .append(text(turn.path("content")))
                    .append('\n');
        }
        return sb.toString();
    }

    private static String text(JsonNode content) {
        if (content.isTextual()) {
            return content.asText();
        }
        StringBuilder sb = new StringBuilder();
        for (JsonNode block : content) {
            String type = block.path("type").asText("");
            switch (type) {
                case "text" -> sb.append(block.path("text").asText(""));
                case "tool_use" ->
                    sb.append("[tool_use ")
                            .append(block.path("name").asText(""))
                            .append(' ')
                            .append(block.path("input"))
                            .append(']');
                case "tool_result" ->
                    sb.append("[tool_result ")
                            .append(text(block.path("content")))
                            .append(']');
                default -> sb.append('[').append(type).append(']');
            }
        }
        return sb.toString();
    }
}
