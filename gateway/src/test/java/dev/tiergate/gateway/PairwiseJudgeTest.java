package dev.tiergate.gateway;

import static dev.tiergate.gateway.PairwiseJudge.Verdict.A;
import static dev.tiergate.gateway.PairwiseJudge.Verdict.B;
import static dev.tiergate.gateway.PairwiseJudge.Verdict.TIE;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

class PairwiseJudgeTest {

    @Test
    void readsTheVerdictDefensively() {
        assertThat(PairwiseJudge.parse("{\"winner\": \"A\"}")).contains(A);
        assertThat(PairwiseJudge.parse("Sure. {\"winner\":\" b \"} hope that helps"))
                .contains(B);
        assertThat(PairwiseJudge.parse("{not json} then {\"winner\": \"TIE\"}")).contains(TIE);
        assertThat(PairwiseJudge.parse("A is better")).isEmpty();
        assertThat(PairwiseJudge.parse("{\"winner\": \"both\"}")).isEmpty();
        assertThat(PairwiseJudge.parse("{\"winner\": ")).isEmpty();
        assertThat(PairwiseJudge.parse("")).isEmpty();
    }

    @Test
    void scoresTheCandidateFromBothOrders() {
        // served first: A = served, B = candidate; candidate first: A = candidate, B = served
        assertThat(PairwiseJudge.candidateScore(B, A)).isEqualTo(1.0); // candidate wins twice
        assertThat(PairwiseJudge.candidateScore(TIE, TIE)).isEqualTo(1.0);
        assertThat(PairwiseJudge.candidateScore(TIE, A)).isEqualTo(1.0);
        assertThat(PairwiseJudge.candidateScore(A, B)).isEqualTo(0.0); // served wins twice
        // a judge that always picks the first (or the second) answer cancels out
        assertThat(PairwiseJudge.candidateScore(A, A)).isEqualTo(0.5);
        assertThat(PairwiseJudge.candidateScore(B, B)).isEqualTo(0.5);
        assertThat(PairwiseJudge.candidateScore(A, TIE)).isEqualTo(0.5);
    }

    @Test
    void theJudgeRequestCarriesTheRubricTheConversationAndBothAnswers() throws Exception {
        var caller = new ObjectMapper()
                .readTree("{\"system\":[{\"type\":\"text\",\"text\":\"be brief\"}],\"messages\":["
                        + "{\"role\":\"user\",\"content\":\"q?\"},"
                        + "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"a.\"}]}]}");
        var body = PairwiseJudge.request("judge-model", caller, "first", "second");
        assertThat(body.path("model").asText()).isEqualTo("judge-model");
        assertThat(body.path("system").asText()).isEqualTo(PairwiseJudge.RUBRIC);
        assertThat(body.path("messages").get(0).path("content").asText())
                .containsSubsequence(
                        "system: be brief", "user: q?", "assistant: a.", "<answer_A>\nfirst", "<answer_B>\nsecond");
    }

    @Test
    void samplingIsAFixedFunctionOfSeedTaskTypeAndPosition() {
        int sampled = 0;
        for (int n = 0; n < 10_000; n++) {
            boolean s = Shadow.sampled(1, "synthesis", n, 0.1);
            assertThat(Shadow.sampled(1, "synthesis", n, 0.1)).isEqualTo(s);
            sampled += s ? 1 : 0;
        }
        assertThat(sampled).isBetween(900, 1100);
        assertThat(Shadow.sampled(1, "x", 5, 0)).isFalse();
        assertThat(Shadow.sampled(1, "x", 5, 1)).isTrue();
    }
}
