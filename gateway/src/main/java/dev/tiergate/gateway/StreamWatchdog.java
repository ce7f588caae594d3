package dev.tiergate.gateway;

import java.io.Closeable;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Closes an upstream body when it has been silent for longer than the idle timeout or the call's deadline has
 * passed: the HTTP clients' own timeouts stop at the response headers, and a stalled upstream must not hold a
 * caller (and its budget reservation) forever.
 *
 * <p>One shared platform thread sleeps until the earliest time a watched call may be due, then checks the watched
 * calls. A new call wakes it only if that call could be due before the thread's planned wake-up, which with the
 * same timeouts for every call is almost never: calls that started earlier are due earlier. (A timer task per
 * call, scheduled and cancelled, woke the timer thread on every call that found no other in flight, about 1,000
 * wake-ups a second at 1,000 calls/s; a virtual thread per call, parked with a timeout, cost a thread start and a
 * timer hand-off on every call.) Touching is a volatile write; starting and closing are a set insert and remove.
 */
final class StreamWatchdog implements AutoCloseable {
    /** The longest the sweeper sleeps. */
    private static final long MAX_SLEEP_NANOS = Duration.ofHours(1).toNanos();

    /** A call already due counts as this short a timeout, so the sweeper never spins. */
    private static final long MIN_TIMEOUT_FLOOR_NANOS = Duration.ofMillis(1).toNanos();

    private static final Set<StreamWatchdog> WATCHED = ConcurrentHashMap.newKeySet();
    /** When the sweeper will next look ({@link System#nanoTime()}); {@code Long.MAX_VALUE} while it is looking. */
    private static final AtomicLong WAKE_AT = new AtomicLong(Long.MAX_VALUE);
    /** Sweeps so far, for tests. */
    private static final AtomicLong SWEEPS = new AtomicLong();
    /**
     * The shortest time from start to due of the calls started since the sweeper last found none watched (at
     * least the floor). The sweeper sleeps at most this long: a call starting meanwhile with the same timeouts
     * cannot be due sooner, so it need not wake the sweeper. Without it, every call that started after the sweeper
     * found nothing to watch would wake it.
     */
    private static final AtomicLong MIN_TIMEOUT = new AtomicLong(MAX_SLEEP_NANOS);

    private static final Thread SWEEPER =
            Thread.ofPlatform().name("tiergate-watchdog").daemon().start(StreamWatchdog::sweepForever);

    private final Closeable target;
    private final long idleNanos;
    private final long deadlineNanos;
    private final ReentrantLock lock = new ReentrantLock();
    private boolean done; // guarded by lock
    private volatile long lastActivity = System.nanoTime();
    private volatile String firedReason = "";

    private StreamWatchdog(Closeable target, Duration idle, Instant deadline) {
        this.target = target;
        this.idleNanos = idle.toNanos();
        this.deadlineNanos =
                lastActivity + Duration.between(Instant.now(), deadline).toNanos();
    }

    static StreamWatchdog start(Closeable target, Duration idle, Instant deadline) {
        StreamWatchdog w = new StreamWatchdog(target, idle, deadline);
        long timeout = Math.max(w.dueAt() - w.lastActivity, MIN_TIMEOUT_FLOOR_NANOS);
        if (timeout < MIN_TIMEOUT.get()) {
            MIN_TIMEOUT.accumulateAndGet(timeout, Math::min);
        }
        WATCHED.add(w);
        // read after the add: a sweeper that has already passed this call has set a new WAKE_AT (or is still
        // looking, MAX_VALUE), and either way a call due sooner than that wakes it
        if (w.dueAt() - WAKE_AT.get() < 0) {
            LockSupport.unpark(SWEEPER);
        }
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

    /** Sweeps the watchdog thread has made; for tests. */
    static long sweeps() {
        return SWEEPS.get();
    }

    /** The earliest time this call may have to be closed: touches only move it later. */
    private long dueAt() {
        long idleAt = lastActivity + idleNanos;
        return idleAt - deadlineNanos < 0 ? idleAt : deadlineNanos;
    }

    private static void sweepForever() {
        while (true) {
            WAKE_AT.set(Long.MAX_VALUE);
            SWEEPS.incrementAndGet();
            long now = System.nanoTime();
            long next = now + MIN_TIMEOUT.get();
            if (WATCHED.isEmpty()) {
                // start afresh from the calls that come next, so that one odd short timeout is forgotten
                next = now + MIN_TIMEOUT.getAndSet(MAX_SLEEP_NANOS);
            }
            for (StreamWatchdog w : WATCHED) {
                long due = w.dueAt();
                if (due - now <= 0) {
                    WATCHED.remove(w);
                    w.fire(
                            lastActivityExpired(w, now)
                                    ? "upstream sent nothing for "
                                            + Duration.ofNanos(w.idleNanos).toSeconds() + " s"
                                    : "the call passed its total deadline");
                } else if (due - next < 0) {
                    next = due;
                }
            }
            WAKE_AT.set(next);
            long sleep = next - System.nanoTime();
            if (sleep > 0) {
                // a start() that unparked us while we looked leaves a permit: this returns at once and we look again
                LockSupport.parkNanos(sleep);
            }
        }
    }

    private static boolean lastActivityExpired(StreamWatchdog w, long now) {
        return w.lastActivity + w.idleNanos - now <= 0;
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
        // Closing can block on a connection that will not let go: never on the shared sweeper thread.
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
        } finally {
            lock.unlock();
        }
        WATCHED.remove(this);
    }
}
