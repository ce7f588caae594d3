package dev.tiergate.cli;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.logging.ErrorManager;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * How {@code tiergate serve} prints the gateway's per-call log ({@code tiergate.calls}): each record's message,
 * which is one JSON object, on a line of its own, so that the output can be piped to {@code jq} or a log shipper.
 *
 * <p>The JDK's default console format spends two lines per record (a date line, then {@code INFO: ...}) and
 * formats a date on every call; the JSON already carries the call's time. Other loggers keep the default format.
 */
final class CallLog {
    /** Held so that the configured logger is not garbage collected and replaced by an unconfigured one. */
    private static final Logger CALLS = Logger.getLogger("tiergate.calls");

    private CallLog() {}

    /** Sends {@code tiergate.calls} records to {@code out} as bare JSON lines, written as soon as possible. */
    static void toJsonLines(OutputStream out) {
        for (Handler h : CALLS.getHandlers()) {
            CALLS.removeHandler(h);
            h.close();
        }
        CALLS.setUseParentHandlers(false);
        CALLS.addHandler(new JsonLinesHandler(out));
    }

    /**
     * Hands each record's message, as a line, to a platform thread that writes whatever has queued up and flushes
     * after each batch, then lets lines gather for {@link #LINGER} before it looks again.
     *
     * <p>Why not write on the caller's thread: the callers are the gateway's virtual threads, and a write to a file
     * or pipe blocks the carrier thread underneath for the whole system call. Measured at 1000 calls/s
     * (docs/benchmarks.md, session 5), old jar against new: 10-24% less CPU per call with the writer thread, and the
     * same throughput at saturation. A full queue ({@link #CAPACITY} lines: stderr not being read) blocks the caller
     * rather than dropping lines or growing without bound.
     *
     * <p>Why linger: a writer woken for every line costs each call a wake-up of this thread (a futex call on the
     * caller's side, a context switch and a write on this one): about 14 µs per call at 1000 calls/s, on the
     * gateway's one core (docs/benchmarks.md, tenth round). So the caller wakes the writer only when it sleeps
     * with nothing queued; a writer that has just written sleeps {@link #LINGER} and takes what arrived meanwhile in
     * one write. The first line after a quiet spell is written at once; under load, a line waits at most about
     * {@link #LINGER}. {@link #flush()} and {@link #close()} wake the writer too.
     */
    static final class JsonLinesHandler extends Handler {
        static final int CAPACITY = 65_536;
        static final Duration LINGER = Duration.ofMillis(20);
        private static final int BATCH = 1024;

        private final ArrayBlockingQueue<String> lines = new ArrayBlockingQueue<>(CAPACITY);
        private final Writer out;
        private final Thread writer;
        private final Object progress = new Object();
        private long queued; // guarded by progress
        private long written; // guarded by progress
        private long batches; // guarded by progress
        private final long lingerNanos;
        private final AtomicLong wakeUps = new AtomicLong();
        private volatile boolean closed;
        // the writer is asleep with nothing queued, until a caller wakes it (set and cleared by the writer)
        private volatile boolean idle;

        JsonLinesHandler(OutputStream out) {
            this(out, LINGER);
        }

        /** @param linger how long the writer lets lines gather after a write ({@link #LINGER}; longer in tests) */
        JsonLinesHandler(OutputStream out, Duration linger) {
            this.lingerNanos = linger.toNanos();
            this.out = new BufferedWriter(new OutputStreamWriter(out, StandardCharsets.UTF_8), 65_536);
            this.writer = Thread.ofPlatform().daemon().name("tiergate-call-log").start(this::writeLoop);
        }

        @Override
        public void publish(LogRecord r) {
            if (closed || !isLoggable(r)) {
                return;
            }
            String line = r.getMessage() + System.lineSeparator();
            synchronized (progress) {
                queued++;
            }
            boolean interrupted = false;
            while (true) {
                try {
                    lines.put(line);
                    break;
                } catch (InterruptedException e) {
                    interrupted = true; // the line is the record of a call: keep trying, then restore the flag
                }
            }
            // after the put: a writer that set idle before this read has yet to look at the queue, or is parked
            if (idle) {
                wakeUps.incrementAndGet();
                LockSupport.unpark(writer);
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }

        private void writeLoop() {
            List<String> batch = new ArrayList<>(BATCH);
            while (true) {
                lines.drainTo(batch, BATCH);
                if (batch.isEmpty()) {
                    if (closed) {
                        return; // closed, and every line written
                    }
                    idle = true;
                    if (lines.isEmpty() && !closed) { // a caller that put a line before idle was set is seen here
                        LockSupport.park(this);
                    }
                    idle = false;
                    continue;
                }
                try {
                    for (String line : batch) {
                        out.write(line);
                    }
                    out.flush();
                } catch (IOException e) {
                    reportError("cannot write the call log", e, ErrorManager.WRITE_FAILURE);
                }
                synchronized (progress) {
                    written += batch.size();
                    batches++;
                    progress.notifyAll();
                }
                if (batch.size() < BATCH && !closed) {
                    LockSupport.parkNanos(this, lingerNanos); // let the next lines gather (see above)
                }
                batch.clear();
            }
        }

        /** Returns once every line published before the call has been written and flushed. */
        @Override
        public void flush() {
            LockSupport.unpark(writer); // rather than wait out its linger
            synchronized (progress) {
                long target = queued;
                boolean interrupted = false;
                while (written < target && writer.isAlive()) {
                    try {
                        progress.wait(100);
                    } catch (InterruptedException e) {
                        interrupted = true;
                    }
                }
                if (interrupted) {
                    Thread.currentThread().interrupt();
                }
            }
        }

        /** How many times a caller has woken the writer (it slept with nothing queued). */
        long wakeUps() {
            return wakeUps.get();
        }

        /** How many writes (each flushed) the writer has made so far. */
        long batches() {
            synchronized (progress) {
                return batches;
            }
        }

        /** Whether the writer thread still runs (until {@link #close()}). */
        boolean writerAlive() {
            return writer.isAlive();
        }

        /** Writes what is queued, then stops the writer thread. */
        @Override
        public void close() {
            flush();
            closed = true;
            LockSupport.unpark(writer);
            try {
                writer.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
