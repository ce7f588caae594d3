package dev.tiergate.ledger;

import dev.tiergate.budget.Admission;
import dev.tiergate.budget.AppliedBudget;
import dev.tiergate.budget.BudgetStatus;
import dev.tiergate.budget.ReservationId;
import dev.tiergate.pricing.Money;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Optional;

/**
 * The spend ledger and the budget windows' state, shared by every gateway instance that uses the same database.
 *
 * <p>One call goes: {@link #reserve} its worst case against every applicable budget window (all or none); on
 * {@link Admission.Admitted}, send it upstream, {@link #renew} its lease while it runs, then {@link #settle} it
 * with the exact cost (or {@link #release} it if it never went upstream). A periodic {@link #recoverExpired}
 * charges the worst case of calls whose instance died. Each of these is one database transaction.
 *
 * <p>Invariant: for every hard budget window, spent + reserved never exceeds the limit as long as every settled
 * cost is at most its reservation, under any concurrency and across instances sharing one PostgreSQL.
 *
 * <p>Thread-safe. Calls block on the database; call them from virtual threads.
 */
public interface Ledger extends AutoCloseable {

    /**
     * Opens (creating and migrating if needed) a SQLite ledger in one file, written through one connection.
     *
     * @param instanceId this gateway instance, the owner of its reservations' leases
     * @param clock the source of the times recorded
     */
    static Ledger sqlite(Path file, String instanceId, Clock clock) {
        return new JdbcLedger(SqliteDatabase.open(file), instanceId, clock);
    }

    /** Opens (creating the schema and migrating if needed) a PostgreSQL ledger with its own connection pool. */
    static Ledger postgres(PostgresSettings settings, String instanceId, Clock clock) {
        return new JdbcLedger(PostgresDatabase.open(settings), instanceId, clock);
    }

    /**
     * Reserves {@code worstCase} against every window in {@code budgets} in one transaction, or nothing.
     *
     * <p>Denied if, for any hard window, spent + reserved + worstCase would exceed its limit; the denial names
     * the first such window in {@link AppliedBudget#ORDER}, and a {@code denied} row is written. Windows are
     * created on first use. A config limit replaces a stored config limit; a requested run cap ({@link
     * AppliedBudget#requestedCap}) replaces a config limit or a higher requested cap, and nothing else replaces it:
     * a run's cap only goes down, and its window holds every call of the run, those before the cap included.
     *
     * @param call the call, kept with the reservation so it can be recorded even if this instance dies
     * @param budgets windows from {@link dev.tiergate.budget.BudgetRules#applicable}; may be empty
     * @param worstCase the most the call can cost (input at full price plus {@code max_tokens} of output)
     * @param leaseExpiry after this, {@link #recoverExpired} may charge the reservation unless {@link #renew}ed
     */
    Admission reserve(Call call, List<AppliedBudget> budgets, Money worstCase, Instant leaseExpiry);

    /**
     * Adds {@code extra} to an open reservation, on every window it holds, or nothing. For a call that tries again
     * after an attempt the upstream may have billed (sent, never answered): its settlement will charge that attempt
     * too, so the next attempt's worst case must still be reserved. Denied as {@link #reserve} is, by the first hard
     * window that cannot take {@code extra} on top of its spent and reserved (this reservation included), leaving
     * the reservation as it was and writing no row; admitted, a {@link LedgerEvent.Kind#RESERVATION_ENLARGED} event
     * says why ({@code reason}). Lease recovery charges the enlarged amount.
     *
     * @param budgets the windows the reservation was made against, as given to {@link #reserve}
     * @throws LedgerException if the reservation is no longer open (settled, or recovered after its lease expired)
     */
    Admission enlarge(ReservationId reservation, List<AppliedBudget> budgets, Money extra, String reason);

    /**
     * Releases the reservation, adds {@code outcome.cost()} to each of its windows' spend and writes the ledger
     * row, in one transaction.
     */
    Settlement settle(ReservationId reservation, Outcome outcome);

    /**
     * Settles a call that never reached the upstream (found invalid after admission, upstream unreachable): its
     * outcome must cost nothing. The ledger row is still written.
     */
    Settlement release(ReservationId reservation, Outcome outcome);

    /**
     * Extends the leases of this instance's reservations among {@code reservations} to {@code leaseExpiry}.
     *
     * @return how many were renewed; fewer than asked means some were already recovered (or settled)
     */
    int renew(Collection<ReservationId> reservations, Instant leaseExpiry);

    /**
     * Charges every reservation whose lease expired before {@code now} at its worst case, writes an {@code
     * interrupted} ledger row for it and removes it; one transaction per reservation. Safe to run on every
     * instance at once: each reservation is recovered once.
     */
    Recovery recoverExpired(Instant now);

    /**
     * Every budget window whose period has not ended at {@code now}, in {@link AppliedBudget#ORDER}; except the
     * {@link dev.tiergate.budget.BudgetRules#REQUESTED_RUN_BUDGET} windows of runs that no call requested a cap
     * for (they only hold the run's spend until one does).
     */
    List<BudgetStatus> budgetStatus(Instant now);

    /** The status of each of {@code budgets}; zero spent and reserved for windows not used yet. */
    List<BudgetStatus> status(List<AppliedBudget> budgets);

    /** Spend of calls started at or after {@code since}, grouped, largest cost first. */
    List<SpendGroup> spend(GroupBy by, Instant since);

    /** One page of the calls listing. */
    CallPage calls(CallQuery query);

    /** The ledger row of the call with this request id, if there is one. */
    Optional<LedgerRow> call(String requestId);

    /** Appends one piece of shadow-evaluation or feedback evidence. */
    void recordEvidence(ShadowEvidence evidence);

    /** Evidence recorded at or after {@code since}, oldest first. */
    List<ShadowEvidence> evidence(Instant since);

    /** Budget events at or after {@code since}, oldest first. */
    List<LedgerEvent> events(Instant since);

    /**
     * How this instance's ledger writes have been committed so far (group-commit batches, and writes run on
     * their caller's thread); for metrics.
     */
    WriteStats writeStats();

    /** Closes the database connections. */
    @Override
    void close();
}
