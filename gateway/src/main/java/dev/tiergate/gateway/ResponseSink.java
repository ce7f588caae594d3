package dev.tiergate.gateway;

import java.io.OutputStream;

/**
 * Where the pipeline writes its answer: an HTTP response, or an in-process caller. Set headers and the status,
 * then either {@link #send} a whole body or write a stream to {@link #outputStream()}.
 *
 * <p>Writes fail with {@link java.io.IOException} (streams) or {@link java.io.UncheckedIOException}
 * ({@link #send}) when the caller is gone; transports translate their own exceptions into these.
 */
interface ResponseSink {
    /** Sets a response header; before anything is sent. */
    void header(String name, String value);

    /** Sets the status; before anything is sent. */
    void status(int status);

    /** Sends a whole body and completes the response. */
    void send(byte[] body);

    /** Starts a streamed body; flushing sends what was written so far. Closing completes the response. */
    OutputStream outputStream();
}
