package dev.tiergate.ledger;

import dev.tiergate.budget.Admission;
import dev.tiergate.budget.AppliedBudget;
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
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.UUID;
import org.jspecify.annotations.Nullable;

/** The one {@link Ledger} implementation; SQL differences live in {@link Dialect}, connections in {@link Database}. */
final class JdbcLedger implements Ledger {
    /** Error type of the ledger row of a denied call. */
    static final String BUDGET_EXHAUSTED = "budget_exhausted";
    /** Error type of the ledger row of a call recovered after its lease expired. */
    static final String LEASE_EXPIRED = "lease_expired";

    // Creates the window on first use and, in the same statement, locks its row and reads it. A config limit
    // replaces the stored one unless either side is a run cap fixed by the run's first call.
    private static final String UPSERT_WINDOW = """
            INSERT INTO budget_window (budget, subject, window_start, window_end, window_kind, limit_nanos, hard,
                                       limit_fixed, spent_nanos, reserved_nanos)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0)
            ON CONFLICT (budget, subject, window_start) DO UPDATE SET
              limit_nanos = CASE WHEN budget_window.limit_fixed = 1 OR excluded.limit_fixed = 1
                                 THEN budget_window.limit_nanos ELSE excluded.limit_nanos END,
              hard = excluded.hard
            RETURNING limit_nanos, spent_nanos, reserved_nanos""";
    // One statement for all of a call's windows: the upserts above already hold their row locks (PostgreSQL),
    // so this touches no row it has not locked in order. Statement count is what a SQLite write costs.
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
    private static final String INSERT_RESERVATION_BUDGET =
            "INSERT INTO reservation_budget (reservation_id, budget, subject, window_start) VALUES %s";
    private static final String RESERVATION_COLUMNS = "request_id, amount_nanos, started_at, key_name, team, task_type,"
            + " tier, requested_model, routed_model, run_id, agent_id, max_tokens";
    private static final String TAKE_RESERVATION =
            "DELETE FROM reservation WHERE id = ? RETURNING " + RESERVATION_COLUMNS;
    private static final String TAKE_EXPIRED_RESERVATION =
            "DELETE FROM reservation WHERE id = ? AND lease_expires_at < ? RETURNING " + RESERVATION_COLUMNS;
    private static final String TAKE_RESERVATION_WINDOWS =
            "DELETE FROM reservation_budget WHERE reservation_id = ? RETURNING budget, subject, window_start";
    private static final String INSERT_LEDGER = """
            INSERT INTO ledger (request_id, reservation_id, started_at, recorded_at, key_name, team, task_type, tier,
                                requested_model, routed_model, served_model, run_id, agent_id, input_tokens,
                                cache_write_5m_tokens, cache_write_1h_tokens, cache_read_tokens, output_tokens,
                                web_search_requests, cost_nanos, latency_ms, ttft_ms, stop_reason, max_tokens, hit_cap,
                                status, error_type)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""";
    private static final String LEDGER_COLUMNS = "seq, request_id, reservation_id, started_at, recorded_at, key_name,"
            + " team, task_type, tier, requested_model, routed_model, served_model, run_id, agent_id, input_tokens,"
            + " cache_write_5m_tokens, cache_write_1h_tokens, cache_read_tokens, output_tokens, web_search_requests,"
            + " cost_nanos, latency_ms, ttft_ms, stop_reason, max_tokens, hit_cap, status, error_type";
    private static final String INSERT_EVENT = """
            INSERT INTO ledger_event (at, kind, budget, subject, window_start, request_id, amount_nanos, detail)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)""";
    private static final String EVIDENCE_COLUMNS = "request_id, recorded_at, task_type, source, served_model,"
            + " served_score, served_input_tokens, served_output_tokens, served_cost_nanos, candidate_model,"
            + " candidate_score, candidate_input_tokens, candidate_output_tokens, candidate_cost_nanos, judge_cost_nanos";
    private static final String INSERT_EVIDENCE = "INSERT INTO shadow_evidence (" + EVIDENCE_COLUMNS
            + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    private static final String WINDOW_COLUMNS = "budget, subject, window_start, window_end, window_kind, limit_nanos,"
            + " hard, limit_fixed, spent_nanos, reserved_nanos";

    private final Database db;
    private final String instanceId;
    private final Clock clock;

    JdbcLedger(Database db, String instanceId, Clock clock) {
        if (instanceId.isBlank()) {
            db.close();
            throw new IllegalArgumentException("a ledger needs an instance id (the owner of its leases)");
        }
        this.db = db;
        this.instanceId = instanceId;
        this.clock = clock;
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
        return db.write(tx -> {
            for (AppliedBudget b : ordered) {
                PreparedStatement ps = tx.prepare(UPSERT_WINDOW);
                ps.setString(1, b.budget());
                ps.setString(2, b.subject());
                ps.setLong(3, b.windowStart().toEpochMilli());
                ps.setLong(4, b.windowEnd().toEpochMilli());
                ps.setString(5, b.window().configName());
                ps.setLong(6, b.limit().nanos());
                ps.setInt(7, b.hard() ? 1 : 0);
                ps.setInt(8, b.limitSetOnFirstUse() ? 1 : 0);
                Money limit;
                Money spent;
                Money reserved;
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    limit = Money.ofNanos(rs.getLong(1));
                    spent = Money.ofNanos(rs.getLong(2));
                    reserved = Money.ofNanos(rs.getLong(3));
                }
                if (b.hard() && spent.plus(reserved).plus(worstCase).isGreaterThan(limit)) {
                    // The windows created or re-limited so far are kept: they reflect the config, not this call.
                    insertLedgerRow(
                            tx,
                            call,
                            new Outcome(
                                    CallStatus.DENIED,
                                    call.routedModel(),
                                    Usage.ZERO,
                                    Money.ZERO,
                                    -1,
                                    -1,
                                    "",
                                    BUDGET_EXHAUSTED),
                            "");
                    return new Admission.Denied(b, limit, spent, reserved, worstCase);
                }
            }
            String id = UUID.randomUUID().toString();
            if (!ordered.isEmpty()) {
                int n = ordered.size();
                PreparedStatement add = tx.prepare(ADD_RESERVED.formatted(repeat("(?, ?, ?)", n)));
                PreparedStatement rb = tx.prepare(INSERT_RESERVATION_BUDGET.formatted(repeat("(?, ?, ?, ?)", n)));
                add.setLong(1, worstCase.nanos());
                for (int i = 0; i < n; i++) {
                    AppliedBudget b = ordered.get(i);
                    long start = b.windowStart().toEpochMilli();
                    setWindowKey(add, 2 + 3 * i, b.budget(), b.subject(), start);
                    rb.setString(1 + 4 * i, id);
                    setWindowKey(rb, 2 + 4 * i, b.budget(), b.subject(), start);
                }
                add.executeUpdate();
                rb.executeUpdate();
            }
            PreparedStatement ps = tx.prepare(INSERT_RESERVATION);
            ps.setString(1, id);
            ps.setString(2, call.requestId());
            ps.setString(3, instanceId);
            ps.setLong(4, worstCase.nanos());
            ps.setLong(5, clock.millis());
            ps.setLong(6, leaseExpiry.toEpochMilli());
            ps.setLong(7, call.startedAt().toEpochMilli());
            ps.setString(8, call.keyName());
            ps.setString(9, call.team());
            ps.setString(10, call.taskType());
            ps.setString(11, call.tier());
            ps.setString(12, call.requestedModel());
            ps.setString(13, call.routedModel());
            ps.setString(14, call.runId());
            ps.setString(15, call.agentId());
            ps.setLong(16, call.maxTokens());
            ps.executeUpdate();
            return new Admission.Admitted(new ReservationId(id));
        });
    }

    @Override
    public Settlement settle(ReservationId reservation, Outcome outcome) {
        if (outcome.status() == CallStatus.DENIED || outcome.status() == CallStatus.INTERRUPTED) {
            throw new IllegalArgumentException("a call is settled as ok, upstream_error or client_cancelled, not "
                    + outcome.status().wireName() + " (the ledger writes those itself)");
        }
        return db.write(tx -> {
            Taken taken = take(tx, TAKE_RESERVATION, reservation, null);
            if (taken == null) {
                return alreadyRecovered(tx, reservation, outcome);
            }
            List<LedgerEvent> events = charge(tx, reservation, taken, outcome.cost());
            insertLedgerRow(tx, taken.call(), outcome, reservation.value());
            return new Settlement.Settled(events);
        });
    }

    @Override
    public Settlement release(ReservationId reservation, Outcome outcome) {
        if (outcome.cost().nanos() != 0) {
            throw new IllegalArgumentException("release is for calls that never reached the upstream and cost"
                    + " nothing; settle " + reservation + " instead (cost " + outcome.cost() + ")");
        }
        return settle(reservation, outcome);
    }

    private Settlement alreadyRecovered(Database.Tx tx, ReservationId reservation, Outcome outcome)
            throws SQLException {
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
            PreparedStatement ps =
                    tx.prepare("SELECT id FROM reservation WHERE lease_expires_at < ? ORDER BY lease_expires_at, id");
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
                Taken t = take(tx, TAKE_EXPIRED_RESERVATION, reservation, nowMs);
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
                Taken t = recovered.get().taken();
                requestIds.add(t.call().requestId());
                charged = charged.plus(t.amount());
                events.addAll(recovered.get().events());
            }
        }
        return new Recovery(requestIds, charged, events);
    }

    /** A reservation removed from the open set, with what it held. */
    private record Taken(Call call, Money amount) {}

    /** A reservation recovered after its lease expired, and the events its charge raised. */
    private record Recovered(Taken taken, List<LedgerEvent> events) {}

    private @Nullable Taken take(Database.Tx tx, String sql, ReservationId reservation, @Nullable Long expiredBefore)
            throws SQLException {
        PreparedStatement ps = tx.prepare(sql);
        ps.setString(1, reservation.value());
        if (expiredBefore != null) {
            ps.setLong(2, expiredBefore);
        }
        try (ResultSet rs = ps.executeQuery()) {
            if (!rs.next()) {
                return null;
            }
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
            return new Taken(call, Money.ofNanos(rs.getLong(2)));
        }
    }

    /** A budget window's primary key. */
    private record WindowKey(String budget, String subject, long windowStart) {
        // the same order as AppliedBudget.ORDER, so settling locks windows in the order reserving does
        static final Comparator<WindowKey> ORDER = Comparator.comparing(WindowKey::budget)
                .thenComparing(WindowKey::subject)
                .thenComparingLong(WindowKey::windowStart);
    }

    /** Moves {@code taken}'s reservation to spent as {@code cost} in each of its windows. */
    private List<LedgerEvent> charge(Database.Tx tx, ReservationId reservation, Taken taken, Money cost)
            throws SQLException {
        PreparedStatement ps = tx.prepare(TAKE_RESERVATION_WINDOWS);
        ps.setString(1, reservation.value());
        List<WindowKey> windows = new ArrayList<>();
        try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                windows.add(new WindowKey(rs.getString(1), rs.getString(2), rs.getLong(3)));
            }
        }
        windows.sort(WindowKey.ORDER);
        List<LedgerEvent> events = new ArrayList<>();
        for (WindowKey w : windows) {
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
            long spentBefore = spentAfter - cost.nanos();
            if (!hard && spentBefore < limit && spentAfter >= limit) {
                events.add(insertEvent(
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
        if (cost.isGreaterThan(taken.amount())) {
            events.add(insertEvent(
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
        return events;
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
        ps.setLong(i++, call.maxTokens());
        ps.setInt(i++, outcome.hitCap() ? 1 : 0);
        ps.setString(i++, outcome.status().wireName());
        ps.setString(i, outcome.errorType());
        ps.executeUpdate();
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
            PreparedStatement ps = tx.prepare("SELECT " + WINDOW_COLUMNS + " FROM budget_window WHERE window_end > ?");
            ps.setLong(1, now.toEpochMilli());
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
        return db.read(tx -> {
            List<BudgetStatus> out = new ArrayList<>();
            for (AppliedBudget b : budgets) {
                PreparedStatement ps = tx.prepare("SELECT limit_nanos, spent_nanos, reserved_nanos FROM budget_window"
                        + " WHERE budget = ? AND subject = ? AND window_start = ?");
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
        db.close();
    }

    @Override
    public String toString() {
        return "Ledger[" + db.dialect().name().toLowerCase(Locale.ROOT) + ", instance " + instanceId + "]";
    }
}
