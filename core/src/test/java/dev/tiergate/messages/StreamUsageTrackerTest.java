package dev.tiergate.messages;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tiergate.pricing.Usage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class StreamUsageTrackerTest {

    private static final String START = """
            event: message_start
            data: {"type":"message_start","message":{"id":"msg_01","type":"message","role":"assistant",\
            "model":"claude-haiku-4-5-20251001","content":[],"stop_reason":null,\
            "usage":{"input_tokens":25,"cache_creation_input_tokens":2048,"cache_read_input_tokens":100,\
            "cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":2048},"output_tokens":1}}}

            """;

    private static final String TEXT = """
            event: content_block_start
            data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

            event: content_block_delta
            data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}

            event: content_block_stop
            data: {"type":"content_block_stop","index":0}

            """;

    private static final String PING = "event: ping\ndata: {\"type\": \"ping\"}\n\n";
    private static final String STOP = "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

    private static String delta(String usage) {
        return "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\","
                + "\"stop_sequence\":null},\"usage\":" + usage + "}\n\n";
    }

    @Test
    void cumulativeDeltasOverwriteAndNullFieldsKeepEarlierCounts() throws IOException {
        String stream = PING
                + START
                + PING
                + TEXT
                + delta("{\"input_tokens\":null,\"cache_creation_input_tokens\":null,"
                        + "\"cache_read_input_tokens\":null,\"output_tokens\":10}")
                + PING
                + delta("{\"output_tokens\":15}")
                + STOP;

        StreamUsageTracker tracker = track(stream);

        assertThat(tracker.usage()).isEqualTo(new Usage(25, 15, 0, 2048, 100, 0));
        assertThat(tracker.outcome()).isEqualTo(new StreamOutcome.Completed());
        assertThat(tracker.stopReason()).contains("end_turn");
        assertThat(tracker.model()).contains("claude-haiku-4-5-20251001");
        assertThat(tracker.messageId()).contains("msg_01");
        assertThat(tracker.messageStopped()).isTrue();
    }

    @Test
    void nonNullDeltaInputCountsReplaceTheStartCounts() throws IOException {
        String stream = START
                + delta("{\"input_tokens\":30,\"cache_read_input_tokens\":0,\"output_tokens\":5,"
                        + "\"server_tool_use\":{\"web_search_requests\":2}}")
                + STOP;

        assertThat(track(stream).usage()).isEqualTo(new Usage(30, 5, 0, 2048, 0, 2));
    }

    @Test
    void usageIsAvailableMidStreamForCancelledCalls() throws IOException {
        StreamUsageTracker tracker = track(START + TEXT);

        assertThat(tracker.usage()).isEqualTo(new Usage(25, 1, 0, 2048, 100, 0));
        assertThat(tracker.outcome()).isEqualTo(new StreamOutcome.Truncated());
        assertThat(tracker.stopReason()).isEmpty();
    }

    @Test
    void nothingSeenMeansZeroUsageAndTruncated() {
        StreamUsageTracker tracker = new StreamUsageTracker();

        assertThat(tracker.usage()).isEqualTo(Usage.ZERO);
        assertThat(tracker.outcome()).isInstanceOf(StreamOutcome.Truncated.class);
        assertThat(tracker.model()).isEmpty();
        assertThat(tracker.messageId()).isEmpty();
    }

    @Test
    void midStreamErrorIsTheOutcomeAndKeepsUsageSoFar() throws IOException {
        String stream = START + TEXT + PING
                + "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
                + "\"message\":\"Overloaded\"}}\n\n";

        StreamUsageTracker tracker = track(stream);

        assertThat(tracker.outcome()).isEqualTo(new StreamOutcome.UpstreamError("overloaded_error", "Overloaded"));
        assertThat(tracker.usage().inputTokens()).isEqualTo(25);
    }

    @Test
    void streamCutBeforeMessageStopIsTruncated() throws IOException {
        String cut = START + TEXT + delta("{\"output_tokens\":12}") + "event: message_st";

        StreamUsageTracker tracker = track(cut);

        assertThat(tracker.outcome()).isEqualTo(new StreamOutcome.Truncated());
        assertThat(tracker.usage().outputTokens()).isEqualTo(12);
        assertThat(tracker.stopReason()).contains("end_turn");
    }

    @Test
    void partialEventAtTheEndOfACutStreamIsIgnored() throws IOException {
        String cut =
                START + delta("{\"output_tokens\":12}") + "event: message_stop\ndata: {\"type\":\"message_stop\"}\n";

        StreamUsageTracker tracker = track(cut);

        assertThat(tracker.outcome()).isEqualTo(new StreamOutcome.Truncated());
        assertThat(tracker.messageStopped()).isFalse();
        assertThat(tracker.snapshot().events()).isEqualTo(2);
    }

    @Test
    void unknownEventsAndPingsDoNotTouchAccounting() throws IOException {
        String stream = START
                + "event: brand_new_event\ndata: {\"type\":\"brand_new_event\",\"usage\":{\"output_tokens\":999}}\n\n"
                + "event: ping\ndata: not json at all\n\n"
                + delta("{\"output_tokens\":3}")
                + STOP;

        StreamUsageTracker tracker = track(stream);

        assertThat(tracker.usage().outputTokens()).isEqualTo(3);
        assertThat(tracker.outcome()).isEqualTo(new StreamOutcome.Completed());
        assertThat(tracker.snapshot().events()).isEqualTo(5);
    }

    @Test
    void eventsWithoutEventLinesAreNamedByTheirJsonType() throws IOException {
        String stream = (START + delta("{\"output_tokens\":7}") + STOP).replaceAll("(?m)^event: .*\n", "");

        StreamUsageTracker tracker = track(stream);

        assertThat(tracker.usage().outputTokens()).isEqualTo(7);
        assertThat(tracker.outcome()).isEqualTo(new StreamOutcome.Completed());
    }

    @Test
    void crlfStreamIsTrackedTheSame() throws IOException {
        String stream = (START + TEXT + delta("{\"output_tokens\":9}") + STOP).replace("\n", "\r\n");

        StreamUsageTracker tracker = track(stream);

        assertThat(tracker.usage()).isEqualTo(new Usage(25, 9, 0, 2048, 100, 0));
        assertThat(tracker.outcome()).isEqualTo(new StreamOutcome.Completed());
    }

    @Test
    void invalidAccountingEventThrowsAndLeavesStateUnchanged() {
        StreamUsageTracker tracker = new StreamUsageTracker();
        tracker.accept("message_delta", "{\"usage\":{\"output_tokens\":4}}");

        assertThatThrownBy(() -> tracker.accept("message_delta", "{\"usage\":{\"output_tokens\":-1}}"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("output_tokens");
        assertThatThrownBy(() -> tracker.accept("message_start", "{oops"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("message_start");
        assertThat(tracker.usage().outputTokens()).isEqualTo(4);
        assertThat(tracker.snapshot().events()).isEqualTo(1);
    }

    @Test
    void readersSeeWholeEventsWhileTheWriterRuns() throws InterruptedException {
        StreamUsageTracker tracker = new StreamUsageTracker();
        tracker.accept("message_start", "{\"message\":{\"usage\":{\"input_tokens\":5,\"output_tokens\":0}}}");
        AtomicBoolean done = new AtomicBoolean();
        AtomicReference<String> problem = new AtomicReference<>("");
        CountDownLatch readerStarted = new CountDownLatch(1);
        Thread reader = Thread.ofVirtual().start(() -> {
            long last = 0;
            readerStarted.countDown();
            while (!done.get()) {
                Usage usage = tracker.usage();
                if (usage.inputTokens() != 5 || usage.outputTokens() < last) {
                    problem.set("saw " + usage + " after output " + last);
                }
                last = usage.outputTokens();
            }
        });
        assertThat(readerStarted.await(5, TimeUnit.SECONDS)).isTrue();
        for (int i = 1; i <= 2_000; i++) {
            tracker.accept("message_delta", "{\"usage\":{\"input_tokens\":null,\"output_tokens\":" + i + "}}");
        }
        done.set(true);
        reader.join(5_000);

        assertThat(reader.isAlive()).isFalse();
        assertThat(problem.get()).isEmpty();
        assertThat(tracker.usage()).isEqualTo(Usage.of(5, 2_000));
    }

    private static StreamUsageTracker track(String stream) throws IOException {
        SseEventReader reader = new SseEventReader(new ByteArrayInputStream(stream.getBytes(UTF_8)));
        StreamUsageTracker tracker = new StreamUsageTracker();
        for (Optional<SseEvent> event = reader.next(); event.isPresent(); event = reader.next()) {
            tracker.accept(event.get());
        }
        return tracker;
    }
}
