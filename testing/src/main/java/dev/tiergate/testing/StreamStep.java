package dev.tiergate.testing;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;

/**
 * One step of a scripted SSE response ({@link FakeResponse.Stream}), played in order after the response headers.
 *
 * <p>Build steps with {@link FakeResponse#stream()}. When the steps run out the body ends cleanly (last chunk, the
 * connection stays open for the next request); {@link Reset} and {@link Disconnect} end it abruptly instead.
 */
public sealed interface StreamStep {

    /**
     * Sends one SSE event, {@code event: name} then one {@code data:} line per line of {@code data}, then a blank
     * line, as one chunk, flushed.
     *
     * <p>A {@code message_start} whose {@code message} has no {@code model} gets the request's model when sent.
     */
    record Event(String name, String data) implements StreamStep {}

    /** Sends these characters (UTF-8) verbatim as one chunk, e.g. half an event. */
    record Bytes(String text) implements StreamStep {}

    /** Waits this long in real time (keep it short); ends early if the client disconnects. */
    record Pause(Duration duration) implements StreamStep {
        public Pause {
            if (duration.isNegative()) {
                throw new IllegalArgumentException("pause must not be negative, got " + duration);
            }
        }
    }

    /**
     * Waits until the test opens {@code gate} ({@link CountDownLatch#countDown()}), the client disconnects, or the
     * fake closes: makes slow streams deterministic.
     */
    record Await(CountDownLatch gate) implements StreamStep {}

    /** Resets the connection (SO_LINGER 0, so the client sees a TCP RST) and ends the response. */
    record Reset() implements StreamStep {}

    /** Closes the connection without the chunked body's last chunk: a stream cut off mid-body. */
    record Disconnect() implements StreamStep {}
}
