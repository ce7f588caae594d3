package dev.tiergate.ledger;

import dev.tiergate.budget.Admission;
import dev.tiergate.budget.AppliedBudget;
import dev.tiergate.budget.ReservationId;
import dev.tiergate.pricing.Money;
import dev.tiergate.pricing.Usage;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.jspecify.annotations.Nullable;

/**
 * PostgreSQL: the reservations and settlements of one group-commit batch as five statements over arrays, however
 * many calls the batch holds (plus one per denial or event, which are rare), instead of one to three statements per
 * call.
 *
 * <p>Why: instances sharing a budget take turns on its window rows, whose locks a batch holds from its first
 * statement to its commit, so the time a batch holds them bounds the pairs per second of all instances together.
 * Measured (docs/benchmarks.md), that time was PostgreSQL's own work per statement (about 300 µs each, a flat
 * profile of executor set-up, index and heap work) and every call updated each of its windows three times. Here a
 * batch updates each window it touches once to charge settlements, once to create or re-limit windows and once to
 * reserve, and writes its reservation and ledger rows with one insert each.
 *
 * <p>The batch's settlements run first (they free reserved money), then its reservations, admitted in the batch's
 * order against the windows as the settlements left them, exactly as {@link JdbcLedger}'s per-call path decides;
 * every caller of a batch is waiting at once, so that is an order they could have arrived in. Before charging, the
 * batch locks every window it will touch in {@link WindowKey#ORDER} (the order reservations lock them in), so that
 * two instances' batches do not deadlock on the rows they share. Anything unusual (two reservations of a batch
 * defining one window differently, a reservation settled twice, a missing window) either runs the calls concerned
 * one by one inside the batch or fails the batch, which {@link GroupCommit} then runs call by call.
 */
final class PostgresBatch implements Database.Combiner {
    /** What a combined write asks for. */
    sealed interface Request permits Reserve, Settle {}

    /** Admit a call against its windows, holding {@code worstCase} under reservation {@code id}. */
    record Reserve(String id, Call call, List<AppliedBudget> ordered, Money worstCase, Instant leaseExpiry)
            implements Request {}

    /** Settle (or release) a reservation at the outcome's exact cost. */
    record Settle(ReservationId reservation, Outcome outcome) implements Request {}

    /** A write that runs alone as {@code alone}, and in a batch together with the others of {@code batch}. */
    record Write<T>(Request request, Database.Work<T> alone, PostgresBatch batch) implements Database.Combinable<T> {
        @Override
        public T run(Database.Tx tx) throws SQLException {
            return alone.run(tx);
        }

        @Override
        public Database.Combiner combiner() {
            return batch;
        }
    }

    // A batch's settlements: take the open reservations and their windows (a reservation settled or recovered
    // already is simply not returned). Columns 1-12 are JdbcLedger.RESERVATION_COLUMNS, as readTaken reads them.
    private static final String TAKE = """
            WITH r AS (DELETE FROM reservation WHERE id = ANY(?) RETURNING %s, id),
                 w AS (DELETE FROM reservation_budget WHERE reservation_id = ANY(?)
                       RETURNING reservation_id, budget, subject, window_start)
            SELECT r.*, w.budget, w.subject, w.window_start FROM r LEFT JOIN w ON w.reservation_id = r.id""".formatted(JdbcLedger.RESERVATION_COLUMNS);
    // Locks are taken after sorting (LockRows runs above the Sort), so in WindowKey.ORDER for names in ASCII.
    private static final String LOCK = """
            SELECT 1 FROM budget_window
            WHERE (budget, subject, window_start) IN (SELECT * FROM unnest(?::text[], ?::text[], ?::bigint[]))
            ORDER BY budget COLLATE "C", subject COLLATE "C", window_start FOR UPDATE""";
    private static final String WINDOW_DELTAS = "unnest(?::text[], ?::text[], ?::bigint[], ?::bigint[], ?::bigint[])";
    // charge every window once with the batch's sums, and write the batch's ledger rows
    private static final String CHARGE_AND_RECORD =
            """
            WITH c AS (UPDATE budget_window b SET reserved_nanos = b.reserved_nanos - d.released,
                                                  spent_nanos = b.spent_nanos + d.charged
                       FROM %1$s AS d(budget, subject, window_start, released, charged)
                       WHERE b.budget = d.budget AND b.subject = d.subject AND b.window_start = d.window_start
                       RETURNING b.budget, b.subject, b.window_start, b.limit_nanos, b.spent_nanos, b.hard),
                 l AS (INSERT INTO ledger (%2$s) SELECT * FROM unnest(%3$s))
            SELECT * FROM c""".formatted(WINDOW_DELTAS, JdbcLedger.LEDGER_INSERT_COLUMNS, LedgerRows.PARAMETERS);
    private static final String UPSERT = JdbcLedger.upsertWindows(
                    true,
                    "SELECT d.*, 0, 0 FROM unnest(?::text[], ?::text[], ?::bigint[], ?::bigint[], ?::text[],"
                            + " ?::bigint[], ?::int[], ?::int[]) AS d")
            + "\nRETURNING budget, subject, window_start, limit_nanos, spent_nanos, reserved_nanos";
    private static final String ADMIT = """
            WITH a AS (UPDATE budget_window b SET reserved_nanos = b.reserved_nanos + d.added
                       FROM unnest(?::text[], ?::text[], ?::bigint[], ?::bigint[]) AS d(budget, subject, window_start,
                                                                                      added)
                       WHERE b.budget = d.budget AND b.subject = d.subject AND b.window_start = d.window_start),
                 w AS (INSERT INTO reservation_budget (reservation_id, budget, subject, window_start)
                       SELECT * FROM unnest(?::text[], ?::text[], ?::text[], ?::bigint[]))
            INSERT INTO reservation (id, request_id, owner, amount_nanos, created_at, lease_expires_at, started_at,
                                     key_name, team, task_type, tier, requested_model, routed_model, run_id, agent_id,
                                     max_tokens)
            SELECT * FROM unnest(?::text[], ?::text[], ?::text[], ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[],
                                 ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[],
                                 ?::bigint[])""";

    private final JdbcLedger ledger;
    private final Clock clock;
    private final String instanceId;
    private volatile long combined; // written by the writer thread only

    PostgresBatch(JdbcLedger ledger, Clock clock, String instanceId) {
        this.ledger = ledger;
        this.clock = clock;
        this.instanceId = instanceId;
    }

    /** How many calls have been written by a combined batch (not one by one). */
    long combined() {
        return combined;
    }

    @Override
    @SuppressWarnings("NonAtomicVolatileUpdate") // only the writer thread runs batches
    public List<@Nullable Object> runTogether(Database.Tx tx, List<Database.Combinable<?>> works) throws SQLException {
        @Nullable Object[] results = new Object[works.size()];
        List<Integer> settles = new ArrayList<>();
        List<Integer> reserves = new ArrayList<>();
        for (int i = 0; i < works.size(); i++) {
            Request r = ((Write<?>) works.get(i)).request();
            switch (r) {
                case Settle s -> settles.add(i);
                case Reserve v -> reserves.add(i);
            }
        }
        if (!settles.isEmpty()) {
            settle(tx, works, settles, reserves, results);
        }
        if (!reserves.isEmpty()) {
            reserve(tx, works, reserves, results);
        }
        combined += works.size();
        return Arrays.asList(results);
    }

    // ---- settlements ----

    /** A settlement of the batch whose reservation was still open: its place in the batch, and what it held. */
    private record Settling(int index, Settle settle, JdbcLedger.Taken taken) {}

    private void settle(
            Database.Tx tx,
            List<Database.Combinable<?>> works,
            List<Integer> settles,
            List<Integer> reserves,
            @Nullable Object[] results)
            throws SQLException {
        List<String> ids = new ArrayList<>();
        for (int i : settles) {
            ids.add(settleOf(works, i).reservation().value());
        }
        if (new HashSet<>(ids).size() != ids.size()) {
            // settling one reservation twice at once: let each call run alone, where the second learns it was settled
            throw new LedgerException("a reservation was settled twice in one batch");
        }
        Map<String, JdbcLedger.Taken> open = take(tx, ids);
        lock(tx, open.values(), works, reserves);

        // the settlements whose reservation was open, in the batch's order; the others were recovered meanwhile
        List<Settling> settling = new ArrayList<>();
        List<Integer> recovered = new ArrayList<>();
        for (int i : settles) {
            Settle s = settleOf(works, i);
            JdbcLedger.Taken t = open.get(s.reservation().value());
            if (t == null) {
                recovered.add(i);
            } else {
                settling.add(new Settling(i, s, t));
            }
        }

        // what each window gives back and is charged; the ledger rows
        TreeMap<WindowKey, long[]> deltas = new TreeMap<>(WindowKey.ORDER);
        LedgerRows rows = new LedgerRows();
        long now = clock.millis();
        for (Settling s : settling) {
            for (WindowKey w : s.taken().windows()) {
                long[] d = deltas.computeIfAbsent(w, k -> new long[2]);
                d[0] += s.taken().amount().nanos();
                d[1] += s.settle().outcome().cost().nanos();
            }
            rows.add(
                    s.taken().call(),
                    s.settle().reservation().value(),
                    now,
                    s.settle().outcome());
        }
        Map<WindowKey, JdbcLedger.ChargedWindow> charged = chargeAndRecord(tx, deltas, rows);

        // the events each call raises, in WindowKey.ORDER then cost above reservation, as the per-call path raises
        // them: a soft limit is crossed by the call whose cost, added in the batch's order, reaches it
        Map<Integer, List<LedgerEvent>> events = new HashMap<>();
        for (Map.Entry<WindowKey, long[]> e : deltas.entrySet()) {
            JdbcLedger.ChargedWindow c = charged.get(e.getKey());
            if (c == null) {
                throw new LedgerException("budget window " + e.getKey() + " of a settled reservation is missing");
            }
            long spent = c.spentAfter() - e.getValue()[1];
            for (Settling s : settling) {
                if (!s.taken().windows().contains(e.getKey())) {
                    continue;
                }
                Money cost = s.settle().outcome().cost();
                spent += cost.nanos();
                ledger.softLimitEvent(tx, e.getKey(), s.taken(), cost, c.limit(), spent, c.hard())
                        .ifPresent(ev -> events.computeIfAbsent(s.index(), k -> new ArrayList<>())
                                .add(ev));
            }
        }
        for (Settling s : settling) {
            List<LedgerEvent> own = events.computeIfAbsent(s.index(), k -> new ArrayList<>());
            ledger.costAboveReservationEvent(tx, s.taken(), s.settle().outcome().cost())
                    .ifPresent(own::add);
            results[s.index()] = new Settlement.Settled(own);
        }
        for (int i : recovered) {
            Settle s = settleOf(works, i);
            results[i] = ledger.alreadyRecovered(tx, s.reservation(), s.outcome());
        }
    }

    private static Settle settleOf(List<Database.Combinable<?>> works, int i) {
        return (Settle) ((Write<?>) works.get(i)).request();
    }

    private static Reserve reserveOf(List<Database.Combinable<?>> works, int i) {
        return (Reserve) ((Write<?>) works.get(i)).request();
    }

    /** Takes the reservations of {@code ids} that are still open, with their windows (in {@link WindowKey#ORDER}). */
    private static Map<String, JdbcLedger.Taken> take(Database.Tx tx, List<String> ids) throws SQLException {
        PreparedStatement ps = tx.prepare(TAKE);
        Array idArray = tx.connection().createArrayOf("text", ids.toArray());
        ps.setArray(1, idArray);
        ps.setArray(2, idArray);
        Map<String, JdbcLedger.Taken> taken = new HashMap<>();
        Map<String, List<WindowKey>> windows = new HashMap<>();
        try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                String id = rs.getString(13);
                if (!taken.containsKey(id)) {
                    taken.put(id, JdbcLedger.readTaken(rs));
                }
                List<WindowKey> w = windows.computeIfAbsent(id, k -> new ArrayList<>());
                String budget = rs.getString(14);
                if (budget != null) {
                    w.add(new WindowKey(budget, rs.getString(15), rs.getLong(16)));
                }
            }
        }
        Map<String, JdbcLedger.Taken> open = new HashMap<>();
        for (Map.Entry<String, JdbcLedger.Taken> e : taken.entrySet()) {
            List<WindowKey> w = Objects.requireNonNull(windows.get(e.getKey()));
            w.sort(WindowKey.ORDER);
            open.put(
                    e.getKey(),
                    new JdbcLedger.Taken(e.getValue().call(), e.getValue().amount(), List.copyOf(w)));
        }
        return open;
    }

    /** Locks every existing window the batch's settlements and reservations touch, in {@link WindowKey#ORDER}. */
    private static void lock(
            Database.Tx tx,
            Collection<JdbcLedger.Taken> open,
            List<Database.Combinable<?>> works,
            List<Integer> reserves)
            throws SQLException {
        Set<WindowKey> keys = new TreeSet<>(WindowKey.ORDER);
        open.forEach(t -> keys.addAll(t.windows()));
        for (int i : reserves) {
            reserveOf(works, i).ordered().forEach(b -> keys.add(WindowKey.of(b)));
        }
        if (keys.isEmpty()) {
            return;
        }
        PreparedStatement ps = tx.prepare(LOCK);
        bindKeys(ps, 1, tx.connection(), keys);
        try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                // each row returned is locked; nothing to read
            }
        }
    }

    /** Binds three arrays (budgets, subjects, window starts) of {@code keys} from {@code from}; the next index. */
    private static int bindKeys(PreparedStatement ps, int from, Connection c, Iterable<WindowKey> keys)
            throws SQLException {
        List<Object> budgets = new ArrayList<>();
        List<Object> subjects = new ArrayList<>();
        List<Object> starts = new ArrayList<>();
        for (WindowKey k : keys) {
            budgets.add(k.budget());
            subjects.add(k.subject());
            starts.add(k.windowStart());
        }
        ps.setArray(from, c.createArrayOf("text", budgets.toArray()));
        ps.setArray(from + 1, c.createArrayOf("text", subjects.toArray()));
        ps.setArray(from + 2, c.createArrayOf("int8", starts.toArray()));
        return from + 3;
    }

    /** Applies the windows' deltas and inserts the ledger rows; returns each charged window's state afterwards. */
    private static Map<WindowKey, JdbcLedger.ChargedWindow> chargeAndRecord(
            Database.Tx tx, TreeMap<WindowKey, long[]> deltas, LedgerRows rows) throws SQLException {
        PreparedStatement ps = tx.prepare(CHARGE_AND_RECORD);
        Connection c = tx.connection();
        int next = bindKeys(ps, 1, c, deltas.keySet());
        List<Object> released = new ArrayList<>();
        List<Object> charges = new ArrayList<>();
        for (long[] d : deltas.values()) {
            released.add(d[0]);
            charges.add(d[1]);
        }
        ps.setArray(next++, c.createArrayOf("int8", released.toArray()));
        ps.setArray(next++, c.createArrayOf("int8", charges.toArray()));
        rows.bind(ps, next, c);
        Map<WindowKey, JdbcLedger.ChargedWindow> charged = new HashMap<>();
        try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                WindowKey key = new WindowKey(rs.getString(1), rs.getString(2), rs.getLong(3));
                charged.put(key, new JdbcLedger.ChargedWindow(key, rs.getLong(4), rs.getLong(5), rs.getInt(6) == 1));
            }
        }
        return charged;
    }

    // ---- reservations ----

    private void reserve(
            Database.Tx tx, List<Database.Combinable<?>> works, List<Integer> reserves, @Nullable Object[] results)
            throws SQLException {
        TreeMap<WindowKey, AppliedBudget> windows = new TreeMap<>(WindowKey.ORDER);
        for (int i : reserves) {
            for (AppliedBudget b : reserveOf(works, i).ordered()) {
                AppliedBudget before = windows.putIfAbsent(WindowKey.of(b), b);
                if (before != null && !before.equals(b)) {
                    // two calls define one window differently (a config reload, a run's cap requested twice): the
                    // per-call path applies each definition in turn, so run these one after another
                    for (int j : reserves) {
                        results[j] = ((Write<?>) works.get(j)).alone().run(tx);
                    }
                    return;
                }
            }
        }
        Map<WindowKey, long[]> state = windows.isEmpty() ? Map.of() : upsert(tx, windows);

        Map<WindowKey, Long> added = new TreeMap<>(WindowKey.ORDER);
        Admitted admitted = new Admitted();
        for (int i : reserves) {
            Reserve r = reserveOf(works, i);
            Admission.Denied denied = deny(r, state);
            if (denied != null) {
                ledger.insertDeniedRow(tx, r.call());
                results[i] = denied;
                continue;
            }
            for (AppliedBudget b : r.ordered()) {
                WindowKey k = WindowKey.of(b);
                stateOf(state, k)[2] += r.worstCase().nanos();
                added.merge(k, r.worstCase().nanos(), Long::sum);
                admitted.window(r.id(), k);
            }
            admitted.reservation(r, instanceId, clock.millis());
            results[i] = new Admission.Admitted(new ReservationId(r.id()));
        }
        if (!admitted.isEmpty()) {
            admitted.insert(tx, added);
        }
    }

    /** Creates or re-limits the windows and locks them, in {@link WindowKey#ORDER}; each one's limit, spent, reserved. */
    private static Map<WindowKey, long[]> upsert(Database.Tx tx, TreeMap<WindowKey, AppliedBudget> windows)
            throws SQLException {
        Columns columns = new Columns("text", "text", "int8", "int8", "text", "int8", "int4", "int4");
        for (AppliedBudget b : windows.values()) {
            columns.add(
                    b.budget(),
                    b.subject(),
                    b.windowStart().toEpochMilli(),
                    b.windowEnd().toEpochMilli(),
                    b.window().configName(),
                    b.limit().nanos(),
                    b.hard() ? 1 : 0,
                    b.requestedCap() ? 1 : 0);
        }
        PreparedStatement ps = tx.prepare(UPSERT);
        columns.bind(ps, 1, tx.connection());
        Map<WindowKey, long[]> state = new HashMap<>();
        try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                state.put(
                        new WindowKey(rs.getString(1), rs.getString(2), rs.getLong(3)),
                        new long[] {rs.getLong(4), rs.getLong(5), rs.getLong(6)});
            }
        }
        for (WindowKey k : windows.keySet()) {
            if (!state.containsKey(k)) {
                throw new LedgerException("the upsert of budget window " + k + " returned no row");
            }
        }
        return state;
    }

    /** The first hard window (in {@link AppliedBudget#ORDER}) that cannot take the call's worst case, if any. */
    private static Admission.@Nullable Denied deny(Reserve r, Map<WindowKey, long[]> state) {
        for (AppliedBudget b : r.ordered()) {
            long[] w = stateOf(state, WindowKey.of(b));
            Money limit = Money.ofNanos(w[0]);
            Money spent = Money.ofNanos(w[1]);
            Money reserved = Money.ofNanos(w[2]);
            if (b.hard() && spent.plus(reserved).plus(r.worstCase()).isGreaterThan(limit)) {
                return new Admission.Denied(b, limit, spent, reserved, r.worstCase());
            }
        }
        return null;
    }

    /** A window's limit, spent and reserved, as {@link #upsert} returned them and admissions since changed them. */
    private static long[] stateOf(Map<WindowKey, long[]> state, WindowKey k) {
        long[] w = state.get(k);
        if (w == null) {
            throw new IllegalStateException("budget window " + k + " was not upserted with its batch");
        }
        return w;
    }

    /** The rows of a batch's admitted reservations, column by column, for {@link #ADMIT}. */
    private static final class Admitted {
        private final Columns windows = new Columns("text", "text", "text", "int8");
        private final Columns reservations = new Columns(
                "text", "text", "text", "int8", "int8", "int8", "int8", "text", "text", "text", "text", "text", "text",
                "text", "text", "int8");

        void window(String id, WindowKey k) {
            windows.add(id, k.budget(), k.subject(), k.windowStart());
        }

        void reservation(Reserve r, String owner, long now) {
            Call call = r.call();
            reservations.add(
                    r.id(),
                    call.requestId(),
                    owner,
                    r.worstCase().nanos(),
                    now,
                    r.leaseExpiry().toEpochMilli(),
                    call.startedAt().toEpochMilli(),
                    call.keyName(),
                    call.team(),
                    call.taskType(),
                    call.tier(),
                    call.requestedModel(),
                    call.routedModel(),
                    call.runId(),
                    call.agentId(),
                    call.maxTokens());
        }

        boolean isEmpty() {
            return reservations.isEmpty();
        }

        void insert(Database.Tx tx, Map<WindowKey, Long> added) throws SQLException {
            PreparedStatement ps = tx.prepare(ADMIT);
            Connection c = tx.connection();
            int next = bindKeys(ps, 1, c, added.keySet());
            ps.setArray(next++, c.createArrayOf("int8", added.values().toArray()));
            next = windows.bind(ps, next, c);
            reservations.bind(ps, next, c);
            ps.executeUpdate();
        }
    }

    /** Ledger rows of settled calls, column by column, in {@link JdbcLedger#LEDGER_INSERT_COLUMNS}' order. */
    static final class LedgerRows {
        private static final String[] TYPES = {
            "text", "text", "int8", "int8", "text", "text", "text", "text", "text", "text", "text", "text", "text",
            "int8", "int8", "int8", "int8", "int8", "int8", "int8", "int8", "int8", "text", "int8", "int4", "text",
            "text"
        };
        /** The array parameters of an {@code unnest} over the rows, one per column. */
        static final String PARAMETERS = String.join(
                ", ",
                Arrays.stream(TYPES)
                        .map(t -> "?::" + (t.equals("int8") ? "bigint" : t.equals("int4") ? "int" : t) + "[]")
                        .toList());

        private final Columns columns = new Columns(TYPES);

        void add(Call call, String reservationId, long recordedAt, Outcome outcome) {
            Usage u = outcome.usage();
            columns.add(
                    call.requestId(),
                    reservationId,
                    call.startedAt().toEpochMilli(),
                    recordedAt,
                    call.keyName(),
                    call.team(),
                    call.taskType(),
                    call.tier(),
                    call.requestedModel(),
                    call.routedModel(),
                    outcome.servedModel(),
                    call.runId(),
                    call.agentId(),
                    u.inputTokens(),
                    u.cacheWrite5mTokens(),
                    u.cacheWrite1hTokens(),
                    u.cacheReadTokens(),
                    u.outputTokens(),
                    u.webSearchRequests(),
                    outcome.cost().nanos(),
                    outcome.latencyMs() < 0 ? null : outcome.latencyMs(),
                    outcome.timeToFirstTokenMs() < 0 ? null : outcome.timeToFirstTokenMs(),
                    outcome.stopReason(),
                    call.maxTokens(),
                    outcome.hitCap() ? 1 : 0,
                    outcome.status().wireName(),
                    outcome.errorType());
        }

        int bind(PreparedStatement ps, int from, Connection c) throws SQLException {
            return columns.bind(ps, from, c);
        }
    }

    /** Rows added one by one and bound as one array per column (SQL NULL where a value is null). */
    private static final class Columns {
        private final String[] types;
        private final List<List<@Nullable Object>> values = new ArrayList<>();

        Columns(String... types) {
            this.types = types;
            for (int i = 0; i < types.length; i++) {
                values.add(new ArrayList<>());
            }
        }

        void add(@Nullable Object... row) {
            if (row.length != types.length) {
                throw new IllegalArgumentException("a row of " + row.length + " values for " + types.length);
            }
            for (int i = 0; i < row.length; i++) {
                values.get(i).add(row[i]);
            }
        }

        boolean isEmpty() {
            return values.get(0).isEmpty();
        }

        int bind(PreparedStatement ps, int from, Connection c) throws SQLException {
            for (int i = 0; i < types.length; i++) {
                ps.setArray(from + i, c.createArrayOf(types[i], values.get(i).toArray()));
            }
            return from + types.length;
        }
    }
}
