package dev.tiergate.testing;

import java.io.IOException;
import java.io.InputStream;
import java.net.ProtocolException;
import java.nio.charset.StandardCharsets;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * The request side of one HTTP/1.1 connection: reads request heads and bodies (Content-Length or chunked) through a
 * buffer. Read by one thread at a time: the connection's thread, or its disconnect watcher while a response streams.
 */
final class HttpInput {

    private static final int MAX_LINE = 64 * 1024;

    /** A request line and its headers. */
    record Head(String method, String target, List<Map.Entry<String, String>> headers) {
        @Nullable
        String first(String name) {
            for (Map.Entry<String, String> header : headers) {
                if (header.getKey().equalsIgnoreCase(name)) {
                    return header.getValue();
                }
            }
            return null;
        }

        boolean chunked() {
            String encoding = first("transfer-encoding");
            return encoding != null && encoding.toLowerCase(Locale.ROOT).contains("chunked");
        }
    }

    private final InputStream in;
    private byte[] buf = new byte[16 * 1024];
    private int pos;
    private int limit;

    HttpInput(InputStream in) {
        this.in = in;
    }

    /** Waits until the next request starts arriving; false if the client closed the connection instead. */
    boolean awaitRequest() throws IOException {
        return pos < limit || fill();
    }

    /** The next request head, or null if the client closed the connection between requests. */
    @Nullable
    Head readHead() throws IOException {
        String requestLine = readLine();
        // RFC 9112 asks servers to ignore empty lines before a request line.
        while (requestLine != null && requestLine.isEmpty()) {
            requestLine = readLine();
        }
        if (requestLine == null) {
            return null;
        }
        String[] parts = requestLine.split(" ", -1);
        if (parts.length != 3 || !parts[2].startsWith("HTTP/1.")) {
            throw new ProtocolException("bad request line: " + requestLine);
        }
        List<Map.Entry<String, String>> headers = new ArrayList<>();
        for (String line = requireLine(); !line.isEmpty(); line = requireLine()) {
            int colon = line.indexOf(':');
            if (colon <= 0) {
                throw new ProtocolException("bad header line: " + line);
            }
            headers.add(new AbstractMap.SimpleImmutableEntry<>(
                    line.substring(0, colon), line.substring(colon + 1).strip()));
        }
        return new Head(parts[0], parts[1], headers);
    }

    /** The body of the request with this head, de-chunked. */
    byte[] readBody(Head head) throws IOException {
        if (head.chunked()) {
            return readChunked();
        }
        String length = head.first("content-length");
        if (length == null) {
            return new byte[0];
        }
        int n;
        try {
            n = Integer.parseInt(length.strip());
        } catch (NumberFormatException e) {
            throw new ProtocolException("bad content-length: " + length);
        }
        if (n < 0) {
            throw new ProtocolException("bad content-length: " + length);
        }
        return readExactly(n);
    }

    /**
     * Reads more from the socket without consuming it, for the disconnect watcher.
     *
     * @return false if the client closed its side
     */
    boolean readAhead() throws IOException {
        if (limit == buf.length) {
            if (pos > 0) {
                compact();
            } else {
                buf = Arrays.copyOf(buf, buf.length * 2);
            }
        }
        int n = in.read(buf, limit, buf.length - limit);
        if (n < 0) {
            return false;
        }
        limit += n;
        return true;
    }

    private byte[] readChunked() throws IOException {
        java.io.ByteArrayOutputStream body = new java.io.ByteArrayOutputStream();
        while (true) {
            String sizeLine = requireLine();
            int semicolon = sizeLine.indexOf(';');
            String hex = (semicolon < 0 ? sizeLine : sizeLine.substring(0, semicolon)).strip();
            int size;
            try {
                size = Integer.parseInt(hex, 16);
            } catch (NumberFormatException e) {
                throw new ProtocolException("bad chunk size line: " + sizeLine);
            }
            if (size == 0) {
                // Trailer fields, if any, end with an empty line.
                while (!requireLine().isEmpty()) {
                    // ignored
                }
                return body.toByteArray();
            }
            body.write(readExactly(size));
            if (!requireLine().isEmpty()) {
                throw new ProtocolException("chunk of " + size + " bytes not followed by CRLF");
            }
        }
    }

    private byte[] readExactly(int n) throws IOException {
        byte[] out = new byte[n];
        int done = 0;
        while (done < n) {
            if (pos == limit && !fill()) {
                throw new ProtocolException("body ended after " + done + " of " + n + " bytes");
            }
            int take = Math.min(n - done, limit - pos);
            System.arraycopy(buf, pos, out, done, take);
            pos += take;
            done += take;
        }
        return out;
    }

    private String requireLine() throws IOException {
        String line = readLine();
        if (line == null) {
            throw new ProtocolException("connection closed mid-request");
        }
        return line;
    }

    /** A line without its LF or CRLF, or null at end of stream before any byte. */
    private @Nullable String readLine() throws IOException {
        int start = pos;
        int scanned = pos;
        while (true) {
            while (scanned < limit && buf[scanned] != '\n') {
                scanned++;
            }
            if (scanned < limit) {
                int end = scanned > start && buf[scanned - 1] == '\r' ? scanned - 1 : scanned;
                String line = new String(buf, start, end - start, StandardCharsets.ISO_8859_1);
                pos = scanned + 1;
                return line;
            }
            if (scanned - start > MAX_LINE) {
                throw new ProtocolException("line longer than " + MAX_LINE + " bytes");
            }
            int offset = scanned - start;
            pos = start;
            if (!fill()) {
                if (offset == 0) {
                    return null;
                }
                throw new ProtocolException("connection closed mid-line");
            }
            start = pos;
            scanned = start + offset;
        }
    }

    /** Reads more bytes, keeping those from pos on; false at end of stream. */
    private boolean fill() throws IOException {
        compact();
        if (limit == buf.length) {
            buf = Arrays.copyOf(buf, buf.length * 2);
        }
        int n = in.read(buf, limit, buf.length - limit);
        if (n < 0) {
            return false;
        }
        limit += n;
        return true;
    }

    private void compact() {
        if (pos > 0) {
            System.arraycopy(buf, pos, buf, 0, limit - pos);
            limit -= pos;
            pos = 0;
        }
    }
}
