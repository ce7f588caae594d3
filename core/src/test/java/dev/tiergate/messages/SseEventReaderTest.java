package dev.tiergate.messages;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class SseEventReaderTest {

    private static final String STREAM = """
            event: message_start
            data: {"type":"message_start","message":{"id":"msg_1","usage":{"input_tokens":25,"output_tokens":1}}}

            event: ping
            data: {"type": "ping"}

            event: content_block_delta
            data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi é"}}

            event: message_stop
            data: {"type":"message_stop"}

            """;

    @Test
    void readsNamedEventsInOrder() throws IOException {
        List<SseEvent> events = readAll(bytes(STREAM), Integer.MAX_VALUE);

        assertThat(events)
                .extracting(SseEvent::name)
                .containsExactly("message_start", "ping", "content_block_delta", "message_stop");
        assertThat(events).allMatch(SseEvent::complete);
        assertThat(events.get(2).data()).contains("\"text\":\"Hi é\"");
        assertThat(events.get(1).data()).isEqualTo("{\"type\": \"ping\"}");
    }

    @Test
    void rawBytesOfAllEventsReproduceTheStreamExactly() throws IOException {
        String mixed = "\r\n: keep-alive comment\r\n\r\nevent: a\r\ndata: 1\r\nid: 7\r\n\r\n\n\nevent: b\ndata:2\n\n"
                + "event: c\rdata: 3\r\r";
        for (int chunk : new int[] {1, 2, 3, 7, Integer.MAX_VALUE}) {
            List<SseEvent> events = readAll(bytes(mixed), chunk);
            ByteArrayOutputStream forwarded = new ByteArrayOutputStream();
            for (SseEvent event : events) {
                event.writeTo(forwarded);
            }
            assertThat(forwarded.toString(UTF_8)).as("chunk size %d", chunk).isEqualTo(mixed);
            assertThat(events).extracting(SseEvent::data).containsExactly("", "1", "2", "3");
            assertThat(events).extracting(SseEvent::name).containsExactly("message", "a", "b", "c");
        }
    }

    @Test
    void handlesCrLfLineEndings() throws IOException {
        String crlf = STREAM.replace("\n", "\r\n");

        List<SseEvent> events = readAll(bytes(crlf), 5);

        assertThat(events).hasSize(4).allMatch(SseEvent::complete);
        assertThat(events.get(0).data())
                .startsWith("{\"type\":\"message_start\"")
                .doesNotContain("\r");
        assertThat(new String(events.get(0).raw(), UTF_8)).endsWith("}\r\n\r\n");
    }

    @Test
    void joinsMultiLineDataWithNewlines() throws IOException {
        List<SseEvent> events = readAll(bytes("event: x\ndata: {\"a\":\ndata:1}\ndata\n\n"), Integer.MAX_VALUE);

        assertThat(events).singleElement().satisfies(e -> assertThat(e.data()).isEqualTo("{\"a\":\n1}\n"));
    }

    @Test
    void eventWithoutEventLineGetsTheDefaultName() throws IOException {
        List<SseEvent> events = readAll(bytes("data: {\"type\":\"ping\"}\n\n"), Integer.MAX_VALUE);

        assertThat(events).singleElement().satisfies(e -> {
            assertThat(e.name()).isEqualTo(SseEvent.DEFAULT_NAME);
            assertThat(e.data()).isEqualTo("{\"type\":\"ping\"}");
        });
    }

    @Test
    void commentsAreSkippedButKeptInRawBytes() throws IOException {
        List<SseEvent> events = readAll(bytes(": hello\nevent: ping\n:another\ndata: {}\n\n"), Integer.MAX_VALUE);

        assertThat(events).singleElement().satisfies(e -> {
            assertThat(e.name()).isEqualTo("ping");
            assertThat(e.data()).isEqualTo("{}");
            assertThat(new String(e.raw(), UTF_8)).isEqualTo(": hello\nevent: ping\n:another\ndata: {}\n\n");
        });
    }

    @Test
    void cutStreamEndsWithOnePartialEventThenEmpty() throws IOException {
        SseEventReader reader = new SseEventReader(bytes("event: a\ndata: 1\n\nevent: message_delta\ndata: {\"us"));

        assertThat(reader.next())
                .hasValueSatisfying(e -> assertThat(e.complete()).isTrue());
        SseEvent partial = reader.next().orElseThrow();
        assertThat(partial.complete()).isFalse();
        assertThat(partial.name()).isEqualTo("message_delta");
        assertThat(partial.data()).isEqualTo("{\"us");
        assertThat(new String(partial.raw(), UTF_8)).isEqualTo("event: message_delta\ndata: {\"us");
        assertThat(reader.next()).isEmpty();
        assertThat(reader.next()).isEmpty();
    }

    @Test
    void eventMissingOnlyItsBlankLineIsPartial() throws IOException {
        SseEventReader reader = new SseEventReader(bytes("event: message_stop\ndata: {}\n"));

        assertThat(reader.next()).hasValueSatisfying(e -> {
            assertThat(e.complete()).isFalse();
            assertThat(e.name()).isEqualTo("message_stop");
        });
        assertThat(reader.next()).isEmpty();
    }

    @Test
    void emptyStreamAndTrailingBlankLinesEndCleanly() throws IOException {
        assertThat(new SseEventReader(bytes("")).next()).isEmpty();

        SseEventReader reader = new SseEventReader(bytes("data: 1\n\n\n\r\n"));
        assertThat(reader.next())
                .hasValueSatisfying(e -> assertThat(e.complete()).isTrue());
        assertThat(reader.next()).isEmpty();
    }

    @Test
    void returnsEachEventAsSoonAsItsBlankLineArrives() throws IOException {
        PipedOutputStream upstream = new PipedOutputStream();
        SseEventReader reader = new SseEventReader(new PipedInputStream(upstream, 4096));

        upstream.write("event: first\ndata: 1\n\n".getBytes(UTF_8));
        assertThat(reader.next()).hasValueSatisfying(e -> assertThat(e.name()).isEqualTo("first"));

        upstream.write("event: second\r\ndata: 2\r\n\r\n".getBytes(UTF_8));
        assertThat(reader.next()).hasValueSatisfying(e -> assertThat(e.data()).isEqualTo("2"));

        upstream.close();
        assertThat(reader.next()).isEmpty();
    }

    @Test
    void rawIsDefensivelyCopied() throws IOException {
        SseEvent event = readAll(bytes("data: 1\n\n"), Integer.MAX_VALUE).get(0);

        event.raw()[0] = 'X';

        assertThat(new String(event.raw(), UTF_8)).isEqualTo("data: 1\n\n");
        assertThat(event).isEqualTo(new SseEvent("message", "1", "data: 1\n\n".getBytes(UTF_8), true));
    }

    @Test
    void largeEventsGrowTheBuffer() throws IOException {
        String text = "x".repeat(100_000);

        List<SseEvent> events = readAll(bytes("event: big\ndata: " + text + "\n\n"), Integer.MAX_VALUE);

        assertThat(events).singleElement().satisfies(e -> assertThat(e.data()).isEqualTo(text));
    }

    private static List<SseEvent> readAll(InputStream in, int chunk) throws IOException {
        SseEventReader reader = new SseEventReader(new ChunkedInputStream(in, chunk));
        List<SseEvent> events = new ArrayList<>();
        for (Optional<SseEvent> next = reader.next(); next.isPresent(); next = reader.next()) {
            events.add(next.get());
        }
        return events;
    }

    private static InputStream bytes(String s) {
        return new ByteArrayInputStream(s.getBytes(UTF_8));
    }

    /** Hands out at most {@code chunk} bytes per read, as a slow network does. */
    private static final class ChunkedInputStream extends FilterInputStream {
        private final int chunk;

        ChunkedInputStream(InputStream in, int chunk) {
            super(in);
            this.chunk = chunk;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            return super.read(b, off, Math.min(len, chunk));
        }
    }
}
