package dev.tiergate.ledger;

import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;

/**
 * Group commit: one writer thread runs the write transactions of every caller, putting the work of all callers
 * that arrived while the previous commit ran into the next transaction.
 *
 * <p>Why: a commit is the expensive part of a ledger write (the WAL frames of every page touched, a round trip and
 * WAL flush on PostgreSQL) and the budget rows every call updates are the same few rows. With one transaction per
 * call, throughput is bounded by commits per second and, on PostgreSQL, by how long each transaction holds the
 * hot rows' locks. Here a batch pays one commit for many calls and touches each hot page once. No caller is told
 * its write succeeded before the commit that contains it: a batch never acknowledges anything it could still lose.
 * Batches form only from callers already waiting, so at low load a write is one transaction as before (no timer).
 *
 * <p>Each work runs after the previous works of its batch, in the same transaction, so it sees their effects:
 * admission decisions stay exact. If any work of a batch fails (or the commit does), the batch is rolled back and
 * each of its works is run again alone in its own transaction, so one bad call fails only itself. Works must
 * therefore keep their effects inside the transaction (no side effects on the caller's objects before they
 * return): a work may run twice, and only the last run's result is returned.
 *
 * <p>The writer is a platform thread: SQLite's driver is JNI, and a virtual thread inside a JNI call pins its
 * carrier for the whole statement; callers (virtual threads) park on a future instead.
 */
final class GroupCommit implements AutoCloseable {
    /** A batch is at most this many works, so one commit never carries an unbounded amount of work. */
    static final int MAX_BATCH = 256;

    /** How many more times a work run alone is retried after an error {@code retryable} accepts (a deadlock). */
    static final int RETRIES = 5;

    /** Runs {@code body} in one transaction on the writer's connection: begin, body, commit; rollback on failure. */
    @FunctionalInterface
    interface Transactor {
        void inTransaction(Body body) throws SQLException;
    }

    /** The inside of one transaction. */
    @FunctionalInterface
    interface Body {
        void run(Database.Tx tx) throws SQLException;
    }

    private final Transactor transactor;
    private final Function<SQLException, LedgerException> wrap;
    private final Predicate<SQLException> retryable;
    private final LinkedBlockingQueue<Pending<?>> queue = new LinkedBlockingQueue<>();
    private final ReentrantLock admission = new ReentrantLock();
    private final Thread writer;
    private boolean closed; // guarded by admission
    private volatile long batches; // written by the writer thread only
    private volatile long works; // written by the writer thread only

    /**
     * @param transactor how to run one transaction on the writer's connection
     * @param wrap how a database error becomes the caller's exception (naming the database)
     * @param retryable errors after which running the same work again can succeed (deadlock, serialisation)
     */
    GroupCommit(
            String name,
            Transactor transactor,
            Function<SQLException, LedgerException> wrap,
            Predicate<SQLException> retryable) {
        this.transactor = transactor;
        this.wrap = wrap;
        this.retryable = retryable;
        this.writer = Thread.ofPlatform().daemon().name(name).unstarted(this::loop);
        writer.start();
    }

    /** Runs {@code work} in a write transaction, possibly with other callers' work; returns once it is committed. */
    <T> T write(Database.Work<T> work) {
        if (Thread.currentThread() == writer) {
            throw new IllegalStateException("a ledger write inside a ledger write would wait for itself");
        }
        Pending<T> pending = new Pending<>(work);
        admission.lock();
        try {
            if (closed) {
                throw new LedgerException("the ledger is closed");
            }
            queue.add(pending);
        } finally {
            admission.unlock();
        }
        return pending.await();
    }

    /** Transactions committed so far. */
    long batches() {
        return batches;
    }

    /** Works committed so far; divided by {@link #batches()}, the average batch size. */
    long works() {
        return works;
    }

    private void loop() {
        List<Pending<?>> batch = new ArrayList<>();
        while (true) {
            Pending<?> first;
            try {
                first = queue.take();
            } catch (InterruptedException e) {
                // close() stops the writer with the stop signal, not an interrupt: queued work must still run
                continue;
            }
            if (first.work == null) {
                return; // the poison pill: everything queued before close() has been run
            }
            batch.add(first);
            while (batch.size() < MAX_BATCH) {
                Pending<?> next = queue.peek();
                if (next == null || next.work == null) {
                    break;
                }
                batch.add(queue.remove());
            }
            run(batch);
            batch.clear();
        }
    }

    private void run(List<Pending<?>> batch) {
        if (batch.size() > 1) {
            try {
                transactor.inTransaction(tx -> {
                    for (Pending<?> p : batch) {
                        p.runIn(tx);
                    }
                });
                batches++;
                works += batch.size();
                for (Pending<?> p : batch) {
                    p.succeed();
                }
                return;
            } catch (SQLException | RuntimeException | Error e) {
                // rolled back: find the failing work by running each alone (the others then commit on their own)
            }
        }
        for (Pending<?> p : batch) {
            runAlone(p);
        }
    }

    private void runAlone(Pending<?> p) {
        for (int attempt = 0; ; attempt++) {
            try {
                transactor.inTransaction(p::runIn);
                batches++;
                works++;
                p.succeed();
                return;
            } catch (SQLException e) {
                if (attempt < RETRIES && retryable.test(e)) {
                    continue;
                }
                p.fail(wrap.apply(e));
                return;
            } catch (RuntimeException | Error e) {
                p.fail(e);
                return;
            }
        }
    }

    @Override
    public void close() {
        admission.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            queue.add(new Pending<>(null));
        } finally {
            admission.unlock();
        }
        boolean interrupted = false;
        while (true) {
            try {
                writer.join();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** One caller's work and the future it waits on; a null work is the writer's stop signal. */
    private static final class Pending<T> {
        final Database.@Nullable Work<T> work;
        private final CompletableFuture<T> done = new CompletableFuture<>();
        private @Nullable T result;

        Pending(Database.@Nullable Work<T> work) {
            this.work = work;
        }

        void runIn(Database.Tx tx) throws SQLException {
            if (work == null) {
                throw new IllegalStateException("the stop signal is never run");
            }
            result = work.run(tx);
        }

        @SuppressWarnings("NullAway") // T itself may be a nullable type; the work's result is passed through as is
        void succeed() {
            done.complete(result);
        }

        void fail(Throwable e) {
            done.completeExceptionally(e);
        }

        T await() {
            boolean interrupted = false;
            try {
                while (true) {
                    try {
                        return done.get();
                    } catch (InterruptedException e) {
                        // the write is queued or running and will commit regardless; its caller must learn the
                        // outcome (a reservation it does not know of could never be settled), so keep waiting
                        interrupted = true;
                    } catch (ExecutionException e) {
                        Throwable cause = e.getCause();
                        if (cause instanceof RuntimeException r) {
                            throw r;
                        }
                        if (cause instanceof Error err) {
                            throw err;
                        }
                        // fail() is only given runtime exceptions and errors; anything else is a bug here
                        throw new IllegalStateException("ledger write failed", e);
                    }
                }
            } finally {
                if (interrupted) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }
}
