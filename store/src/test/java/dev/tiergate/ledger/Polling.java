package dev.tiergate.ledger;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/** Waiting, with a timeout, for a condition that other threads bring about (a write queued, a connection quiet). */
final class Polling {
    private Polling() {}

    /** A condition polled by {@link #await}; may read private state reflectively. */
    @FunctionalInterface
    interface Condition {
        boolean holds() throws Exception;
    }

    /** A failure message for {@link #await}. */
    @FunctionalInterface
    interface Message {
        String text() throws Exception;
    }

    /** Polls {@code condition} every millisecond for at most 10 s; fails with {@code message} if it never holds. */
    static void await(Condition condition, Message message) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.holds()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(message.text());
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
        }
    }
}
