package dev.tiergate.cli.demo;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tiergate.messages.InputTokenEstimator;
import dev.tiergate.messages.TokenizerFamily;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class WorkloadTest {
    private static final Set<String> FRONTIER = Set.of("synthesis", "architecture_code", "edge_cases", "judge");

    @Test
    void mixIsExactAddsUpAndKeepsFrontierWorkUnderOneFifth() {
        assertThat(Workload.MIX.stream().mapToInt(Workload.Share::percent).sum())
                .isEqualTo(100);
        int frontier = Workload.MIX.stream()
                .filter(s -> FRONTIER.contains(s.taskType()))
                .mapToInt(Workload.Share::percent)
                .sum();
        assertThat(frontier).isLessThan(20);

        List<Workload.Task> tasks = new Workload(1).tasks(10_000);
        Map<String, Long> counts =
                tasks.stream().collect(Collectors.groupingBy(Workload.Task::taskType, Collectors.counting()));
        for (Workload.Share s : Workload.MIX) {
            assertThat(counts.get(s.taskType())).as(s.taskType()).isEqualTo(s.percent() * 100L);
        }
        assertThat(new Workload(1).tasks(203)).hasSize(203);
        long streamed = tasks.stream().filter(Workload.Task::stream).count();
        assertThat(streamed).isBetween(2_700L, 3_300L);
    }

    @Test
    void sameSeedSameTasksAndBodies() {
        Workload one = new Workload(42);
        Workload two = new Workload(42);
        assertThat(one.tasks(500)).isEqualTo(two.tasks(500));
        Workload.Task t = one.tasks(500).get(17);
        assertThat(one.body(t)).isEqualTo(two.body(t));
        assertThat(new Workload(43).tasks(500)).isNotEqualTo(one.tasks(500));
    }

    @Test
    void bodiesAreUncappedRequestsOfAboutTheAimedSize() throws IOException {
        Workload w = new Workload(1);
        ObjectMapper json = new ObjectMapper();
        InputTokenEstimator estimator = InputTokenEstimator.of(TokenizerFamily.CLASSIC);
        Function<Workload.Task, JsonNode> parse = task -> {
            try {
                return json.readTree(w.body(task));
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        };
        for (Workload.Task task : w.tasks(300)) {
            JsonNode body = parse.apply(task);
            assertThat(body.path("max_tokens").asInt()).isEqualTo(Workload.REQUESTED_MAX_TOKENS);
            assertThat(body.path("stream").asBoolean()).isEqualTo(task.stream());
            assertThat(body.path("messages").get(0).path("content").asText()).contains(task.id());
            assertThat((double) estimator.estimate(body))
                    .isBetween(task.inputTokens() * 0.9, task.inputTokens() * 1.1 + 80);
        }
    }
}
