package dev.tiergate.ledger;

import dev.tiergate.budget.ReservationId;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Keeps the leases of one instance's in-flight calls alive, and recovers the expired ones of any instance.
 *
 * <p>Use: reserve with {@link #leaseExpiry()}, {@link #track} the reservation while the call is in flight and
 * {@link #untrack} it after settling; call {@link #tick()} every {@code lease / 3} or so from one scheduled
 * thread. Thread-safe.
 */
public final class LeaseKeeper {
    private final Ledger ledger;
    private final Clock clock;
    private final Duration lease;
    private final Set<ReservationId> inFlight = ConcurrentHashMap.newKeySet();

    /**
     * @param lease how long a reservation survives without renewal; longer than the tick interval plus any pause
     *     the JVM may take, or live calls get charged at their worst case
     */
    public LeaseKeeper(Ledger ledger, Clock clock, Duration lease) {
        if (lease.isNegative() || lease.isZero()) {
            throw new IllegalArgumentException("lease must be positive, got " + lease);
        }
        this.ledger = ledger;
        this.clock = clock;
        this.lease = lease;
    }

    /** The lease expiry for a reservation made now. */
    public Instant leaseExpiry() {
        return clock.instant().plus(lease);
    }

    /** Renews {@code reservation} on every tick until {@link #untrack}ed. */
    public void track(ReservationId reservation) {
        inFlight.add(reservation);
    }

    /** Stops renewing {@code reservation} (after it was settled or released). */
    public void untrack(ReservationId reservation) {
        inFlight.remove(reservation);
    }

    /** The reservations being renewed. */
    public int inFlight() {
        return inFlight.size();
    }

    /**
     * Renews every tracked lease, then recovers every expired reservation in the database.
     *
     * @return what recovery charged; log and count its request ids as interrupted calls
     */
    public Recovery tick() {
        List<ReservationId> ids = List.copyOf(inFlight);
        ledger.renew(ids, leaseExpiry());
        return ledger.recoverExpired(clock.instant());
    }
}
