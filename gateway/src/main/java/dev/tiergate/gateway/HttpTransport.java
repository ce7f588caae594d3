package dev.tiergate.gateway;

import io.helidon.http.Header;
import io.helidon.webserver.ServerConnectionException;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

/** Helidon's request and response as the pipeline's {@link CallRequest} and {@link ResponseSink}. */
final class HttpTransport {
    /**
     * Bodies up to this declared length are read into one array allocated up front; larger ones grow as their
     * bytes arrive, so that a declared length alone never makes the gateway allocate much.
     */
    private static final int MAX_EXACT = 1024 * 1024;

    private HttpTransport() {}

    /**
     * The request's headers, and its body to be read when the pipeline asks for it, stopping at
     * {@code maxBodyBytes}. A body left unread (the caller's key was refused, or its declared length is over the
     * limit) is read and dropped by Helidon once the handler returns, in small buffers, so that the connection can
     * carry the caller's next request.
     */
    static CallRequest request(ServerRequest req, long maxBodyBytes) {
        return new CallRequest(headers(req), () -> body(req, maxBodyBytes), null);
    }

    /**
     * Reads the body, or returns empty without keeping it if it is over {@code maxBodyBytes}: at once when its
     * declared length is, else as soon as more than that has arrived.
     */
    static Optional<byte[]> body(ServerRequest req, long maxBodyBytes) {
        OptionalLong declared = req.headers().contentLength();
        if (declared.isPresent() && declared.getAsLong() > maxBodyBytes) {
            return Optional.empty();
        }
        try (InputStream in = req.content().inputStream()) {
            byte[] bytes = declared.isPresent() && declared.getAsLong() <= MAX_EXACT
                    ? exactly(in, (int) declared.getAsLong())
                    : in.readNBytes((int) Math.min(maxBodyBytes + 1, Integer.MAX_VALUE - 8));
            return bytes.length > maxBodyBytes ? Optional.empty() : Optional.of(bytes);
        } catch (IOException e) {
            throw new UncheckedIOException("reading the request body", e);
        }
    }

    /**
     * A whole body, read into one array of its declared length when that is known and small (a body that ends
     * early is returned as far as it came). Reading an unknown length goes through 16 KB buffers: for a small
     * call, request and response together, about a fifth of all it allocated.
     */
    static byte[] readBody(InputStream in, java.util.Optional<String> contentLength) throws IOException {
        if (contentLength.isPresent()) {
            try {
                long n = Long.parseLong(contentLength.get().trim());
                if (n >= 0 && n <= MAX_EXACT) {
                    return exactly(in, (int) n);
                }
            } catch (NumberFormatException e) {
                // not a length: read to the end
            }
        }
        return in.readAllBytes();
    }

    private static byte[] exactly(InputStream in, int n) throws IOException {
        byte[] bytes = new byte[n];
        int read = in.readNBytes(bytes, 0, n);
        if (read < n) {
            return java.util.Arrays.copyOf(bytes, read);
        }
        // Read on to the end: an HTTP client returns the connection to its pool only once it has seen the end of
        // the body, so a body read to exactly its length would cost the next call a new connection.
        int next = in.read();
        if (next < 0) {
            return bytes;
        }
        // longer than declared: keep all of it
        byte[] rest = in.readAllBytes();
        byte[] all = java.util.Arrays.copyOf(bytes, n + 1 + rest.length);
        all[n] = (byte) next;
        System.arraycopy(rest, 0, all, n + 1, rest.length);
        return all;
    }

    /** The request's headers only, for endpoints without a body. */
    static CallRequest headersOnly(ServerRequest req) {
        return CallRequest.inMemory(headers(req), new byte[0], null);
    }

    private static Map<String, List<String>> headers(ServerRequest req) {
        Map<String, List<String>> headers = new LinkedHashMap<>();
        for (Header h : req.headers()) {
            headers.put(h.name(), h.allValues());
        }
        return headers;
    }

    /** Helidon's response; its connection errors surface as {@link IOException}s, as the sink contract says. */
    static ResponseSink response(ServerResponse res) {
        return new ResponseSink() {
            @Override
            public void header(String name, String value) {
                res.header(name, value);
            }

            @Override
            public void status(int status) {
                res.status(status);
            }

            @Override
            public void send(byte[] body) {
                try {
                    res.send(body);
                } catch (ServerConnectionException e) {
                    throw new UncheckedIOException(new IOException("caller disconnected", e));
                }
            }

            @Override
            public OutputStream outputStream() {
                OutputStream out = res.outputStream();
                return new OutputStream() {
                    @Override
                    public void write(int b) throws IOException {
                        try {
                            out.write(b);
                        } catch (ServerConnectionException | UncheckedIOException e) {
                            throw new IOException("caller disconnected", e);
                        }
                    }

                    @Override
                    public void write(byte[] b, int off, int len) throws IOException {
                        try {
                            out.write(b, off, len);
                        } catch (ServerConnectionException | UncheckedIOException e) {
                            throw new IOException("caller disconnected", e);
                        }
                    }

                    @Override
                    public void flush() throws IOException {
                        try {
                            out.flush();
                        } catch (ServerConnectionException | UncheckedIOException e) {
                            throw new IOException("caller disconnected", e);
                        }
                    }

                    @Override
                    public void close() throws IOException {
                        try {
                            out.close();
                        } catch (ServerConnectionException | UncheckedIOException e) {
                            throw new IOException("caller disconnected", e);
                        }
                    }
                };
            }
        };
    }
}
