package dev.tiergate.gateway;

import dev.tiergate.budget.Admission;
import dev.tiergate.budget.AppliedBudget;
import dev.tiergate.budget.BudgetRules;
import dev.tiergate.budget.CallAttributes;
import dev.tiergate.budget.Mode;
import dev.tiergate.budget.ReservationId;
import dev.tiergate.ledger.Call;
import dev.tiergate.ledger.LeaseKeeper;
import dev.tiergate.ledger.Ledger;
import dev.tiergate.ledger.LedgerEvent;
import dev.tiergate.ledger.Outcome;
import dev.tiergate.ledger.Recovery;
import dev.tiergate.ledger.Settlement;
import dev.tiergate.policy.Priority;
import dev.tiergate.pricing.Money;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.locks.LockSupport;

/**
 * Budgets and the ledger for one gateway: reserve the worst case before a call (atomically against every
 * budget that applies), settle the exact cost after, release what was never sent, keep leases of in-flight
 * calls alive, and recover the reservations of crashed instances. Thread-safe.
 */
final class Accounting implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("tiergate.budget");

    private final BudgetRules rules;
    private final Ledger ledger;
    private final LeaseKeeper keeper;
    private final Clock clock;
    private final Thread ticker;
    private final boolean anySoftDemotion;
    private volatile boolean closed;

    Accounting(BudgetRules rules, Ledger ledger, Clock clock, Duration lease) {
        this.rules = rules;
        this.ledger = ledger;
        this.clock = clock;
        this.keeper = new LeaseKeeper(ledger, clock, lease);
        this.anySoftDemotion = rules.budgets().stream()
                .anyMatch(b ->
                        b.mode() instanceof Mode.Soft s && !s.demoteToTier().isEmpty());
        // Recover what a crashed instance left before serving anything: spend must never be under-counted.
        log(ledger.recoverExpired(clock.instant()));
        long periodNanos = Math.max(lease.toNanos() / 3, Duration.ofMillis(100).toNanos());
        this.ticker = Thread.ofVirtual().name("tiergate-lease-keeper").start(() -> {
            while (!closed) {
                LockSupport.parkNanos(periodNanos);
                if (closed) {
                    return;
                }
                try {
                    log(keeper.tick());
                } catch (RuntimeException e) {
                    LOG.log(System.Logger.Level.ERROR, "lease renewal failed; will retry", e);
                }
            }
        });
    }

    Ledger ledger() {
        return ledger;
    }

    /** The budget windows a call counts against, right now. */
    List<AppliedBudget> windows(CallAttributes attributes) {
        return rules.applicable(attributes, clock.instant());
    }

    /** The tier a soft budget demotes a call of this priority to, if any budget says so now. */
    Optional<String> demotion(Priority priority, List<AppliedBudget> windows) {
        if (!anySoftDemotion || windows.isEmpty()) {
            return Optional.empty();
        }
        return rules.demotion(priority, ledger.status(windows));
    }

    /** Reserves {@code worstCase} against every window at once, or says which budget refuses. */
    Admission reserve(Call call, List<AppliedBudget> windows, Money worstCase) {
        Admission a = ledger.reserve(call, windows, worstCase, keeper.leaseExpiry());
        if (a instanceof Admission.Admitted admitted) {
            keeper.track(admitted.reservation());
        }
        return a;
    }

    /** Settles a call that went upstream at its exact cost and writes its ledger row. */
    void settle(ReservationId reservation, Outcome outcome) {
        try {
            log(ledger.settle(reservation, outcome));
        } finally {
            keeper.untrack(reservation);
        }
    }

    /** Releases a reservation whose call never reached the upstream (it costs nothing). */
    void release(ReservationId reservation, Outcome outcome) {
        try {
            log(ledger.release(reservation, outcome));
        } finally {
            keeper.untrack(reservation);
        }
    }

    private static void log(Settlement s) {
        switch (s) {
            case Settlement.Settled settled -> settled.events().forEach(Accounting::log);
            case Settlement.AlreadyRecovered r -> log(r.event());
        }
    }

    private static void log(Recovery r) {
        r.events().forEach(Accounting::log);
    }

    private static void log(LedgerEvent e) {
        LOG.log(System.Logger.Level.WARNING, "{0}", e);
    }

    @Override
    public void close() {
        closed = true;
        LockSupport.unpark(ticker);
        ledger.close();
    }
}
