package dev.tiergate.simulator;

import static org.assertj.core.api.Assertions.assertThat;

import com.anthropic.client.AnthropicClient;
import com.anthropic.client.okhttp.AnthropicOkHttpClient;
import com.anthropic.core.http.StreamResponse;
import com.anthropic.helpers.MessageAccumulator;
import com.anthropic.models.messages.Message;
import com.anthropic.models.messages.MessageCreateParams;
import com.anthropic.models.messages.RawMessageStreamEvent;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The official Java SDK reads what SimulatorServer sends: proof that the simulator speaks the real wire format. */
class AnthropicSdkSimulatorIT {

    @Test
    void officialSdkReadsPlainAndStreamedSimulatedMessages() {
        try (SimulatorServer server =
                SimulatorServer.start(SimulatedUpstream.create(1, SimulatorProfiles.builtIn(), 1_000_000), 0)) {
            AnthropicClient client = AnthropicOkHttpClient.builder()
                    .baseUrl(server.baseUrl())
                    .apiKey("any")
                    .maxRetries(0)
                    .timeout(Duration.ofSeconds(10))
                    .build();
            try {
                MessageCreateParams params = MessageCreateParams.builder()
                        .model("claude-opus-4-6")
                        .maxTokens(50)
                        .addUserMessage("Write the architecture document.")
                        .putAdditionalHeader("x-tiergate-task", "architecture_code")
                        .putAdditionalHeader("x-tiergate-call-key", "sdk-1")
                        .build();
                Message message = client.messages().create(params);

                assertThat(message.id()).startsWith("msg_sim_");
                assertThat(message.content().getFirst().text().orElseThrow().text())
                        .startsWith("[simulated claude-opus-4-6]");
                // A verbose frontier model on architecture_code always overruns a 50-token cap.
                assertThat(message.usage().outputTokens()).isEqualTo(50);
                assertThat(message.stopReason())
                        .hasValueSatisfying(r -> assertThat(r.asString()).isEqualTo("max_tokens"));
                assertThat(message.usage().inputTokens()).isPositive();

                MessageAccumulator accumulator = MessageAccumulator.create();
                try (StreamResponse<RawMessageStreamEvent> stream =
                        client.messages().createStreaming(params)) {
                    stream.stream().forEach(accumulator::accumulate);
                }
                Message streamed = accumulator.message();
                assertThat(streamed.id()).isEqualTo(message.id());
                assertThat(streamed.content().getFirst().text().orElseThrow().text())
                        .isEqualTo(message.content()
                                .getFirst()
                                .text()
                                .orElseThrow()
                                .text());
                assertThat(streamed.usage().outputTokens()).isEqualTo(50);
                assertThat(streamed.usage().inputTokens())
                        .isEqualTo(message.usage().inputTokens());
                assertThat(streamed.stopReason()).isEqualTo(message.stopReason());
            } finally {
                client.close();
            }
        }
    }
}
