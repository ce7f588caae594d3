package dev.tiergate.messages;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * One server-sent event as read by {@link SseEventReader}, with the exact bytes it arrived as.
 *
 * <p>{@link #raw()} is every byte the reader consumed for this event: any blank lines before it, its field and
 * comment lines, and its terminating blank line, with the original line endings. Concatenating the raw bytes of
 * all events returned by one reader reproduces the stream, except trailing blank lines after the last event, so a
 * proxy can forward events byte for byte with {@link #writeTo(OutputStream)}.
 *
 * @param name the {@code event:} field, or {@code "message"} (the SSE default) when the event has none
 * @param data the {@code data:} lines joined with {@code "\n"}; empty when the event has no data (a comment or
 *     keep-alive block)
 * @param raw the event's bytes as received; copied in and out, never shared
 * @param complete {@code false} only for a partial event at the end of a cut stream: its bytes ended without the
 *     blank line that terminates an event, so its fields may be incomplete
 */
// The array is copied in and out and equals/hashCode/toString compare contents, which is what this check asks for.
@SuppressWarnings("ArrayRecordComponent")
public record SseEvent(String name, String data, byte[] raw, boolean complete) {

    /** The SSE event type of an event without an {@code event:} line. */
    public static final String DEFAULT_NAME = "message";

    public SseEvent {
        raw = raw.clone();
    }

    /** A fresh copy of the raw bytes; use {@link #writeTo(OutputStream)} to forward without copying. */
    @Override
    public byte[] raw() {
        return raw.clone();
    }

    /** Number of raw bytes. */
    public int rawLength() {
        return raw.length;
    }

    /** Writes the raw bytes to {@code out} without flushing. */
    public void writeTo(OutputStream out) throws IOException {
        out.write(raw);
    }

    /** Whether the event carried at least one data byte. */
    public boolean hasData() {
        return !data.isEmpty();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SseEvent other
                && complete == other.complete
                && name.equals(other.name)
                && data.equals(other.data)
                && Arrays.equals(raw, other.raw);
    }

    @Override
    public int hashCode() {
        return ((name.hashCode() * 31 + data.hashCode()) * 31 + Arrays.hashCode(raw)) * 31 + Boolean.hashCode(complete);
    }

    @Override
    public String toString() {
        return "SseEvent[name=" + name + ", data=" + data + ", raw=" + new String(raw, StandardCharsets.UTF_8).strip()
                + ", complete=" + complete + "]";
    }
}
