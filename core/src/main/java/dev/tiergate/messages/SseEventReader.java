package dev.tiergate.messages;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Optional;

/**
 * Reads server-sent events one at a time from a blocking {@link InputStream}, keeping each event's raw bytes.
 *
 * <p>Follows the WHATWG event-stream format: lines end in {@code \n}, {@code \r\n} or {@code \r}; a blank line ends
 * an event; lines starting with {@code :} are comments; {@code data:} lines are joined with {@code \n}; one space
 * after the colon is dropped; {@code id:} and {@code retry:} are kept only in the raw bytes. Unlike a browser, the
 * reader also returns blocks without data (comments, keep-alives), so a proxy loses no byte.
 *
 * <p>Reads through an internal buffer, so it may read ahead of the event it returns. Not thread-safe: one reader
 * thread (typically a virtual thread) per stream. The reader never closes the stream.
 */
public final class SseEventReader {

    private static final int BUFFER_SIZE = 8192;

    private final InputStream in;
    private final byte[] buf = new byte[BUFFER_SIZE];
    private int pos;
    private int limit;
    private boolean eof;

    // The current event's raw bytes, reused between events.
    private byte[] raw = new byte[1024];
    private int rawLength;
    private boolean lineTerminated;

    private String name = SseEvent.DEFAULT_NAME;
    private final StringBuilder data = new StringBuilder();
    private boolean hasData;

    /** A reader over {@code in}; reading starts at the first {@link #next()}. */
    public SseEventReader(InputStream in) {
        this.in = in;
    }

    /**
     * Blocks until the next event is complete or the stream ends.
     *
     * @return the next event; at end of stream, once, a partial event with {@link SseEvent#complete()} {@code false}
     *     if bytes other than blank lines arrived after the last complete event; then {@link Optional#empty()}
     * @throws IOException from the underlying stream
     */
    public Optional<SseEvent> next() throws IOException {
        rawLength = 0;
        name = SseEvent.DEFAULT_NAME;
        data.setLength(0);
        hasData = false;
        boolean sawLine = false;
        while (true) {
            int lineStart = rawLength;
            int length = readLine();
            if (!lineTerminated) {
                if (length == 0 && !sawLine) {
                    return Optional.empty();
                }
                if (length > 0) {
                    parseLine(lineStart, length);
                }
                return Optional.of(build(false));
            }
            if (length == 0) {
                if (sawLine) {
                    return Optional.of(build(true));
                }
                // A blank line with no event before it dispatches nothing; its bytes travel with the next event.
                continue;
            }
            sawLine = true;
            parseLine(lineStart, length);
        }
    }

    private SseEvent build(boolean complete) {
        // An empty event: field means the default type, as in browsers.
        String type = name.isEmpty() ? SseEvent.DEFAULT_NAME : name;
        return new SseEvent(type, data.toString(), Arrays.copyOf(raw, rawLength), complete);
    }

    /**
     * Appends the next line and its terminator to {@link #raw}, sets {@link #lineTerminated}, and returns the length
     * of the line without its terminator.
     */
    private int readLine() throws IOException {
        int start = rawLength;
        while (true) {
            if (pos == limit && !fill()) {
                lineTerminated = false;
                return rawLength - start;
            }
            int i = pos;
            while (i < limit && buf[i] != '\n' && buf[i] != '\r') {
                i++;
            }
            append(pos, i - pos);
            pos = i;
            if (i == limit) {
                continue;
            }
            int length = rawLength - start;
            byte terminator = buf[pos];
            append(pos, 1);
            pos++;
            // CR LF is one terminator; a lone CR is one too, so look at the next byte before deciding.
            if (terminator == '\r' && (pos < limit || fill()) && buf[pos] == '\n') {
                append(pos, 1);
                pos++;
            }
            lineTerminated = true;
            return length;
        }
    }

    private boolean fill() throws IOException {
        if (eof) {
            return false;
        }
        int n = in.read(buf, 0, buf.length);
        if (n < 0) {
            eof = true;
            return false;
        }
        pos = 0;
        limit = n;
        return true;
    }

    private void append(int from, int length) {
        if (rawLength + length > raw.length) {
            raw = Arrays.copyOf(raw, Math.max(raw.length * 2, rawLength + length));
        }
        System.arraycopy(buf, from, raw, rawLength, length);
        rawLength += length;
    }

    private void parseLine(int start, int length) {
        int end = start + length;
        if (raw[start] == ':') {
            return;
        }
        int colon = start;
        while (colon < end && raw[colon] != ':') {
            colon++;
        }
        String field = new String(raw, start, colon - start, StandardCharsets.UTF_8);
        int valueStart = Math.min(colon + 1, end);
        if (valueStart < end && raw[valueStart] == ' ') {
            valueStart++;
        }
        switch (field) {
            case "event" -> name = new String(raw, valueStart, end - valueStart, StandardCharsets.UTF_8);
            case "data" -> {
                if (hasData) {
                    data.append('\n');
                }
                data.append(new String(raw, valueStart, end - valueStart, StandardCharsets.UTF_8));
                hasData = true;
            }
            default -> {
                // id, retry and unknown fields matter only to browsers; they stay in the raw bytes.
            }
        }
    }
}
