package dev.tiergate.ledger;

import dev.tiergate.budget.Admission;
import dev.tiergate.budget.AppliedBudget;
import dev.tiergate.budget.BudgetStatus;
import dev.tiergate.pricing.Money;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * SQLite's budget windows as its writer last saw them: limit, spent, and the sum of the open reservations on each,
 * so that admitting a call is a check in memory and one row written (the reservation), and settling it one row
 * updated (the same reservation, now settled), instead of every window updated and a row per window inserted, and
 * updated and deleted again when the call settles. Settled rows are folded into {@code budget_window} and the
 * ledger later, many at a time ({@link SettledFold}); a fold changes no total, so the book does not notice it.
 *
 * <p>The database stays the truth. The book is touched only inside write transactions on the one writer
 * connection (so never by two threads at once), and every change to it is made in the same transaction as the
 * database change it mirrors. It is dropped whenever it could disagree with the file: when a transaction rolls
 * back ({@link #forget}), and when a transaction begins after another connection, in this process or another, has
 * committed to the file ({@link #beginTransaction}, from SQLite's {@code PRAGMA data_version}). A dropped window
 * is read back from the file on its next use, with the reservations open on it, and the settled ones not folded
 * yet, summed from the {@code reservation} table. So several gateways (or ledgers) on one SQLite file stay exact,
 * as before; they only lose the book's saving while they take turns. (The checkpoints {@link SqliteDatabase} runs,
 * PASSIVE and RESTART, change no data and leave the book alone: {@code SqliteLedgerTest}.)
 */
final class BudgetBook {
    /**
     * Windows kept before those with nothing reserved are dropped (at the next transaction's start); one window per
     * workflow run under a per-run budget, so the book would otherwise grow with every run.
     */
    static final int MAX_WINDOWS = 10_000;

    private static final String READ_WINDOW = "SELECT limit_nanos, hard, limit_fixed, spent_nanos FROM budget_window"
            + " WHERE budget = ? AND subject = ? AND window_start = ?";
    // the reservation rows are at most the calls in flight and those settled since the last fold; read only for a
    // window that is in the file but was dropped from the book (a new window has no reservation yet). Open rows
    // (status NULL) are reserved; settled ones are spent that the fold has not yet added to the window's row.
    private static final String HELD_ON_WINDOW = """
            SELECT COALESCE(SUM(CASE WHEN r.status IS NULL THEN r.amount_nanos ELSE 0 END), 0),
                   COALESCE(SUM(CASE WHEN r.status IS NULL THEN 0 ELSE r.cost_nanos END), 0)
            FROM reservation r, json_each(r.windows) j
            WHERE j.value ->> 0 = ? AND j.value ->> 1 = ? AND j.value ->> 2 = ?""";

    /**
     * One window: its row in the file, with spent including the settled calls not folded into that row yet, and
     * the sum of the open reservations on it.
     */
    private static final class Window {
        boolean stored;
        long limit;
        boolean hard;
        boolean fixed;
        long spent;
        long reserved;
    }

    private final Map<WindowKey, Window> windows = new HashMap<>();
    private final int maxWindows;
    // twice what the last sweep kept, so that more windows with open reservations than maxWindows (as many calls
    // in flight, each in a run of its own) do not make every transaction sweep them all
    private int sweepAbove;
    private long loads;

    /** @param maxWindows windows kept before a sweep ({@link #MAX_WINDOWS}; smaller in tests) */
    BudgetBook(int maxWindows) {
        this.maxWindows = maxWindows;
        this.sweepAbove = maxWindows;
    }

    /** Called as each write transaction begins; {@code othersCommitted}: the file changed under the book. */
    void beginTransaction(boolean othersCommitted) {
        if (othersCommitted) {
            windows.clear();
        } else if (windows.size() > sweepAbove) {
            windows.values().removeIf(w -> w.reserved == 0);
            sweepAbove = Math.max(maxWindows, 2 * windows.size());
        }
    }

    /** Drops everything: the transaction that changed the book rolled back. */
    void forget() {
        windows.clear();
    }

    /** Windows read from the file so far (a test figure: how often the book had to look). */
    long loads() {
        return loads;
    }

    /** Windows in the book now. */
    int size() {
        return windows.size();
    }

    /**
     * Admits {@code worstCase} against {@code ordered} (in {@link AppliedBudget#ORDER}), inside a write transaction.
     * Windows new to the file, or whose limit changed (a new config limit, or a lower requested run cap: {@link
     * #limitAfter}), are written first, as the upsert of the PostgreSQL path does. Then the first hard window that
     * cannot take the worst case on top of its spent and reserved denies; otherwise the worst case is added to every
     * window's reserved, and the caller must insert the reservation in the same transaction.
     */
    Admission.@Nullable Denied admit(Database.Tx tx, List<AppliedBudget> ordered, Money worstCase) throws SQLException {
        List<AppliedBudget> changed = new ArrayList<>();
        List<Window> found = new ArrayList<>(ordered.size());
        for (AppliedBudget b : ordered) {
            Window w = window(tx, WindowKey.of(b));
            if (!w.stored) {
                w.stored = true;
                w.limit = b.limit().nanos();
                w.hard = b.hard();
                w.fixed = b.requestedCap();
                changed.add(b);
            } else {
                long limit = limitAfter(w.limit, w.fixed, b);
                boolean fixed = w.fixed || b.requestedCap();
                if (limit != w.limit || w.hard != b.hard() || fixed != w.fixed) {
                    w.limit = limit;
                    w.hard = b.hard();
                    w.fixed = fixed;
                    changed.add(b);
                }
            }
            found.add(w);
        }
        if (!changed.isEmpty()) {
            PreparedStatement ps = tx.prepare(
                    JdbcLedger.SQL.of(JdbcLedger.SQLITE_UPSERT_WINDOWS, changed.size(), "(?, ?, ?, ?, ?, ?, ?, ?, 0)"));
            bindDefinitions(ps, changed);
            ps.executeUpdate();
        }
        for (int i = 0; i < ordered.size(); i++) {
            Window w = found.get(i);
            // exact arithmetic, as Money's: an overflow fails the call instead of wrapping past the check
            if (w.hard && Math.addExact(Math.addExact(w.spent, w.reserved), worstCase.nanos()) > w.limit) {
                return new Admission.Denied(
                        ordered.get(i),
                        Money.ofNanos(w.limit),
                        Money.ofNanos(w.spent),
                        Money.ofNanos(w.reserved),
                        worstCase);
            }
        }
        for (Window w : found) {
            w.reserved = Math.addExact(w.reserved, worstCase.nanos());
        }
        return null;
    }

    /** A window that refused more: its key, limit, spent and reserved as they stood. */
    record Refusal(WindowKey key, long limit, long spent, long reserved) {}

    /**
     * Adds {@code extra} to what an open reservation holds on {@code keys} (its windows, all in the file), inside a
     * write transaction, or nothing: the first hard window that cannot take it on top of its spent and reserved
     * refuses. The caller must add {@code extra} to the reservation's row in the same transaction.
     */
    @Nullable
    Refusal enlarge(Database.Tx tx, List<WindowKey> keys, long extra) throws SQLException {
        List<Window> found = new ArrayList<>(keys.size());
        for (WindowKey key : keys) {
            Window w = window(tx, key);
            if (!w.stored) {
                throw new LedgerException("budget window " + key + " of an open reservation is missing");
            }
            if (w.hard && Math.addExact(Math.addExact(w.spent, w.reserved), extra) > w.limit) {
                return new Refusal(key, w.limit, w.spent, w.reserved);
            }
            found.add(w);
        }
        for (Window w : found) {
            w.reserved = Math.addExact(w.reserved, extra);
        }
        return null;
    }

    /**
     * The limit of a stored window once {@code b} is applied to it, as the upsert in {@link JdbcLedger} computes it:
     * a requested run cap replaces a config limit, or a higher requested cap; a config limit replaces a config
     * limit; otherwise the stored limit stays.
     */
    static long limitAfter(long storedLimit, boolean storedFixed, AppliedBudget b) {
        if (b.requestedCap()) {
            return storedFixed
                    ? Math.min(storedLimit, b.limit().nanos())
                    : b.limit().nanos();
        }
        return storedFixed ? storedLimit : b.limit().nanos();
    }

    /**
     * The status of each of {@code budgets}, inside a write transaction: from memory, reading from the file only
     * the windows the book does not hold. A window not in the file yet has its configured limit and nothing spent
     * or reserved.
     */
    List<BudgetStatus> status(Database.Tx tx, List<AppliedBudget> budgets) throws SQLException {
        List<BudgetStatus> out = new ArrayList<>(budgets.size());
        for (AppliedBudget b : budgets) {
            Window w = window(tx, WindowKey.of(b));
            out.add(
                    w.stored
                            ? new BudgetStatus(
                                    b, Money.ofNanos(w.limit), Money.ofNanos(w.spent), Money.ofNanos(w.reserved))
                            : new BudgetStatus(b, b.limit(), Money.ZERO, Money.ZERO));
        }
        return out;
    }

    /** A window after a settlement: its limit, its spent (settled calls not yet folded included), hard or soft. */
    record Charged(WindowKey key, long limit, long spentAfter, boolean hard) {}

    /**
     * A reservation of {@code amount} on window {@code key} was settled at {@code cost} in this transaction (its
     * row in the file now says so); moves it from reserved to spent and returns the window as it now stands.
     *
     * @throws LedgerException if the window is not in the file: the reservation's spend would have nowhere to go
     */
    Charged settled(Database.Tx tx, WindowKey key, long amount, long cost) throws SQLException {
        Window w = windows.get(key);
        if (w != null && w.reserved < amount) {
            // cannot happen while the book mirrors the file; if it ever does, the file decides
            windows.remove(key);
            w = null;
        }
        if (w == null) {
            // read from the file, where this settlement already is
            w = window(tx, key);
        } else {
            w.reserved -= amount;
            w.spent = Math.addExact(w.spent, cost);
        }
        if (!w.stored) {
            throw new LedgerException("budget window " + key + " of a settled reservation is missing");
        }
        return new Charged(key, w.limit, w.spent, w.hard);
    }

    private Window window(Database.Tx tx, WindowKey key) throws SQLException {
        Window w = windows.get(key);
        if (w != null) {
            return w;
        }
        loads++;
        w = new Window();
        PreparedStatement ps = tx.prepare(READ_WINDOW);
        bindKey(ps, key);
        try (ResultSet rs = ps.executeQuery()) {
            if (rs.next()) {
                w.stored = true;
                w.limit = rs.getLong(1);
                w.hard = rs.getInt(2) == 1;
                w.fixed = rs.getInt(3) == 1;
                w.spent = rs.getLong(4);
            }
        }
        if (w.stored) {
            PreparedStatement r = tx.prepare(HELD_ON_WINDOW);
            bindKey(r, key);
            try (ResultSet rs = r.executeQuery()) {
                rs.next();
                w.reserved = rs.getLong(1);
                w.spent = Math.addExact(w.spent, rs.getLong(2));
            }
        }
        windows.put(key, w);
        return w;
    }

    /** Binds the eight columns that define each of {@code windows}, from parameter 1, as the upserts list them. */
    static void bindDefinitions(PreparedStatement ps, List<AppliedBudget> windows) throws SQLException {
        int i = 1;
        for (AppliedBudget b : windows) {
            ps.setString(i++, b.budget());
            ps.setString(i++, b.subject());
            ps.setLong(i++, b.windowStart().toEpochMilli());
            ps.setLong(i++, b.windowEnd().toEpochMilli());
            ps.setString(i++, b.window().configName());
            ps.setLong(i++, b.limit().nanos());
            ps.setInt(i++, b.hard() ? 1 : 0);
            ps.setInt(i++, b.requestedCap() ? 1 : 0);
        }
    }

    private static void bindKey(PreparedStatement ps, WindowKey key) throws SQLException {
        ps.setString(1, key.budget());
        ps.setString(2, key.subject());
        ps.setLong(3, key.windowStart());
    }
}
