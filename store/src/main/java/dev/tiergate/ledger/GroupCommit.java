package dev.tiergate.ledger;

import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
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
 * admission decisions stay exact. Works that name one {@link Database.Combiner} run together through it, after
 * the batch's other works (on PostgreSQL, reservations and settlements: {@link PostgresBatch}). If any work of a
 * batch fails (or the commit does), the batch is rolled back and each of its works is run again alone in its own
 * transaction, so one bad call fails only itself. Works must
 * therefore keep their effects inside the transaction (no side effects on the caller's objects before they
 * return): a work may run twice, and only the last run's result is returned.
 *
 * <p>The writer is a platform thread: SQLite's driver is JNI, and a virtual thread inside a JNI call pins its
 * carrier for the whole statement; callers (virtual threads) park on a future instead.
 *
 * <p>Woken by a write, the writer first yields its CPU once, then gathers its batch. Why: where it shares a core
 * with the callers' carrier (a gateway pinned to one core), the first write's wake-up puts it on the CPU ahead of
 * the carrier that is about to queue more, and it committed that write nearly alone: at saturation 2.2-2.5 writes
 * per transaction, each transaction paying SQLite's lock calls, its WAL frames and a writer wake-up. Yielding
 * lets the carrier queue the writes of the requests it has in hand first. Measured (docs/benchmarks.md, Gateway
 * overhead, seventeenth round): 14-18 writes per transaction at saturation, less CPU per request in every
 * alternated pair, a p99 half as long; on PostgreSQL 40% more pairs per second from two instances. The yield
 * is kept only near saturation and while it pays ({@link #letOthersQueueFirst}). Where nothing else is ready to
 * run it returns at once.
 *
 * <p>Quiet connections, optionally ({@code runOnCallerWhenQuiet}): a hand-off to the writer and back costs two
 * thread wake-ups (measured at about 33 µs per transaction on SQLite), which at light load is as much as the
 * transaction itself, and batching gains nothing when no other write will arrive while it runs. So a caller that
 * finds nothing queued and the connection free, while writes arrive at least {@link #QUIET_RATIO} transaction
 * times apart on average, runs its work alone on its own thread instead. Under load writes must queue and share
 * commits: on one carrier thread, a caller running its own transaction keeps every other caller from reaching the
 * queue meanwhile, so there it would end batching altogether (measured: 22-51% less throughput at saturation when
 * every caller that found the writer idle ran its own). The arrival gaps alone do not keep that from happening
 * where a request costs much more CPU than its ledger writes: at saturation the writes still arrive far apart. So
 * a virtual-thread caller also first lets the other ready virtual threads run (always while that has lately found
 * others coming to write, else one caller in {@link #PROBE_EVERY}), and runs its own transaction only if none of
 * them came to write meanwhile ({@link #aloneAfterOthersHadTheirTurn}). A caller's own transaction on SQLite
 * pins its carrier for the transaction's length (tens of µs), as the writer thread would have taken that CPU
 * anyway. Whoever runs a transaction, writer or caller, holds the connection lock for it.
 */
final class GroupCommit implements AutoCloseable {
    /** A batch is at most this many works, so one commit never carries an unbounded amount of work. */
    static final int MAX_BATCH = 256;

    /** How many more times a work run alone is retried after an error {@code retryable} accepts (a deadlock). */
    static final int RETRIES = 5;

    /**
     * A caller runs its own transaction only while writes arrive, on average, at least this many transaction times
     * apart, that is while the connection is busy at most half the time. Measured on SQLite (docs/benchmarks.md):
     * with 4, a third of the writes at 1000 pairs/s still went to the writer (the average transaction, slow ones
     * included, took 100-150 µs) and the gain was lost; at gateway saturation writes arrive less than two
     * transaction times apart, so they queue and batch as before.
     */
    static final int QUIET_RATIO = 2;

    /**
     * While recent yields seldom found company, a quiet virtual-thread caller yields only on every this many-th
     * arrival (a power of two): at light load that is one yield's cost in 16, and under rising load a probe finds
     * company within this many quiet arrivals, after which every quiet caller yields.
     */
    static final int PROBE_EVERY = 16;

    private static final int PAYOFF_SCALE = 256;

    /** The scale of {@link #callerShare}. */
    static final int CALLER_SHARE_SCALE = 1 << 16;

    /**
     * The writer yields only while fewer of the recent writes than this ran on their callers' threads: near
     * saturation (0% there), not at moderate load. At half the scale, the yield also ran at half the saturation
     * rate, where the share sat near half (37-52%) and the yield cost p50 and p99 (docs/benchmarks.md, eighteenth
     * round); without the yield the share there is 75-77%.
     */
    static final int YIELD_BELOW_CALLER_SHARE = CALLER_SHARE_SCALE / 8;

    /** Callers keep yielding while at least about one recent yield in eight found company. */
    private static final int PAYOFF_TO_KEEP_YIELDING = PAYOFF_SCALE / 8;

    /** A gap between writes counts as at most this long, so that an idle minute is forgotten after a few writes. */
    private static final long MAX_GAP_NANOS = 10_000_000;

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
    private final boolean runOnCallerWhenQuiet;
    private final LinkedBlockingQueue<Pending<?>> queue = new LinkedBlockingQueue<>();
    private final ReentrantLock admission = new ReentrantLock();
    /** Held by whoever runs a transaction on the connection: the writer thread or a caller on a quiet connection. */
    private final ReentrantLock connection = new ReentrantLock();
    /** Virtual-thread callers that found the connection quiet and are letting others go first (see below). */
    private final AtomicInteger deciding = new AtomicInteger();
    /** Quiet arrivals of virtual-thread callers, counted to yield on every {@link #PROBE_EVERY}-th when unsure. */
    private final AtomicInteger quietArrivals = new AtomicInteger();
    /** Moving average (weight 1/8) of whether a yield found other callers coming to write, out of PAYOFF_SCALE. */
    private volatile int yieldPayoff;

    private final Runnable beforeGathering;
    /** Out of {@link #CALLER_SHARE_SCALE}: moving average (weight 1/128 per write) of the writes run by their caller. */
    private volatile int callerShare; // written under the connection lock

    /** Like {@link #yieldPayoff}, for the writer's own yield before it gathers a batch; the writer's only. */
    private int writerYieldPayoff;
    /** The writer's wake-ups, counted to yield on every {@link #PROBE_EVERY}-th when unsure; the writer's only. */
    private int writerWakeUps;

    private final Thread writer;
    private volatile boolean closed; // written under admission
    private volatile long batches; // written under the connection lock
    private volatile long works; // written under the connection lock
    private volatile long worksOnCaller; // written under the connection lock
    private volatile long holds; // written under the connection lock
    private volatile long heldNanos; // written under the connection lock
    // Moving averages (weight 1/8) of the time between writes arriving and of a transaction's duration. The first
    // is updated by callers without a lock: a lost update only makes the estimate a little staler.
    private final AtomicLong lastArrivalNanos = new AtomicLong(System.nanoTime() - MAX_GAP_NANOS);
    private volatile long meanGapNanos = MAX_GAP_NANOS;
    private volatile long meanTookNanos; // written under the connection lock

    /**
     * @param transactor how to run one transaction on the writer's connection
     * @param wrap how a database error becomes the caller's exception (naming the database)
     * @param retryable errors after which running the same work again can succeed (deadlock, serialisation)
     * @param runOnCallerWhenQuiet whether a caller may run its own work on a quiet connection (see above)
     */
    GroupCommit(
            String name,
            Transactor transactor,
            Function<SQLException, LedgerException> wrap,
            Predicate<SQLException> retryable,
            boolean runOnCallerWhenQuiet) {
        this(name, transactor, wrap, retryable, runOnCallerWhenQuiet, Thread::yield);
    }

    /** @param beforeGathering what the writer does once woken, before it gathers its batch (tests watch it) */
    GroupCommit(
            String name,
            Transactor transactor,
            Function<SQLException, LedgerException> wrap,
            Predicate<SQLException> retryable,
            boolean runOnCallerWhenQuiet,
            Runnable beforeGathering) {
        this.beforeGathering = beforeGathering;
        this.transactor = transactor;
        this.wrap = wrap;
        this.retryable = retryable;
        this.runOnCallerWhenQuiet = runOnCallerWhenQuiet;
        this.writer = Thread.ofPlatform().daemon().name(name).unstarted(this::loop);
        writer.start();
    }

    /** Runs {@code work} in a write transaction, possibly with other callers' work; returns once it is committed. */
    <T> T write(Database.Work<T> work) {
        if (Thread.currentThread() == writer || connection.isHeldByCurrentThread()) {
            throw new IllegalStateException("a ledger write inside a ledger write would wait for itself");
        }
        Pending<T> pending = new Pending<>(work);
        if (runOnCallerWhenQuiet && arrivedQuiet() && aloneAfterOthersHadTheirTurn() && connection.tryLock()) {
            try {
                if (closed) {
                    throw new LedgerException("the ledger is closed");
                }
                runAlone(pending);
                countOnCaller();
            } finally {
                connection.unlock();
            }
            return pending.await();
        }
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

    /** Something to run on another connection to the same database while no write of this process runs. */
    @FunctionalInterface
    interface Exclusive<T> {
        T run() throws SQLException;
    }

    /**
     * Runs {@code action} on the calling thread while holding the connection lock, outside any transaction: no
     * write of this process runs meanwhile, and callers that arrive queue for the writer (a virtual thread parks on
     * its future, leaving its carrier free) instead of running their own transaction.
     *
     * <p>Why: SQLite makes a writer wait for a lock another connection holds inside the writer's JNI call (its busy
     * handler sleeps 1, 2, 5, 10 ms between tries). On a virtual thread that pins the carrier, and on one core the
     * whole process stops: no request is read, no upstream answer handled. Measured (docs/benchmarks.md, Gateway
     * overhead, fifteenth round): a caller's own transaction that met the checkpoint thread's RESTART slept 1 + 2 +
     * 5 ms on the gateway's only carrier, and every request of those 9 ms waited. Taking this lock first makes our
     * own writers wait in Java instead, and only for as long as the action runs.
     */
    <T> T exclusively(Exclusive<T> action) throws SQLException {
        if (Thread.currentThread() == writer || connection.isHeldByCurrentThread()) {
            throw new IllegalStateException("an exclusive section inside a ledger write would wait for itself");
        }
        connection.lock();
        long start = System.nanoTime();
        try {
            return action.run();
        } finally {
            countHold(System.nanoTime() - start);
            connection.unlock();
        }
    }

    @SuppressWarnings("NonAtomicVolatileUpdate") // only the holder of the connection lock writes them
    private void countHold(long nanos) {
        holds++;
        heldNanos += nanos;
    }

    /** Notes a write's arrival in the average time between writes; returns whether the connection is quiet. */
    @SuppressWarnings("NonAtomicVolatileUpdate") // an estimate: racing callers may lose one another's update
    private boolean arrivedQuiet() {
        long now = System.nanoTime();
        long gap = Math.min(now - lastArrivalNanos.getAndSet(now), MAX_GAP_NANOS);
        meanGapNanos += (gap - meanGapNanos) >> 3;
        return quiet();
    }

    /**
     * A virtual thread first lets every other virtual thread that is ready to run go before it; returns whether none
     * of them came to write meanwhile and nothing is queued. Why: the arrival gaps cannot see a busy carrier. With
     * one carrier (a gateway on one core), a caller's own transaction pins it, so no other caller can reach the
     * queue while it runs; the next caller then finds the connection free and runs its own too, and at saturation
     * every write became a transaction of its own, never batched (measured: 18-50% fewer requests/s at saturation
     * than with every write on the writer). Having yielded, a caller finds the others that were ready to run
     * either deciding too or already queued, and joins the queue; at light load nothing else is ready and the
     * yield returns at once. Since that yield costs something, while recent ones found no company only one quiet
     * arrival in {@link #PROBE_EVERY} yields. A platform thread does not yield: its scheduler is the OS, which runs
     * others anyway.
     */
    @SuppressWarnings("NonAtomicVolatileUpdate") // an estimate: racing callers may lose one another's update
    private boolean aloneAfterOthersHadTheirTurn() {
        if (!Thread.currentThread().isVirtual()) {
            return true;
        }
        // a yield costs a caller about 8 µs of service time at 1000 pairs/s (measured), for nothing at light load:
        // yield while recent yields found company or another caller is yielding now (else, on one carrier, the
        // others that were ready would each run alone during its yield), and otherwise only every PROBE_EVERY-th
        // time, so that rising load is noticed
        if (yieldPayoff < PAYOFF_TO_KEEP_YIELDING
                && deciding.get() == 0
                && (quietArrivals.incrementAndGet() & (PROBE_EVERY - 1)) != 0) {
            return true;
        }
        boolean alone;
        deciding.incrementAndGet();
        try {
            Thread.yield();
            alone = deciding.get() == 1 && queue.isEmpty();
        } finally {
            deciding.decrementAndGet();
        }
        yieldPayoff += ((alone ? 0 : PAYOFF_SCALE) - yieldPayoff) >> 3;
        return alone;
    }

    /**
     * Whether a write arriving now would run on its caller's thread: nothing queued, no transaction running, and
     * writes on average far enough apart that another is unlikely to arrive while this one runs. The average, not
     * the last gap: one late write (a pause, a slow thread) says little about the next.
     */
    boolean quiet() {
        return queue.isEmpty() && !connection.isLocked() && meanGapNanos >= QUIET_RATIO * meanTookNanos;
    }

    @SuppressWarnings("NonAtomicVolatileUpdate") // only the holder of the connection lock writes it
    private void countOnCaller() {
        worksOnCaller++;
        callerShare += (CALLER_SHARE_SCALE - callerShare) >> 7;
    }

    /** Counts {@code n} writes the writer thread ran in the share of writes run by their callers; under the lock. */
    @SuppressWarnings("NonAtomicVolatileUpdate") // only the holder of the connection lock writes it
    private void countOnWriter(int n) {
        callerShare -= (int) (((long) callerShare * Math.min(n, 128)) >> 7);
    }

    /** What has been committed so far, how much of it ran on callers' threads, and how long writes were held. */
    WriteStats stats() {
        return new WriteStats(batches, works, worksOnCaller, holds, heldNanos);
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
            letOthersQueueFirst();
            connection.lock();
            try {
                // gathered once the connection is ours: callers that queued while a caller's own transaction ran
                // join this batch
                while (batch.size() < MAX_BATCH) {
                    Pending<?> next = queue.peek();
                    if (next == null || next.work == null) {
                        break;
                    }
                    batch.add(queue.remove());
                }
                countOnWriter(batch.size());
                run(batch);
            } finally {
                connection.unlock();
            }
            batch.clear();
        }
    }

    /**
     * The woken writer lets the threads ready to run on its CPU go first (see the class comment), near saturation
     * and while that pays.
     *
     * <p>Near saturation: not while an eighth or more of the recent writes ran on their callers' threads ({@link
     * #callerShare}; 85-99% at 1000 calls/s, 75-77% at half the saturation rate without the yield, 0-7% at
     * saturation; {@link #YIELD_BELOW_CALLER_SHARE}). At light load the writer is reached in bursts, after a stall
     * of the host or a WAL restart's hold, and there its yields find company too: the first calls of a burst then
     * waited for the whole backlog's work before they committed (measured, seventeenth round: +0.84 ms of p99 at
     * 1000/s, standard error 0.33, before this condition; +0.02, standard error 0.47, with it).
     *
     * <p>While it pays: after each yield the writer looks whether writes were queued meanwhile, and keeps yielding
     * while about one yield in eight or more found some; otherwise it yields on one wake-up in {@link
     * #PROBE_EVERY} only, to notice rising load.
     */
    private void letOthersQueueFirst() {
        if (callerShare >= YIELD_BELOW_CALLER_SHARE) {
            return;
        }
        if (writerYieldPayoff < PAYOFF_TO_KEEP_YIELDING && (writerWakeUps++ & (PROBE_EVERY - 1)) != 0) {
            return;
        }
        beforeGathering.run();
        writerYieldPayoff += ((queue.isEmpty() ? 0 : PAYOFF_SCALE) - writerYieldPayoff) >> 3;
    }

    private void run(List<Pending<?>> batch) {
        if (batch.size() > 1) {
            try {
                long start = System.nanoTime();
                transactor.inTransaction(tx -> runIn(tx, batch));
                committed(start, batch.size());
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

    /**
     * Runs a batch's works in {@code tx}: each in turn, except that works naming the same {@link Database.Combiner}
     * run together, through it, after the others (the works of a batch all wait at once, so any order of them is
     * one they could have arrived in).
     */
    private static void runIn(Database.Tx tx, List<Pending<?>> batch) throws SQLException {
        Map<Database.Combiner, List<Pending<?>>> together = new LinkedHashMap<>();
        for (Pending<?> p : batch) {
            if (p.work instanceof Database.Combinable<?> c) {
                together.computeIfAbsent(c.combiner(), k -> new ArrayList<>()).add(p);
            } else {
                p.runIn(tx);
            }
        }
        for (Map.Entry<Database.Combiner, List<Pending<?>>> e : together.entrySet()) {
            List<Pending<?>> group = e.getValue();
            if (group.size() == 1) {
                group.get(0).runIn(tx);
                continue;
            }
            List<Database.Combinable<?>> works = new ArrayList<>(group.size());
            for (Pending<?> p : group) {
                works.add((Database.Combinable<?>) p.work);
            }
            List<@Nullable Object> results = e.getKey().runTogether(tx, works);
            if (results.size() != group.size()) {
                throw new IllegalStateException(
                        "a combiner returned " + results.size() + " results for " + group.size() + " works");
            }
            for (int i = 0; i < group.size(); i++) {
                group.get(i).resultOfRunTogether(results.get(i));
            }
        }
    }

    /** Counts a committed transaction and how long it took; under the connection lock. */
    @SuppressWarnings("NonAtomicVolatileUpdate") // only the holder of the connection lock writes these
    private void committed(long startNanos, int size) {
        meanTookNanos += (System.nanoTime() - startNanos - meanTookNanos) >> 3;
        batches++;
        works += size;
    }

    private void runAlone(Pending<?> p) {
        for (int attempt = 0; ; attempt++) {
            try {
                long start = System.nanoTime();
                transactor.inTransaction(p::runIn);
                committed(start, 1);
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
        boolean interrupted = joinUninterruptibly(writer);
        // a caller's own transaction that began before closed was set ends before close() returns; later ones see
        // closed once they hold the lock and refuse
        connection.lock();
        connection.unlock();
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Waits for {@code thread} to end, however often the waiting thread is interrupted meanwhile (a stopping ledger
     * must not leave its thread running); returns whether it was, so that the caller can restore the flag.
     */
    static boolean joinUninterruptibly(Thread thread) {
        boolean interrupted = false;
        while (true) {
            try {
                thread.join();
                return interrupted;
            } catch (InterruptedException e) {
                interrupted = true;
            }
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

        /** The result a {@link Database.Combiner} gave this work (of the type the work returns alone). */
        @SuppressWarnings("unchecked")
        void resultOfRunTogether(@Nullable Object r) {
            result = (T) r;
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
