package dev.tiergate.gateway;

import java.io.Closeable;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * Closes an upstream body when it has been silent for longer than the idle timeout or the call's deadline has
 * passed: the HTTP clients' own timeouts stop at the response headers, and a stalled upstream must not hold a
 * caller (and its budget reservation) forever.
 *
 * <p>One shared timer thread checks every watched call when its time may be up; a call that finishes first only
 * cancels its check. (A virtual thread per call, parked with a timeout, cost a thread start and a timer
 * hand-off on every call.) Touching is a volatile write.
 */
final class StreamWatchdog implements AutoCloseable {
    private static final ScheduledThreadPoolExecutor TIMER = timer();

    private final Closeable target;
    private final long idleNanos;
    private final Instant deadline;
    private final ReentrantLock lock = new ReentrantLock();
    private @Nullable ScheduledFuture<?> check;
    private boolean done;
    private volatile long lastActivity = System.nanoTime();
    private volatile String firedReason = "";

    private StreamWatchdog(Closeable target, Duration idle, Instant deadline) {
        this.target = target;
        this.idleNanos = idle.toNanos();
        this.deadline = deadline;
    }

    static StreamWatchdog start(Closeable target, Duration idle, Instant deadline) {
        StreamWatchdog w = new StreamWatchdog(target, idle, deadline);
        w.check();
        return w;
    }

    private static ScheduledThreadPoolExecutor timer() {
        ScheduledThreadPoolExecutor t = new ScheduledThreadPoolExecutor(
                1, Thread.ofPlatform().name("tiergate-watchdog").daemon().factory());
        // Most calls end long before their timeouts: their checks must leave the queue, not wait in it.
        t.setRemoveOnCancelPolicy(true);
        return t;
    }

    /** Marks activity: an event or a chunk arrived. */
    void touch() {
        lastActivity = System.nanoTime();
    }

    /** Why the watchdog closed the stream ("" if it did not). */
    String firedReason() {
        return firedReason;
    }

    private void check() {
        long idleLeft = lastActivity + idleNanos - System.nanoTime();
        long deadlineLeft = Duration.between(Instant.now(), deadline).toNanos();
        if (idleLeft <= 0 || deadlineLeft <= 0) {
            fire(
                    idleLeft <= 0
                            ? "upstream sent nothing for "
                                    + Duration.ofNanos(idleNanos).toSeconds() + " s"
                            : "the call passed its total deadline");
            return;
        }
        lock.lock();
        try {
            if (!done) {
                check = TIMER.schedule(this::check, Math.min(idleLeft, deadlineLeft), TimeUnit.NANOSECONDS);
            }
        } finally {
            lock.unlock();
        }
    }

    private void fire(String reason) {
        lock.lock();
        try {
            if (done) {
                return;
            }
            firedReason = reason;
        } finally {
            lock.unlock();
        }
        // Closing can block on a connection that will not let go: never on the shared timer thread.
        Thread.ofVirtual().name("tiergate-watchdog-close").start(() -> {
            try {
                target.close();
            } catch (IOException e) {
                // closing is best effort: the reader sees the stream end either way
            }
        });
    }

    @Override
    public void close() {
        lock.lock();
        try {
            done = true;
            if (check != null) {
                check.cancel(false);
            }
        } finally {
            lock.unlock();
        }
    }
}
