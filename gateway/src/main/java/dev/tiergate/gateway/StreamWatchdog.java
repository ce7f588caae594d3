package dev.tiergate.gateway;

import java.io.Closeable;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.locks.LockSupport;

/**
 * Closes an upstream body when it has been silent for longer than the idle timeout or the call's deadline has
 * passed: the JDK client's own timeout stops at the response headers, and a stalled upstream must not hold a
 * caller (and its budget reservation) forever. One virtual thread per watched call.
 */
final class StreamWatchdog implements AutoCloseable {
    private final Closeable target;
    private final long idleNanos;
    private final Instant deadline;
    private final Thread thread;
    private volatile long lastActivity = System.nanoTime();
    private volatile boolean done;
    private volatile String firedReason = "";

    private StreamWatchdog(Closeable target, Duration idle, Instant deadline) {
        this.target = target;
        this.idleNanos = idle.toNanos();
        this.deadline = deadline;
        this.thread = Thread.ofVirtual().name("tiergate-watchdog").unstarted(this::watch);
    }

    static StreamWatchdog start(Closeable target, Duration idle, Instant deadline) {
        StreamWatchdog w = new StreamWatchdog(target, idle, deadline);
        w.thread.start();
        return w;
    }

    /** Marks activity: an event or a chunk arrived. */
    void touch() {
        lastActivity = System.nanoTime();
    }

    /** Why the watchdog closed the stream ("" if it did not). */
    String firedReason() {
        return firedReason;
    }

    private void watch() {
        while (!done) {
            long now = System.nanoTime();
            long idleLeft = lastActivity + idleNanos - now;
            long deadlineLeft = Duration.between(Instant.now(), deadline).toNanos();
            if (idleLeft <= 0 || deadlineLeft <= 0) {
                firedReason = idleLeft <= 0
                        ? "upstream sent nothing for "
                                + Duration.ofNanos(idleNanos).toSeconds() + " s"
                        : "the call passed its total deadline";
                try {
                    target.close();
                } catch (IOException e) {
                    // closing is best effort: the reader sees the stream end either way
                }
                return;
            }
            LockSupport.parkNanos(Math.min(idleLeft, deadlineLeft));
        }
    }

    @Override
    public void close() {
        done = true;
        LockSupport.unpark(thread);
    }
}
