package dev.tiergate.testing;

import static org.assertj.core.api.Assertions.assertThat;

import com.anthropic.client.AnthropicClient;
import com.anthropic.client.okhttp.AnthropicOkHttpClient;
import com.anthropic.core.http.StreamResponse;
import com.anthropic.helpers.MessageAccumulator;
import com.anthropic.models.messages.ContentBlock;
import com.anthropic.models.messages.Message;
import com.anthropic.models.messages.MessageCreateParams;
import com.anthropic.models.messages.RawMessageStreamEvent;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The official Java SDK reads what FakeAnthropic sends: proof that the fake speaks the real wire format. */
class AnthropicSdkIT {

    @Test
    void officialSdkReadsJsonAndStreamedMessagesFromTheFake() {
        try (FakeAnthropic fake = FakeAnthropic.start()) {
            fake.enqueue(FakeResponse.message("Hello from the fake").withUsage(21, 6));
            fake.enqueue(FakeResponse.stream()
                    .messageStart(
                            "{\"input_tokens\":30,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":4,"
                                    + "\"output_tokens\":1}")
                    .ping()
                    .text("Streamed ", "hello")
                    .event("future_event", "{\"type\":\"future_event\"}")
                    .messageDelta(
                            "end_turn",
                            "{\"input_tokens\":null,\"cache_creation_input_tokens\":null,"
                                    + "\"cache_read_input_tokens\":null,\"output_tokens\":9}")
                    .messageStop()
                    .build());
            AnthropicClient client = AnthropicOkHttpClient.builder()
                    .baseUrl(fake.baseUrl())
                    .apiKey("k")
                    .maxRetries(0)
                    .timeout(Duration.ofSeconds(10))
                    .build();
            MessageCreateParams params = MessageCreateParams.builder()
                    .model("claude-haiku-4-5-20251001")
                    .maxTokens(64)
                    .addUserMessage("Hello")
                    .build();
            try {
                Message message = client.messages().create(params);

                assertThat(message.content())
                        .singleElement()
                        .satisfies(block -> assertThat(text(block)).isEqualTo("Hello from the fake"));
                assertThat(message.model().asString()).isEqualTo("claude-haiku-4-5-20251001");
                assertThat(message.usage().inputTokens()).isEqualTo(21);
                assertThat(message.usage().outputTokens()).isEqualTo(6);
                assertThat(message.stopReason())
                        .hasValueSatisfying(r -> assertThat(r.asString()).isEqualTo("end_turn"));

                MessageAccumulator accumulator = MessageAccumulator.create();
                try (StreamResponse<RawMessageStreamEvent> stream =
                        client.messages().createStreaming(params)) {
                    stream.stream().forEach(accumulator::accumulate);
                }
                Message streamed = accumulator.message();

                assertThat(streamed.content())
                        .singleElement()
                        .satisfies(block -> assertThat(text(block)).isEqualTo("Streamed hello"));
                assertThat(streamed.usage().inputTokens()).isEqualTo(30);
                assertThat(streamed.usage().cacheReadInputTokens()).hasValue(4L);
                assertThat(streamed.usage().outputTokens()).isEqualTo(9);
                assertThat(streamed.stopReason())
                        .hasValueSatisfying(r -> assertThat(r.asString()).isEqualTo("end_turn"));
            } finally {
                client.close();
            }

            RecordedRequest plain = fake.takeRequest(Duration.ofSeconds(5));
            RecordedRequest streaming = fake.takeRequest(Duration.ofSeconds(5));
            // 3.14.0 sends the key as a bearer token; older SDKs used x-api-key. Either reaches a gateway.
            assertThat(plain.header("authorization").or(() -> plain.header("x-api-key")))
                    .hasValueSatisfying(v -> assertThat(v).endsWith("k"));
            assertThat(plain.header("anthropic-version")).isPresent();
            assertThat(plain.json().has("stream")).isFalse();
            assertThat(streaming.json().path("stream").asBoolean()).isTrue();
        }
    }

    private static String text(ContentBlock block) {
        return block.text().orElseThrow().text();
    }
}
