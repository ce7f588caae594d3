package dev.tiergate.ledger;

import dev.tiergate.budget.Admission;
import dev.tiergate.budget.AppliedBudget;
import dev.tiergate.budget.BudgetRules;
import dev.tiergate.budget.BudgetStatus;
import dev.tiergate.budget.ReservationId;
import dev.tiergate.budget.Window;
import dev.tiergate.pricing.Money;
import dev.tiergate.pricing.Usage;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/** The one {@link Ledger} implementation; SQL differences live in {@link Dialect}, connections in {@link Database}. */
final class JdbcLedger implements Ledger {
    /** Error type of the ledger row of a denied call. */
    static final String BUDGET_EXHAUSTED = "budget_exhausted";
    /** Error type of the ledger row of a call recovered after its lease expired. */
    static final String LEASE_EXPIRED = "lease_expired";

    // Creates a call's windows on first use and, in the same statement, locks their rows (in VALUES order, which is
    // AppliedBudget.ORDER) and reads them. A config limit replaces a stored config limit; a requested run cap
    // replaces a config limit or a higher cap, so that a run's cap only ever goes down and covers all its spend
    // (BudgetBook.limitAfter). One statement for all windows: on PostgreSQL each statement is a round trip.
    private static final String UPSERT_WINDOWS = upsertWindows(true, "VALUES %s")
            + "\nRETURNING budget, subject, window_start, limit_nanos, spent_nanos, reserved_nanos";
    private static final String UPSERT_WINDOW_VALUES = "(?, ?, ?, ?, ?, ?, ?, ?, 0, 0)";
    // SQLite: the windows a call's admission finds new or re-limited (BudgetBook); reserved is no column there
    static final String SQLITE_UPSERT_WINDOWS = upsertWindows(false, "VALUES %s");
    // The upsert above already holds the windows' row locks (PostgreSQL), so this touches no row it has not locked.
    private static final String ADD_RESERVED = "UPDATE budget_window SET reserved_nanos = reserved_nanos + ?"
            + " WHERE (budget, subject, window_start) IN (VALUES %s)";
    private static final String CHARGE = """
            UPDATE budget_window SET reserved_nanos = reserved_nanos - ?, spent_nanos = spent_nanos + ?
            WHERE budget = ? AND subject = ? AND window_start = ?
            RETURNING limit_nanos, spent_nanos, hard""";
    private static final String INSERT_RESERVATION = """
            INSERT INTO reservation (id, request_id, owner, amount_nanos, created_at, lease_expires_at, started_at,
                                     key_name, team, task_type, tier, requested_model, routed_model, run_id, agent_id,
                                     max_tokens)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""";
    // SQLite: the reservation carries its windows, so that admitting a call writes one row (see BudgetBook); they
    // are a JSON array of [budget, subject, window_start] written by WindowsJson, one parameter instead of three
    // per window
    private static final String SQLITE_INSERT_RESERVATION = """
            INSERT INTO reservation (id, request_id, owner, amount_nanos, created_at, lease_expires_at, started_at,
                                     key_name, team, task_type, tier, requested_model, routed_model, run_id, agent_id,
                                     max_tokens, windows)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""";
    private static final String INSERT_RESERVATION_BUDGET =
            "INSERT INTO reservation_budget (reservation_id, budget, subject, window_start) VALUES %s";
    static final String RESERVATION_COLUMNS = "request_id, amount_nanos, started_at, key_name, team, task_type,"
            + " tier, requested_model, routed_model, run_id, agent_id, max_tokens";
    private static final String TAKE_EXPIRED_RESERVATION =
            "DELETE FROM reservation WHERE id = ? AND lease_expires_at < ? RETURNING " + RESERVATION_COLUMNS;
    // SQLite: a call is settled in its reservation's row (schema V5), which a fold later moves to the ledger; the
    // row's windows (a JSON array of [budget, subject, window_start]) come back for the writer's book
    private static final String SQLITE_SETTLED_RETURNING = " RETURNING " + RESERVATION_COLUMNS + ", windows";
    private static final String SQLITE_SETTLE_IN_PLACE_QUIETLY = """
            UPDATE reservation SET recorded_at = ?, served_model = ?, input_tokens = ?, cache_write_5m_tokens = ?,
                                   cache_write_1h_tokens = ?, cache_read_tokens = ?, output_tokens = ?,
                                   web_search_requests = ?, cost_nanos = ?, latency_ms = ?, ttft_ms = ?,
                                   stop_reason = ?, hit_cap = ?, status = ?, error_type = ?
            WHERE id = ? AND status IS NULL""";
    // the same, for a reservation this ledger did not admit (or no longer holds in memory): the row says what it held
    private static final String SQLITE_SETTLE_IN_PLACE = SQLITE_SETTLE_IN_PLACE_QUIETLY + SQLITE_SETTLED_RETURNING;
    // recovery: an open reservation whose lease expired is settled at its worst case, as interrupted
    private static final String SQLITE_INTERRUPT_IN_PLACE = """
            UPDATE reservation SET recorded_at = ?, served_model = routed_model, input_tokens = 0,
                                   cache_write_5m_tokens = 0, cache_write_1h_tokens = 0, cache_read_tokens = 0,
                                   output_tokens = 0, web_search_requests = 0, cost_nanos = amount_nanos,
                                   latency_ms = NULL, ttft_ms = NULL, stop_reason = '', hit_cap = 0, status = ?,
                                   error_type = ?
            WHERE id = ? AND status IS NULL AND lease_expires_at < ?""" + SQLITE_SETTLED_RETURNING;
    private static final String SQLITE_WINDOWS_OF =
            "SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2 FROM json_each(?) j";
    private static final String TAKE_RESERVATION_WINDOWS =
            "DELETE FROM reservation_budget WHERE reservation_id = ? RETURNING budget, subject, window_start";
    /** The ledger's columns as every insert of a row lists them (here, in PostgreSQL's settle and in the fold). */
    static final String LEDGER_INSERT_COLUMNS = "request_id, reservation_id, started_at, recorded_at, key_name, team,"
            + " task_type, tier, requested_model, routed_model, served_model, run_id, agent_id, input_tokens,"
            + " cache_write_5m_tokens, cache_write_1h_tokens, cache_read_tokens, output_tokens, web_search_requests,"
            + " cost_nanos, latency_ms, ttft_ms, stop_reason, max_tokens, hit_cap, status, error_type";

    private static final String INSERT_LEDGER = "INSERT INTO ledger (" + LEDGER_INSERT_COLUMNS + ")"
            + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    // PostgreSQL: the three writes of an admitted reservation in one statement (one round trip).
    private static final String PG_ADMIT = "WITH added AS (" + ADD_RESERVED + " RETURNING 1), windows AS ("
            + INSERT_RESERVATION_BUDGET + " RETURNING 1) " + INSERT_RESERVATION;
    // PostgreSQL: the whole of a settlement in one statement (one round trip): take the reservation and its windows,
    // charge the windows, write the ledger row; returns the reservation, and each charged window's state (if any).
    // The windows' row locks are taken in whatever order the join visits them; a deadlock with another instance is
    // detected by PostgreSQL and the transaction retried (GroupCommit).
    private static final String PG_SETTLE = """
            WITH r AS (DELETE FROM reservation WHERE id = ? RETURNING %1$s),
                 w AS (DELETE FROM reservation_budget WHERE reservation_id = ? RETURNING budget, subject, window_start),
                 c AS (UPDATE budget_window b SET reserved_nanos = b.reserved_nanos - r.amount_nanos,
                                                  spent_nanos = b.spent_nanos + ?
                       FROM r, w
                       WHERE b.budget = w.budget AND b.subject = w.subject AND b.window_start = w.window_start
                       RETURNING b.budget, b.subject, b.window_start, b.limit_nanos, b.spent_nanos, b.hard),
                 l AS (INSERT INTO ledger (%2$s)
                       SELECT r.request_id, ?, r.started_at, ?, r.key_name, r.team, r.task_type, r.tier,
                              r.requested_model, r.routed_model, ?, r.run_id, r.agent_id, ?, ?, ?, ?, ?, ?, ?, ?, ?,
                              ?, r.max_tokens, ?, ?, ?
                       FROM r)
            SELECT r.*, (SELECT COUNT(*) FROM w), c.budget, c.subject, c.window_start, c.limit_nanos, c.spent_nanos,
                   c.hard
            FROM r LEFT JOIN c ON TRUE""".formatted(RESERVATION_COLUMNS, LEDGER_INSERT_COLUMNS);
    private static final String LEDGER_COLUMNS = "seq, request_id, reservation_id, started_at, recorded_at, key_name,"
            + " team, task_type, tier, requested_model, routed_model, served_model, run_id, agent_id, input_tokens,"
            + " cache_write_5m_tokens, cache_write_1h_tokens, cache_read_tokens, output_tokens, web_search_requests,"
            + " cost_nanos, latency_ms, ttft_ms, stop_reason, max_tokens, hit_cap, status, error_type";
    private static final String INSERT_EVENT = """
            INSERT INTO ledger_event (at, kind, budget, subject, window_start, request_id, amount_nanos, detail)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)""";
    // enlarge: the open reservation (SQLite: not settled in place yet; PostgreSQL: locked before its windows, in the
    // order a settlement takes them), its windows, and the amount added to it
    private static final String SQLITE_OPEN_RESERVATION =
            "SELECT request_id, amount_nanos, windows FROM reservation WHERE id = ? AND status IS NULL";
    private static final String PG_LOCK_RESERVATION =
            "SELECT request_id, amount_nanos FROM reservation WHERE id = ? FOR UPDATE";
    private static final String PG_LOCK_RESERVATION_WINDOWS = """
            SELECT b.budget, b.subject, b.window_start, b.limit_nanos, b.spent_nanos, b.reserved_nanos, b.hard
            FROM budget_window b JOIN reservation_budget rb
              ON b.budget = rb.budget AND b.subject = rb.subject AND b.window_start = rb.window_start
            WHERE rb.reservation_id = ?
            ORDER BY b.budget COLLATE "C", b.subject COLLATE "C", b.window_start FOR UPDATE OF b""";
    private static final String PG_ADD_RESERVED_OF = """
            UPDATE budget_window b SET reserved_nanos = b.reserved_nanos + ?
            FROM reservation_budget rb
            WHERE rb.reservation_id = ? AND b.budget = rb.budget AND b.subject = rb.subject
              AND b.window_start = rb.window_start""";
    private static final String ENLARGE_RESERVATION =
            "UPDATE reservation SET amount_nanos = amount_nanos + ? WHERE id = ?";
    private static final String EVIDENCE_COLUMNS = "request_id, recorded_at, task_type, source, served_model,"
            + " served_score, served_input_tokens, served_output_tokens, served_cost_nanos, candidate_model,"
            + " candidate_score, candidate_input_tokens, candidate_output_tokens, candidate_cost_nanos, judge_cost_nanos";
    private static final String INSERT_EVIDENCE = "INSERT INTO shadow_evidence (" + EVIDENCE_COLUMNS
            + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    private static final String WINDOW_COLUMNS = "budget, subject, window_start, window_end, window_kind, limit_nanos,"
            + " hard, limit_fixed, spent_nanos, reserved_nanos";
    // budget_window with each window's reserved: a column on PostgreSQL, summed from the open reservations on SQLite
    private static final String WINDOW_STATUS = "budget_window_status";

    private final Database db;
    private final String instanceId;
    private final Clock clock;
    // Time-ordered, like request ids (RequestIds says why): a reservation row lands on the last page of the
    // reservation table's key instead of a random one, and no call waits on the JDK's lock around /dev/urandom
    // (UUID.randomUUID). Unique, not secret: nothing is authorised by a reservation id.
    private final RequestIds reservationIds;
    // SQLite: admission checks the budgets in the writer's memory; null on PostgreSQL, where instances share them
    private final @Nullable BudgetBook book;
    // SQLite: moves calls settled in place into the ledger; null on PostgreSQL
    private final @Nullable SettledFold fold;
    // SQLite: the reservations this ledger admitted and has not settled yet, with what each holds, so that settling
    // one updates its row and reads nothing back: reading the row's columns and parsing its windows in SQLite cost
    // the writer more than the update itself (each text column read is a JNI call that makes a direct buffer). A
    // row's call and windows never change once inserted, and its amount only through enlarge, which updates this
    // copy after its commit, so the copy cannot go stale; whether the row is still open is what the update's count
    // says. Bounded: past MAX_HELD (calls that never settle and are never recovered here), a settlement reads its row
    // as before.
    private final Map<String, Taken> held = new ConcurrentHashMap<>();
    static final int MAX_HELD = 16_384;
    // PostgreSQL: runs a group-commit batch's reservations and settlements as a few statements; null on SQLite
    private final @Nullable PostgresBatch batch;

    JdbcLedger(Database db, String instanceId, Clock clock) {
        this(db, instanceId, clock, SettledFold.INTERVAL);
    }

    /** @param foldInterval SQLite: how often settled calls are folded (tests fold by reading instead) */
    JdbcLedger(Database db, String instanceId, Clock clock, Duration foldInterval) {
        if (instanceId.isBlank()) {
            db.close();
            throw new IllegalArgumentException("a ledger needs an instance id (the owner of its leases)");
        }
        this.db = db;
        this.instanceId = instanceId;
        this.clock = clock;
        this.reservationIds = new RequestIds("rsv_", clock);
        this.book = db instanceof SqliteDatabase sqlite ? sqlite.book() : null;
        if (book != null) {
            try {
                this.fold = new SettledFold(db, foldInterval);
            } catch (RuntimeException e) {
                db.close();
                throw e;
            }
        } else {
            this.fold = null;
        }
        this.batch = book == null ? new PostgresBatch(this, clock, instanceId) : null;
    }

    /** PostgreSQL: how many reservations and settlements were written by combined batches; 0 on SQLite. */
    long combinedWrites() {
        return batch != null ? batch.combined() : 0;
    }

    @Override
    public Admission reserve(Call call, List<AppliedBudget> budgets, Money worstCase, Instant leaseExpiry) {
        if (worstCase.isNegative()) {
            throw new IllegalArgumentException(
                    "worst case of " + call.requestId() + " must not be negative, got " + worstCase);
        }
        List<AppliedBudget> ordered =
                budgets.stream().sorted(AppliedBudget.ORDER).toList();
        for (int i = 1; i < ordered.size(); i++) {
            if (ordered.get(i).sameWindow(ordered.get(i - 1))) {
                throw new IllegalArgumentException(
                        "budget window listed twice: " + ordered.get(i).describe());
            }
        }
        String id = reservationIds.next();
        Database.Work<Admission> alone = tx -> {
            int n = ordered.size();
            if (n > 0) {
                Admission.Denied denied =
                        book != null ? book.admit(tx, ordered, worstCase) : lockWindows(tx, ordered, worstCase);
                if (denied != null) {
                    // The windows created or re-limited are kept: they reflect the config, not this call.
                    if (book != null) {
                        SettledFold.fold(tx); // the ledger's order is the order calls ended in: settled ones first
                    }
                    insertDeniedRow(tx, call);
                    return denied;
                }
            }
            if (book != null) {
                // the book has added the worst case to the windows' reserved; the row is what recovery needs
                PreparedStatement ps = tx.prepare(SQLITE_INSERT_RESERVATION);
                int next = bindReservation(ps, 1, id, call, worstCase, leaseExpiry);
                ps.setString(next, WindowsJson.of(ordered));
                ps.executeUpdate();
            } else if (n > 0) {
                // one round trip for the three writes
                PreparedStatement ps = tx.prepare(SQL.of(PG_ADMIT, n, "(?, ?, ?)", "(?, ?, ?, ?)"));
                int next = bindAddReserved(ps, 1, worstCase, ordered);
                next = bindReservationWindows(ps, next, id, ordered);
                bindReservation(ps, next, id, call, worstCase, leaseExpiry);
                ps.executeUpdate();
            } else {
                PreparedStatement ps = tx.prepare(INSERT_RESERVATION);
                bindReservation(ps, 1, id, call, worstCase, leaseExpiry);
                ps.executeUpdate();
            }
            return new Admission.Admitted(new ReservationId(id));
        };
        Admission admission = db.write(
                batch == null
                        ? alone
                        : new PostgresBatch.Write<>(
                                new PostgresBatch.Reserve(id, call, ordered, worstCase, leaseExpiry), alone, batch));
        if (book != null && admission instanceof Admission.Admitted && held.size() < MAX_HELD) {
            List<WindowKey> keys =
                    ordered.stream().map(WindowKey::of).sorted(WindowKey.ORDER).toList();
            held.put(id, new Taken(call, worstCase, keys));
        }
        return admission;
    }

    @Override
    public Admission enlarge(ReservationId reservation, List<AppliedBudget> budgets, Money extra, String reason) {
        if (extra.nanos() <= 0) {
            throw new IllegalArgumentException("a reservation is enlarged by a positive amount, got " + extra);
        }
        Map<WindowKey, AppliedBudget> byKey = new java.util.HashMap<>();
        budgets.forEach(b -> byKey.put(WindowKey.of(b), b));
        Admission admission = db.write(tx -> {
            String requestId;
            long amount;
            List<WindowKey> keys;
            BudgetBook.Refusal refusal;
            if (book != null) {
                PreparedStatement ps = tx.prepare(SQLITE_OPEN_RESERVATION);
                ps.setString(1, reservation.value());
                String windows;
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next()) {
                        throw notOpen(reservation);
                    }
                    requestId = rs.getString(1);
                    amount = rs.getLong(2);
                    windows = rs.getString(3);
                }
                PreparedStatement of = tx.prepare(SQLITE_WINDOWS_OF);
                of.setString(1, windows);
                keys = windowKeys(of);
                requireSameWindows(reservation, keys, byKey);
                refusal = book.enlarge(tx, keys, extra.nanos());
            } else {
                PreparedStatement ps = tx.prepare(PG_LOCK_RESERVATION);
                ps.setString(1, reservation.value());
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next()) {
                        throw notOpen(reservation);
                    }
                    requestId = rs.getString(1);
                    amount = rs.getLong(2);
                }
                refusal = lockAndCheckWindows(tx, reservation, byKey, extra);
                if (refusal == null) {
                    PreparedStatement add = tx.prepare(PG_ADD_RESERVED_OF);
                    add.setLong(1, extra.nanos());
                    add.setString(2, reservation.value());
                    add.executeUpdate();
                }
            }
            if (refusal != null) {
                return new Admission.Denied(
                        Objects.requireNonNull(byKey.get(refusal.key())),
                        Money.ofNanos(refusal.limit()),
                        Money.ofNanos(refusal.spent()),
                        Money.ofNanos(refusal.reserved()),
                        extra);
            }
            PreparedStatement up = tx.prepare(ENLARGE_RESERVATION);
            up.setLong(1, extra.nanos());
            up.setString(2, reservation.value());
            up.executeUpdate();
            Money now = Money.ofNanos(Math.addExact(amount, extra.nanos()));
            insertEvent(
                    tx,
                    LedgerEvent.Kind.RESERVATION_ENLARGED,
                    "",
                    "",
                    Instant.EPOCH,
                    requestId,
                    extra,
                    reason + "; reservation " + reservation.value() + " of request " + requestId + " now holds " + now);
            return new Admission.Admitted(reservation);
        });
        if (admission instanceof Admission.Admitted) {
            // the copy a settlement charges from must hold what the row now holds
            held.computeIfPresent(
                    reservation.value(),
                    (id, t) -> new Taken(t.call(), t.amount().plus(extra), t.windows()));
        }
        return admission;
    }

    private static LedgerException notOpen(ReservationId reservation) {
        return new LedgerException("reservation " + reservation + " is not open (settled, or recovered after its lease"
                + " expired): it cannot be enlarged");
    }

    private static void requireSameWindows(
            ReservationId reservation, Collection<WindowKey> held, Map<WindowKey, AppliedBudget> given) {
        if (!new java.util.HashSet<>(held).equals(given.keySet())) {
            throw new IllegalArgumentException("reservation " + reservation + " holds budget windows " + held
                    + ", not the ones given: " + given.keySet());
        }
    }

    /**
     * PostgreSQL: locks the reservation's windows (in the order {@link PostgresBatch} locks them) and returns the
     * first hard one that cannot take {@code extra} more, or null.
     */
    private static BudgetBook.@Nullable Refusal lockAndCheckWindows(
            Database.Tx tx, ReservationId reservation, Map<WindowKey, AppliedBudget> byKey, Money extra)
            throws SQLException {
        PreparedStatement ps = tx.prepare(PG_LOCK_RESERVATION_WINDOWS);
        ps.setString(1, reservation.value());
        List<WindowKey> keys = new ArrayList<>();
        BudgetBook.Refusal refusal = null;
        try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                WindowKey key = new WindowKey(rs.getString(1), rs.getString(2), rs.getLong(3));
                keys.add(key);
                long limit = rs.getLong(4);
                long spent = rs.getLong(5);
                long reserved = rs.getLong(6);
                boolean hard = rs.getInt(7) == 1;
                if (refusal == null && hard && Math.addExact(Math.addExact(spent, reserved), extra.nanos()) > limit) {
                    refusal = new BudgetBook.Refusal(key, limit, spent, reserved);
                }
            }
        }
        requireSameWindows(reservation, keys, byKey);
        return refusal;
    }

    /** The ledger row of a call its budgets denied. */
    void insertDeniedRow(Database.Tx tx, Call call) throws SQLException {
        insertLedgerRow(
                tx,
                call,
                new Outcome(
                        CallStatus.DENIED, call.routedModel(), Usage.ZERO, Money.ZERO, -1, -1, "", BUDGET_EXHAUSTED),
                "");
    }

    /** Binds {@link #ADD_RESERVED}'s parameters from {@code from}; returns the next parameter index. */
    private static int bindAddReserved(PreparedStatement ps, int from, Money worstCase, List<AppliedBudget> ordered)
            throws SQLException {
        int next = from;
        ps.setLong(next++, worstCase.nanos());
        for (AppliedBudget b : ordered) {
            setWindowKey(ps, next, b.budget(), b.subject(), b.windowStart().toEpochMilli());
            next += 3;
        }
        return next;
    }

    /** Binds {@link #INSERT_RESERVATION_BUDGET}'s parameters from {@code from}; returns the next index. */
    private static int bindReservationWindows(PreparedStatement ps, int from, String id, List<AppliedBudget> ordered)
            throws SQLException {
        int next = from;
        for (AppliedBudget b : ordered) {
            ps.setString(next, id);
            setWindowKey(ps, next + 1, b.budget(), b.subject(), b.windowStart().toEpochMilli());
            next += 4;
        }
        return next;
    }

    /** Binds {@link #INSERT_RESERVATION}'s parameters from {@code from}; returns the next parameter index. */
    private int bindReservation(
            PreparedStatement ps, int from, String id, Call call, Money worstCase, Instant leaseExpiry)
            throws SQLException {
        int next = from;
        ps.setString(next++, id);
        ps.setString(next++, call.requestId());
        ps.setString(next++, instanceId);
        ps.setLong(next++, worstCase.nanos());
        ps.setLong(next++, clock.millis());
        ps.setLong(next++, leaseExpiry.toEpochMilli());
        ps.setLong(next++, call.startedAt().toEpochMilli());
        ps.setString(next++, call.keyName());
        ps.setString(next++, call.team());
        ps.setString(next++, call.taskType());
        ps.setString(next++, call.tier());
        ps.setString(next++, call.requestedModel());
        ps.setString(next++, call.routedModel());
        ps.setString(next++, call.runId());
        ps.setString(next++, call.agentId());
        ps.setLong(next++, call.maxTokens());
        return next;
    }

    /**
     * The upsert of budget windows, with a {@code reserved_nanos} column (PostgreSQL) or without (SQLite), of the
     * windows {@code rows} gives (a {@code VALUES} list or a {@code SELECT}).
     */
    static String upsertWindows(boolean reservedColumn, String rows) {
        return """
                INSERT INTO budget_window (budget, subject, window_start, window_end, window_kind, limit_nanos, hard,
                                           limit_fixed, spent_nanos%s)
                %s
                ON CONFLICT (budget, subject, window_start) DO UPDATE SET
                  limit_nanos = CASE WHEN budget_window.limit_fixed = 0 THEN excluded.limit_nanos
                                     WHEN excluded.limit_fixed = 1 AND excluded.limit_nanos < budget_window.limit_nanos
                                     THEN excluded.limit_nanos
                                     ELSE budget_window.limit_nanos END,
                  limit_fixed = CASE WHEN budget_window.limit_fixed = 1 THEN 1 ELSE excluded.limit_fixed END,
                  hard = excluded.hard""".formatted(reservedColumn ? ", reserved_nanos" : "", rows);
    }

    /** SQL texts with {@code n} groups of parameters, formatted once per template and {@code n}. */
    static final class SQL {
        private record Key(String template, int n) {}

        private static final java.util.concurrent.ConcurrentHashMap<Key, String> CACHE =
                new java.util.concurrent.ConcurrentHashMap<>();

        /** {@code template} with its {@code %s} placeholders each replaced by {@code n} copies of a group. */
        static String of(String template, int n, String... groups) {
            return CACHE.computeIfAbsent(new Key(template, n), k -> {
                Object[] lists = new Object[groups.length];
                for (int i = 0; i < groups.length; i++) {
                    lists[i] = repeat(groups[i], n);
                }
                return template.formatted(lists);
            });
        }
    }

    /**
     * PostgreSQL's admission: creates (or re-limits) and locks the call's windows with one upsert, then checks every
     * hard one in {@link AppliedBudget#ORDER}: the first that cannot take {@code worstCase} on top of its spent and
     * reserved denies.
     */
    private Admission.@Nullable Denied lockWindows(Database.Tx tx, List<AppliedBudget> ordered, Money worstCase)
            throws SQLException {
        PreparedStatement ps = tx.prepare(SQL.of(UPSERT_WINDOWS, ordered.size(), UPSERT_WINDOW_VALUES));
        BudgetBook.bindDefinitions(ps, ordered);
        java.util.Map<WindowKey, long[]> state = new java.util.HashMap<>();
        try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                state.put(
                        new WindowKey(rs.getString(1), rs.getString(2), rs.getLong(3)),
                        new long[] {rs.getLong(4), rs.getLong(5), rs.getLong(6)});
            }
        }
        for (AppliedBudget b : ordered) {
            long[] w = state.get(WindowKey.of(b));
            if (w == null) {
                throw new LedgerException("the upsert of budget window " + b.describe() + " returned no row");
            }
            Money limit = Money.ofNanos(w[0]);
            Money spent = Money.ofNanos(w[1]);
            Money reserved = Money.ofNanos(w[2]);
            if (b.hard() && spent.plus(reserved).plus(worstCase).isGreaterThan(limit)) {
                return new Admission.Denied(b, limit, spent, reserved, worstCase);
            }
        }
        return null;
    }

    @Override
    public WriteStats writeStats() {
        return db.writeStats();
    }

    @Override
    public Settlement settle(ReservationId reservation, Outcome outcome) {
        if (outcome.status() == CallStatus.DENIED || outcome.status() == CallStatus.INTERRUPTED) {
            throw new IllegalArgumentException("a call is settled as ok, upstream_error or client_cancelled, not "
                    + outcome.status().wireName() + " (the ledger writes those itself)");
        }
        if (batch != null) {
            return db.write(new PostgresBatch.Write<>(
                    new PostgresBatch.Settle(reservation, outcome),
                    tx -> settleInOneStatement(tx, reservation, outcome),
                    batch));
        }
        BudgetBook book = this.book;
        if (book == null) {
            throw new IllegalStateException("a ledger has a budget book (SQLite) or batches (PostgreSQL)");
        }
        Settlement settlement;
        try {
            settlement = db.write(tx -> {
                // the work only reads the map: a group commit may run it again after a rollback
                Taken known = held.get(reservation.value());
                PreparedStatement ps =
                        tx.prepare(known != null ? SQLITE_SETTLE_IN_PLACE_QUIETLY : SQLITE_SETTLE_IN_PLACE);
                int i = 1;
                ps.setLong(i++, clock.millis());
                ps.setString(i++, outcome.servedModel());
                i = bindOutcomeMeasures(ps, i, outcome);
                bindOutcomeStatus(ps, i, outcome);
                ps.setString(i + 3, reservation.value());
                Taken taken = known != null ? (ps.executeUpdate() == 1 ? known : null) : settledInPlace(tx, ps);
                if (taken == null) {
                    return alreadyRecovered(tx, reservation, outcome);
                }
                return new Settlement.Settled(chargeInBook(tx, book, taken, outcome.cost()));
            });
        } finally {
            // settled, already recovered, or failed (a settlement tried again reads the row)
            held.remove(reservation.value());
        }
        if (fold != null) {
            fold.settled();
        }
        return settlement;
    }

    /** Runs an in-place settlement of a reservation row; the reservation, or null if it was not open. */
    private static @Nullable Taken settledInPlace(Database.Tx tx, PreparedStatement ps) throws SQLException {
        Taken t;
        String windows;
        try (ResultSet rs = ps.executeQuery()) {
            if (!rs.next()) {
                return null;
            }
            t = readTaken(rs);
            windows = rs.getString(13);
        }
        PreparedStatement keys = tx.prepare(SQLITE_WINDOWS_OF);
        keys.setString(1, windows);
        return new Taken(t.call(), t.amount(), windowKeys(keys));
    }

    /**
     * SQLite's charge: the reservation's windows move it from reserved to spent at {@code cost} in the writer's book
     * (the file has it in the reservation's settled row, which a fold adds to the windows' rows later); returns the
     * events the charge raises, windows in {@link WindowKey#ORDER} as PostgreSQL's path raises them.
     */
    private List<LedgerEvent> chargeInBook(Database.Tx tx, BudgetBook book, Taken taken, Money cost)
            throws SQLException {
        List<LedgerEvent> events = new ArrayList<>();
        for (WindowKey key : taken.windows()) {
            BudgetBook.Charged c = book.settled(tx, key, taken.amount().nanos(), cost.nanos());
            softLimitEvent(tx, key, taken, cost, c.limit(), c.spentAfter(), c.hard())
                    .ifPresent(events::add);
        }
        costAboveReservationEvent(tx, taken, cost).ifPresent(events::add);
        return events;
    }

    /** PostgreSQL's settle: {@link #PG_SETTLE}, one round trip, plus one per event raised (rare). */
    private Settlement settleInOneStatement(Database.Tx tx, ReservationId reservation, Outcome outcome)
            throws SQLException {
        PreparedStatement ps = tx.prepare(PG_SETTLE);
        int i = 1;
        ps.setString(i++, reservation.value());
        ps.setString(i++, reservation.value());
        ps.setLong(i++, outcome.cost().nanos());
        ps.setString(i++, reservation.value());
        ps.setLong(i++, clock.millis());
        ps.setString(i++, outcome.servedModel());
        i = bindOutcomeMeasures(ps, i, outcome);
        bindOutcomeStatus(ps, i, outcome);
        Taken taken = null;
        long windows = 0;
        List<ChargedWindow> charged = new ArrayList<>();
        try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                if (taken == null) {
                    taken = readTaken(rs);
                    windows = rs.getLong(13);
                }
                String budget = rs.getString(14);
                if (budget != null) {
                    charged.add(new ChargedWindow(
                            new WindowKey(budget, rs.getString(15), rs.getLong(16)),
                            rs.getLong(17),
                            rs.getLong(18),
                            rs.getInt(19) == 1));
                }
            }
        }
        if (taken == null) {
            return alreadyRecovered(tx, reservation, outcome);
        }
        return new Settlement.Settled(eventsOfCharges(tx, reservation, windows, charged, taken, outcome.cost()));
    }

    /** A window as charged by a settlement: its limit and its spend afterwards. */
    record ChargedWindow(WindowKey key, long limit, long spentAfter, boolean hard) {}

    /**
     * After all of a reservation's windows were charged in one statement: checks that every window it held was
     * there, then raises the events of the charge, windows in {@link WindowKey#ORDER} as the per-window path does.
     */
    private List<LedgerEvent> eventsOfCharges(
            Database.Tx tx, ReservationId reservation, long held, List<ChargedWindow> charged, Taken taken, Money cost)
            throws SQLException {
        if (charged.size() != held) {
            throw new LedgerException("reservation " + reservation + " held " + held + " budget windows but only "
                    + charged.size() + " exist");
        }
        charged.sort(Comparator.comparing(ChargedWindow::key, WindowKey.ORDER));
        List<LedgerEvent> events = new ArrayList<>();
        for (ChargedWindow c : charged) {
            softLimitEvent(tx, c.key(), taken, cost, c.limit(), c.spentAfter(), c.hard())
                    .ifPresent(events::add);
        }
        costAboveReservationEvent(tx, taken, cost).ifPresent(events::add);
        return events;
    }

    @Override
    public Settlement release(ReservationId reservation, Outcome outcome) {
        if (outcome.cost().nanos() != 0) {
            throw new IllegalArgumentException("release is for calls that never reached the upstream and cost"
                    + " nothing; settle " + reservation + " instead (cost " + outcome.cost() + ")");
        }
        return settle(reservation, outcome);
    }

    Settlement alreadyRecovered(Database.Tx tx, ReservationId reservation, Outcome outcome) throws SQLException {
        if (book != null) {
            SettledFold.fold(tx); // its row may be settled in place still (recovered as interrupted, or settled)
        }
        PreparedStatement ps = tx.prepare("SELECT request_id, status FROM ledger WHERE reservation_id = ?");
        ps.setString(1, reservation.value());
        String requestId;
        String status;
        try (ResultSet rs = ps.executeQuery()) {
            if (!rs.next()) {
                throw new LedgerException("no open reservation " + reservation + " and no call settled with it");
            }
            requestId = rs.getString(1);
            status = rs.getString(2);
        }
        if (!status.equals(CallStatus.INTERRUPTED.wireName())) {
            throw new LedgerException(
                    "reservation " + reservation + " of request " + requestId + " was already settled as " + status);
        }
        LedgerEvent event = insertEvent(
                tx,
                LedgerEvent.Kind.SETTLED_AFTER_RECOVERY,
                "",
                "",
                Instant.EPOCH,
                requestId,
                outcome.cost(),
                "request " + requestId + " settled as " + outcome.status().wireName() + " costing " + outcome.cost()
                        + " after its lease expired and its worst case was charged");
        return new Settlement.AlreadyRecovered(reservation, event);
    }

    @Override
    public int renew(Collection<ReservationId> reservations, Instant leaseExpiry) {
        if (reservations.isEmpty()) {
            return 0;
        }
        return db.write(tx -> {
            int renewed = 0;
            for (ReservationId id : reservations) {
                PreparedStatement ps =
                        tx.prepare("UPDATE reservation SET lease_expires_at = ? WHERE id = ? AND owner = ?");
                ps.setLong(1, leaseExpiry.toEpochMilli());
                ps.setString(2, id.value());
                ps.setString(3, instanceId);
                renewed += ps.executeUpdate();
            }
            return renewed;
        });
    }

    @Override
    public Recovery recoverExpired(Instant now) {
        long nowMs = now.toEpochMilli();
        List<String> expired = db.read(tx -> {
            // SQLite: the rows settled in place are not open (the fold moves them)
            PreparedStatement ps = tx.prepare("SELECT id FROM reservation WHERE lease_expires_at < ?"
                    + (book != null ? " AND status IS NULL" : "") + " ORDER BY lease_expires_at, id");
            ps.setLong(1, nowMs);
            List<String> ids = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    ids.add(rs.getString(1));
                }
            }
            return ids;
        });
        List<String> requestIds = new ArrayList<>();
        List<LedgerEvent> events = new ArrayList<>();
        Money charged = Money.ZERO;
        for (String id : expired) {
            ReservationId reservation = new ReservationId(id);
            // one transaction each: a failure leaves the others recovered, and another instance racing us
            // finds the row gone (the DELETE's condition) and skips it
            // the work returns its events rather than adding them to ours: a group commit may run it twice
            Optional<Recovered> recovered = db.write(tx -> {
                if (book != null) {
                    PreparedStatement ps = tx.prepare(SQLITE_INTERRUPT_IN_PLACE);
                    ps.setLong(1, clock.millis());
                    ps.setString(2, CallStatus.INTERRUPTED.wireName());
                    ps.setString(3, LEASE_EXPIRED);
                    ps.setString(4, id);
                    ps.setLong(5, nowMs);
                    Taken t = settledInPlace(tx, ps);
                    return t == null
                            ? Optional.<Recovered>empty()
                            : Optional.of(new Recovered(t, chargeInBook(tx, book, t, t.amount())));
                }
                Taken t = takeExpired(tx, reservation, nowMs);
                if (t == null) {
                    return Optional.empty();
                }
                List<LedgerEvent> charges = charge(tx, reservation, t, t.amount());
                insertLedgerRow(
                        tx,
                        t.call(),
                        new Outcome(
                                CallStatus.INTERRUPTED,
                                t.call().routedModel(),
                                Usage.ZERO,
                                t.amount(),
                                -1,
                                -1,
                                "",
                                LEASE_EXPIRED),
                        id);
                return Optional.of(new Recovered(t, charges));
            });
            if (recovered.isPresent()) {
                held.remove(id);
                Taken t = recovered.get().taken();
                requestIds.add(t.call().requestId());
                charged = charged.plus(t.amount());
                events.addAll(recovered.get().events());
            }
        }
        return new Recovery(requestIds, charged, events);
    }

    /**
     * A reservation removed from the open set, with what it held; on SQLite, and in a PostgreSQL batch
     * ({@link PostgresBatch}), also its windows, in {@link WindowKey#ORDER} (none on PostgreSQL's per-call path,
     * which charges them in SQL).
     */
    record Taken(Call call, Money amount, List<WindowKey> windows) {}

    /** A reservation recovered after its lease expired, and the events its charge raised. */
    private record Recovered(Taken taken, List<LedgerEvent> events) {}

    /**
     * PostgreSQL: removes the reservation, if it is open and its lease expired before {@code expiredBefore}. (Its
     * settlement takes it in {@link #PG_SETTLE}.)
     */
    private static @Nullable Taken takeExpired(Database.Tx tx, ReservationId reservation, long expiredBefore)
            throws SQLException {
        PreparedStatement ps = tx.prepare(TAKE_EXPIRED_RESERVATION);
        ps.setString(1, reservation.value());
        ps.setLong(2, expiredBefore);
        try (ResultSet rs = ps.executeQuery()) {
            return rs.next() ? readTaken(rs) : null;
        }
    }

    /** The reservation in columns 1 to 12 ({@link #RESERVATION_COLUMNS}) of the current row. */
    static Taken readTaken(ResultSet rs) throws SQLException {
        {
            Call call = new Call(
                    rs.getString(1),
                    Instant.ofEpochMilli(rs.getLong(3)),
                    rs.getString(4),
                    rs.getString(5),
                    rs.getString(6),
                    rs.getString(7),
                    rs.getString(8),
                    rs.getString(9),
                    rs.getString(10),
                    rs.getString(11),
                    rs.getLong(12));
            return new Taken(call, Money.ofNanos(rs.getLong(2)), List.of());
        }
    }

    /** PostgreSQL: moves {@code taken}'s reservation to spent as {@code cost} in each of its windows. */
    private List<LedgerEvent> charge(Database.Tx tx, ReservationId reservation, Taken taken, Money cost)
            throws SQLException {
        PreparedStatement ps = tx.prepare(TAKE_RESERVATION_WINDOWS);
        ps.setString(1, reservation.value());
        List<LedgerEvent> events = new ArrayList<>();
        for (WindowKey w : windowKeys(ps)) {
            PreparedStatement up = tx.prepare(CHARGE);
            up.setLong(1, taken.amount().nanos());
            up.setLong(2, cost.nanos());
            setWindowKey(up, 3, w.budget(), w.subject(), w.windowStart());
            long limit;
            long spentAfter;
            boolean hard;
            try (ResultSet rs = up.executeQuery()) {
                if (!rs.next()) {
                    throw new LedgerException("budget window " + w + " of reservation " + reservation + " is missing");
                }
                limit = rs.getLong(1);
                spentAfter = rs.getLong(2);
                hard = rs.getInt(3) == 1;
            }
            softLimitEvent(tx, w, taken, cost, limit, spentAfter, hard).ifPresent(events::add);
        }
        costAboveReservationEvent(tx, taken, cost).ifPresent(events::add);
        return events;
    }

    /**
     * The windows {@code ps} returns as (budget, subject, window start), in {@link WindowKey#ORDER}: the order both
     * dialects charge and raise events in.
     */
    private static List<WindowKey> windowKeys(PreparedStatement ps) throws SQLException {
        List<WindowKey> keys = new ArrayList<>();
        try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                keys.add(new WindowKey(rs.getString(1), rs.getString(2), rs.getLong(3)));
            }
        }
        keys.sort(WindowKey.ORDER);
        return keys;
    }

    /** The soft-limit event if charging {@code cost} took window {@code w} from below its limit to it or above. */
    Optional<LedgerEvent> softLimitEvent(
            Database.Tx tx, WindowKey w, Taken taken, Money cost, long limit, long spentAfter, boolean hard)
            throws SQLException {
        {
            long spentBefore = spentAfter - cost.nanos();
            if (!hard && spentBefore < limit && spentAfter >= limit) {
                return Optional.of(insertEvent(
                        tx,
                        LedgerEvent.Kind.SOFT_LIMIT_CROSSED,
                        w.budget(),
                        w.subject(),
                        Instant.ofEpochMilli(w.windowStart()),
                        taken.call().requestId(),
                        Money.ofNanos(spentAfter),
                        "soft budget '" + w.budget() + "'"
                                + (w.subject().isEmpty() ? "" : " for run '" + w.subject() + "'")
                                + " reached its limit " + Money.ofNanos(limit) + ": spent "
                                + Money.ofNanos(spentAfter).toUsdString()));
            }
        }
        return Optional.empty();
    }

    /** The event recording that a call cost more than the worst case reserved for it, if it did. */
    Optional<LedgerEvent> costAboveReservationEvent(Database.Tx tx, Taken taken, Money cost) throws SQLException {
        if (cost.isGreaterThan(taken.amount())) {
            return Optional.of(insertEvent(
                    tx,
                    LedgerEvent.Kind.COST_ABOVE_RESERVATION,
                    "",
                    "",
                    Instant.EPOCH,
                    taken.call().requestId(),
                    cost.minus(taken.amount()),
                    "request " + taken.call().requestId() + " cost " + cost + ", above its reserved worst case "
                            + taken.amount()));
        }
        return Optional.empty();
    }

    /** {@code n} copies of {@code group}, comma-separated: the VALUES list of a statement over n windows. */
    private static String repeat(String group, int n) {
        return String.join(", ", Collections.nCopies(n, group));
    }

    private static void setWindowKey(PreparedStatement ps, int from, String budget, String subject, long start)
            throws SQLException {
        ps.setString(from, budget);
        ps.setString(from + 1, subject);
        ps.setLong(from + 2, start);
    }

    private LedgerEvent insertEvent(
            Database.Tx tx,
            LedgerEvent.Kind kind,
            String budget,
            String subject,
            Instant windowStart,
            String requestId,
            Money amount,
            String detail)
            throws SQLException {
        Instant at = Instant.ofEpochMilli(clock.millis());
        PreparedStatement ps = tx.prepare(INSERT_EVENT);
        ps.setLong(1, at.toEpochMilli());
        ps.setString(2, kind.name().toLowerCase(Locale.ROOT));
        ps.setString(3, budget);
        ps.setString(4, subject);
        ps.setLong(5, windowStart.toEpochMilli());
        ps.setString(6, requestId);
        ps.setLong(7, amount.nanos());
        ps.setString(8, detail);
        ps.executeUpdate();
        // seq is only known after a read; callers use events for alerts, listing reads them back with seq
        return new LedgerEvent(0, at, kind, budget, subject, windowStart, requestId, amount, detail);
    }

    private void insertLedgerRow(Database.Tx tx, Call call, Outcome outcome, String reservationId) throws SQLException {
        PreparedStatement ps = tx.prepare(INSERT_LEDGER);
        int i = 1;
        ps.setString(i++, call.requestId());
        ps.setString(i++, reservationId);
        ps.setLong(i++, call.startedAt().toEpochMilli());
        ps.setLong(i++, clock.millis());
        ps.setString(i++, call.keyName());
        ps.setString(i++, call.team());
        ps.setString(i++, call.taskType());
        ps.setString(i++, call.tier());
        ps.setString(i++, call.requestedModel());
        ps.setString(i++, call.routedModel());
        ps.setString(i++, outcome.servedModel());
        ps.setString(i++, call.runId());
        ps.setString(i++, call.agentId());
        i = bindOutcomeMeasures(ps, i, outcome);
        ps.setLong(i++, call.maxTokens());
        bindOutcomeStatus(ps, i, outcome);
        ps.executeUpdate();
    }

    /**
     * Binds a ledger row's token counts, cost, latency, time to first token and stop reason from {@code from}, in
     * the ledger's column order; returns the next index. Shared by both ways of writing a row.
     */
    private static int bindOutcomeMeasures(PreparedStatement ps, int from, Outcome outcome) throws SQLException {
        int i = from;
        Usage u = outcome.usage();
        ps.setLong(i++, u.inputTokens());
        ps.setLong(i++, u.cacheWrite5mTokens());
        ps.setLong(i++, u.cacheWrite1hTokens());
        ps.setLong(i++, u.cacheReadTokens());
        ps.setLong(i++, u.outputTokens());
        ps.setLong(i++, u.webSearchRequests());
        ps.setLong(i++, outcome.cost().nanos());
        setMillis(ps, i++, outcome.latencyMs());
        setMillis(ps, i++, outcome.timeToFirstTokenMs());
        ps.setString(i++, outcome.stopReason());
        return i;
    }

    /** Binds a ledger row's last three columns (hit cap, status, error type) from {@code from}. */
    private static void bindOutcomeStatus(PreparedStatement ps, int from, Outcome outcome) throws SQLException {
        ps.setInt(from, outcome.hitCap() ? 1 : 0);
        ps.setString(from + 1, outcome.status().wireName());
        ps.setString(from + 2, outcome.errorType());
    }

    private static void setMillis(PreparedStatement ps, int i, long ms) throws SQLException {
        if (ms < 0) {
            ps.setNull(i, Types.BIGINT);
        } else {
            ps.setLong(i, ms);
        }
    }

    @Override
    public List<BudgetStatus> budgetStatus(Instant now) {
        return db.read(tx -> {
            // a run with no cap requested has a window only to count its spend for a cap that may come: no budget
            PreparedStatement ps = tx.prepare("SELECT " + WINDOW_COLUMNS + " FROM " + WINDOW_STATUS
                    + " WHERE window_end > ? AND NOT (budget = ? AND limit_fixed = 0)");
            ps.setLong(1, now.toEpochMilli());
            ps.setString(2, BudgetRules.REQUESTED_RUN_BUDGET);
            List<BudgetStatus> out = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    AppliedBudget b = new AppliedBudget(
                            rs.getString(1),
                            rs.getString(2),
                            Window.valueOf(rs.getString(5).toUpperCase(Locale.ROOT)),
                            Instant.ofEpochMilli(rs.getLong(3)),
                            Instant.ofEpochMilli(rs.getLong(4)),
                            Money.ofNanos(rs.getLong(6)),
                            rs.getInt(7) == 1,
                            rs.getInt(8) == 1);
                    out.add(new BudgetStatus(
                            b, b.limit(), Money.ofNanos(rs.getLong(9)), Money.ofNanos(rs.getLong(10))));
                }
            }
            out.sort(Comparator.comparing(BudgetStatus::budget, AppliedBudget.ORDER));
            return out;
        });
    }

    @Override
    public List<BudgetStatus> status(List<AppliedBudget> budgets) {
        if (book != null) {
            // SQLite: the writer's memory, checked against the file as any write is; a read of the file would have
            // to sum every open reservation (a JSON scan) for each window, on every call a soft budget may demote
            return db.write(tx -> book.status(tx, budgets));
        }
        return db.read(tx -> {
            List<BudgetStatus> out = new ArrayList<>();
            for (AppliedBudget b : budgets) {
                PreparedStatement ps = tx.prepare("SELECT limit_nanos, spent_nanos, reserved_nanos FROM "
                        + WINDOW_STATUS + " WHERE budget = ? AND subject = ? AND window_start = ?");
                setWindowKey(ps, 1, b.budget(), b.subject(), b.windowStart().toEpochMilli());
                try (ResultSet rs = ps.executeQuery()) {
                    out.add(
                            rs.next()
                                    ? new BudgetStatus(
                                            b,
                                            Money.ofNanos(rs.getLong(1)),
                                            Money.ofNanos(rs.getLong(2)),
                                            Money.ofNanos(rs.getLong(3)))
                                    : new BudgetStatus(b, b.limit(), Money.ZERO, Money.ZERO));
                }
            }
            return out;
        });
    }

    @Override
    public List<SpendGroup> spend(GroupBy by, Instant since) {
        String g = db.dialect().groupExpression(by);
        String sql = "SELECT " + g + " AS grp, COUNT(*), SUM(cost_nanos), SUM(input_tokens),"
                + " SUM(cache_write_5m_tokens + cache_write_1h_tokens), SUM(cache_read_tokens), SUM(output_tokens),"
                + " SUM(hit_cap) FROM ledger WHERE started_at >= ? GROUP BY " + g
                + " ORDER BY SUM(cost_nanos) DESC, grp";
        if (fold != null) {
            fold.now(); // SQLite: a read of the ledger sees every settled call
        }
        return db.read(tx -> {
            PreparedStatement ps = tx.prepare(sql);
            ps.setLong(1, since.toEpochMilli());
            List<SpendGroup> out = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(new SpendGroup(
                            rs.getString(1),
                            rs.getLong(2),
                            Money.ofNanos(rs.getLong(3)),
                            rs.getLong(4),
                            rs.getLong(5),
                            rs.getLong(6),
                            rs.getLong(7),
                            rs.getLong(8)));
                }
            }
            return out;
        });
    }

    @Override
    public CallPage calls(CallQuery q) {
        StringBuilder sql = new StringBuilder(
                "SELECT " + LEDGER_COLUMNS + " FROM ledger WHERE started_at >= ? AND started_at < ? AND seq < ?");
        List<String> text = new ArrayList<>();
        addFilter(sql, text, "key_name", q.keyName());
        addFilter(sql, text, "team", q.team());
        addFilter(sql, text, "task_type", q.taskType());
        addFilter(sql, text, "run_id", q.runId());
        List<CallStatus> statuses = q.statuses().stream().sorted().toList(); // sorted: one statement shape per set
        if (!statuses.isEmpty()) {
            sql.append(" AND status IN (")
                    .append(String.join(", ", statuses.stream().map(s -> "?").toList()))
                    .append(")");
            statuses.forEach(s -> text.add(s.wireName()));
        }
        sql.append(" ORDER BY seq DESC LIMIT ?");
        if (fold != null) {
            fold.now(); // SQLite: a read of the ledger sees every settled call
        }
        return db.read(tx -> {
            PreparedStatement ps = tx.prepare(sql.toString());
            int i = 1;
            ps.setLong(i++, q.since().toEpochMilli());
            ps.setLong(i++, q.until().toEpochMilli());
            ps.setLong(i++, q.before());
            for (String t : text) {
                ps.setString(i++, t);
            }
            ps.setInt(i, q.limit() + 1);
            List<LedgerRow> rows = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    rows.add(readRow(rs));
                }
            }
            if (rows.size() > q.limit()) {
                rows.remove(rows.size() - 1);
                return new CallPage(rows, rows.get(rows.size() - 1).seq());
            }
            return new CallPage(rows, 0);
        });
    }

    private static void addFilter(StringBuilder sql, List<String> params, String column, String value) {
        if (!value.isEmpty()) {
            sql.append(" AND ").append(column).append(" = ?");
            params.add(value);
        }
    }

    private static LedgerRow readRow(ResultSet rs) throws SQLException {
        Call call = new Call(
                rs.getString("request_id"),
                Instant.ofEpochMilli(rs.getLong("started_at")),
                rs.getString("key_name"),
                rs.getString("team"),
                rs.getString("task_type"),
                rs.getString("tier"),
                rs.getString("requested_model"),
                rs.getString("routed_model"),
                rs.getString("run_id"),
                rs.getString("agent_id"),
                rs.getLong("max_tokens"));
        Usage usage = new Usage(
                rs.getLong("input_tokens"),
                rs.getLong("output_tokens"),
                rs.getLong("cache_write_5m_tokens"),
                rs.getLong("cache_write_1h_tokens"),
                rs.getLong("cache_read_tokens"),
                rs.getLong("web_search_requests"));
        long latency = rs.getLong("latency_ms");
        long latencyMs = rs.wasNull() ? -1 : latency;
        long ttft = rs.getLong("ttft_ms");
        long ttftMs = rs.wasNull() ? -1 : ttft;
        Outcome outcome = new Outcome(
                CallStatus.fromWireName(rs.getString("status")),
                rs.getString("served_model"),
                usage,
                Money.ofNanos(rs.getLong("cost_nanos")),
                latencyMs,
                ttftMs,
                rs.getString("stop_reason"),
                rs.getString("error_type"));
        return new LedgerRow(
                rs.getLong("seq"),
                call,
                outcome,
                Instant.ofEpochMilli(rs.getLong("recorded_at")),
                rs.getString("reservation_id"));
    }

    @Override
    public Optional<LedgerRow> call(String requestId) {
        if (fold != null) {
            fold.now(); // SQLite: a read of the ledger sees every settled call
        }
        return db.read(tx -> {
            PreparedStatement ps = tx.prepare("SELECT " + LEDGER_COLUMNS + " FROM ledger WHERE request_id = ?");
            ps.setString(1, requestId);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(readRow(rs)) : Optional.empty();
            }
        });
    }

    @Override
    public void recordEvidence(ShadowEvidence e) {
        db.write(tx -> {
            PreparedStatement ps = tx.prepare(INSERT_EVIDENCE);
            int i = 1;
            ps.setString(i++, e.requestId());
            ps.setLong(i++, e.recordedAt().toEpochMilli());
            ps.setString(i++, e.taskType());
            ps.setString(i++, e.source().wireName());
            for (ShadowEvidence.Side side : List.of(e.served(), e.candidate())) {
                ps.setString(i++, side.model());
                ps.setDouble(i++, side.score());
                ps.setLong(i++, side.inputTokens());
                ps.setLong(i++, side.outputTokens());
                ps.setLong(i++, side.cost().nanos());
            }
            ps.setLong(i, e.judgeCost().nanos());
            return ps.executeUpdate();
        });
    }

    @Override
    public List<ShadowEvidence> evidence(Instant since) {
        return db.read(tx -> {
            PreparedStatement ps = tx.prepare(
                    "SELECT " + EVIDENCE_COLUMNS + " FROM shadow_evidence WHERE recorded_at >= ? ORDER BY seq");
            ps.setLong(1, since.toEpochMilli());
            List<ShadowEvidence> out = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(new ShadowEvidence(
                            rs.getString("request_id"),
                            Instant.ofEpochMilli(rs.getLong("recorded_at")),
                            rs.getString("task_type"),
                            ShadowEvidence.Source.fromWireName(rs.getString("source")),
                            side(rs, "served_"),
                            side(rs, "candidate_"),
                            Money.ofNanos(rs.getLong("judge_cost_nanos"))));
                }
            }
            return out;
        });
    }

    private static ShadowEvidence.Side side(ResultSet rs, String prefix) throws SQLException {
        return new ShadowEvidence.Side(
                rs.getString(prefix + "model"),
                rs.getDouble(prefix + "score"),
                rs.getLong(prefix + "input_tokens"),
                rs.getLong(prefix + "output_tokens"),
                Money.ofNanos(rs.getLong(prefix + "cost_nanos")));
    }

    @Override
    public List<LedgerEvent> events(Instant since) {
        return db.read(tx -> {
            PreparedStatement ps = tx.prepare("SELECT seq, at, kind, budget, subject, window_start, request_id,"
                    + " amount_nanos, detail FROM ledger_event WHERE at >= ? ORDER BY seq");
            ps.setLong(1, since.toEpochMilli());
            List<LedgerEvent> out = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(new LedgerEvent(
                            rs.getLong(1),
                            Instant.ofEpochMilli(rs.getLong(2)),
                            LedgerEvent.Kind.valueOf(rs.getString(3).toUpperCase(Locale.ROOT)),
                            rs.getString(4),
                            rs.getString(5),
                            Instant.ofEpochMilli(rs.getLong(6)),
                            rs.getString(7),
                            Money.ofNanos(rs.getLong(8)),
                            rs.getString(9)));
                }
            }
            return out;
        });
    }

    @Override
    public void close() {
        if (fold != null) {
            fold.close();
        }
        db.close();
    }

    @Override
    public String toString() {
        return "Ledger[" + db.dialect().name().toLowerCase(Locale.ROOT) + ", instance " + instanceId + "]";
    }
}
