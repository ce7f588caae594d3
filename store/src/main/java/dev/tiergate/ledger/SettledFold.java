package dev.tiergate.ledger;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * SQLite's fold: a call is settled in its reservation's own row (one page written on the call's path, schema V5),
 * and this moves the settled rows into the ledger and their cost into their windows' {@code budget_window} rows,
 * many calls per transaction, on a thread of its own every {@link #INTERVAL} while any have settled (sooner once
 * {@link #AFTER} have). Until then a settled row counts everywhere (docs/budgets.md): the status view and the
 * writer's book read it, and readers of the ledger fold first ({@link #now}). A fold changes no total.
 *
 * <p>Opening folds what an earlier process left settled (it died, or stopped before its last fold); closing folds
 * what is left. A failed fold leaves the rows settled in place, counted everywhere, for the next one. Thread-safe.
 */
final class SettledFold implements AutoCloseable {
    /**
     * Settled calls are folded at least this often while any have settled. A fold holds the writer for about 10 µs
     * per call it moves (measured at 1000/s), so a shorter interval means shorter waits for the calls that arrive
     * during one, at the price of more transactions.
     */
    static final Duration INTERVAL = Duration.ofMillis(50);

    /** A fold starts as soon as this many calls have settled since the last one. */
    static final int AFTER = 128;

    // the fold: settled rows' cost into their windows, the rows into the ledger in the order they settled, gone.
    // Rows are grouped by their windows' JSON text first (the same windows give the same text: they are listed in
    // AppliedBudget.ORDER), so the JSON is read once per set of windows, not once per call: measured at 1000/s,
    // 100 calls per fold, the two statements took 0.26 ms instead of 1.65 ms.
    private static final String WINDOW_COUNT = """
            SELECT COUNT(*) FROM (SELECT DISTINCT j.value ->> 0, j.value ->> 1, j.value ->> 2
                                  FROM (SELECT DISTINCT windows FROM reservation WHERE status IS NOT NULL) g,
                                       json_each(g.windows) j)""";
    private static final String SPENT = """
            UPDATE budget_window AS w SET spent_nanos = w.spent_nanos + s.cost
            FROM (SELECT j.value ->> 0 AS budget, j.value ->> 1 AS subject, j.value ->> 2 AS window_start,
                         SUM(g.cost) AS cost
                  FROM (SELECT windows, SUM(cost_nanos) AS cost FROM reservation WHERE status IS NOT NULL
                        GROUP BY windows) g,
                       json_each(g.windows) j
                  GROUP BY 1, 2, 3) AS s
            WHERE w.budget = s.budget AND w.subject = s.subject AND w.window_start = s.window_start""";
    private static final String ROWS = "INSERT INTO ledger (" + JdbcLedger.LEDGER_INSERT_COLUMNS + ")\n" + """
            SELECT request_id, id, started_at, recorded_at, key_name, team, task_type, tier, requested_model,
                   routed_model, served_model, run_id, agent_id, input_tokens, cache_write_5m_tokens,
                   cache_write_1h_tokens, cache_read_tokens, output_tokens, web_search_requests, cost_nanos, latency_ms,
                   ttft_ms, stop_reason, max_tokens, hit_cap, status, error_type
            FROM reservation WHERE status IS NOT NULL ORDER BY recorded_at, request_id""";
    private static final String DELETE = "DELETE FROM reservation WHERE status IS NOT NULL";

    private final Database db;
    // calls settled in place since the last fold: a hint (a batch run twice may count one twice)
    private final AtomicInteger settledSinceFold = new AtomicInteger();
    private final long intervalNanos;
    private final Thread thread;
    private volatile boolean closing;

    /** Folds what is settled in {@code db} now, then every {@code interval} while calls settle. */
    SettledFold(Database db, Duration interval) {
        this.db = db;
        this.intervalNanos = interval.toNanos();
        now();
        this.thread = Thread.ofPlatform().daemon().name("tiergate-sqlite-fold").start(this::loop);
    }

    /**
     * Moves the settled reservation rows into the ledger and their cost into their windows' rows, inside {@code
     * tx} (any write transaction on the file); returns how many calls it moved. Totals do not change, so neither
     * does the writer's book: a window's spent was its row's plus its settled calls', and is now its row's.
     *
     * @throws LedgerException if a window the settled calls list is missing: then nothing is moved
     */
    static int fold(Database.Tx tx) throws SQLException {
        long windows;
        try (ResultSet rs = tx.prepare(WINDOW_COUNT).executeQuery()) {
            rs.next();
            windows = rs.getLong(1);
        }
        if (windows > 0) {
            int charged = tx.prepare(SPENT).executeUpdate();
            if (charged != windows) {
                throw new LedgerException("settled calls list " + windows + " budget windows but only " + charged
                        + " exist; nothing was folded");
            }
        }
        int rows = tx.prepare(ROWS).executeUpdate();
        tx.prepare(DELETE).executeUpdate();
        return rows;
    }

    /** Folds now, in a write transaction of its own; returns how many calls it moved. */
    int now() {
        settledSinceFold.set(0);
        return db.write(SettledFold::fold);
    }

    /** A call was settled in place: counts it, and starts a fold early once {@link #AFTER} have been. */
    void settled() {
        if (settledSinceFold.incrementAndGet() == AFTER) {
            LockSupport.unpark(thread);
        }
    }

    private void loop() {
        while (!closing) {
            LockSupport.parkNanos(intervalNanos);
            if (closing) {
                return;
            }
            if (settledSinceFold.get() > 0) {
                try {
                    now();
                } catch (RuntimeException e) {
                    System.getLogger(SettledFold.class.getName())
                            .log(
                                    System.Logger.Level.WARNING,
                                    "folding settled calls into the ledger failed; will retry",
                                    e);
                }
            }
        }
    }

    /** Stops the thread, then folds what is left (if that fails, the next process to open the file folds it). */
    @Override
    public void close() {
        closing = true;
        LockSupport.unpark(thread);
        boolean interrupted = GroupCommit.joinUninterruptibly(thread);
        try {
            now();
        } catch (LedgerException e) {
            System.getLogger(SettledFold.class.getName())
                    .log(System.Logger.Level.WARNING, "cannot fold settled calls before closing", e);
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
