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
import dev.tiergate.ledger.LedgerException;
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
    private final GatewayMetrics metrics;
    private final LeaseKeeper keeper;
    private final Clock clock;
    private final Thread ticker;
    private final boolean anySoftDemotion;
    private volatile boolean closed;

    Accounting(BudgetRules rules, Ledger ledger, GatewayMetrics metrics, Clock clock, Duration lease) {
        this.rules = rules;
        this.ledger = ledger;
        this.metrics = metrics;
        this.clock = clock;
        this.keeper = new LeaseKeeper(ledger, clock, lease);
        this.anySoftDemotion = rules.budgets().stream()
                .anyMatch(b ->
                        b.mode() instanceof Mode.Soft s && !s.demoteToTier().isEmpty());
        rules.budgets().stream()
                .filter(b -> b.mode() instanceof Mode.Soft)
                .forEach(b -> metrics.softBudget(b.name(), b.window().configName()));
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

    /** Grows a call's reservation by {@code extra} on the same windows, or says which budget refuses. */
    Admission enlarge(ReservationId reservation, List<AppliedBudget> windows, Money extra, String reason) {
        return ledger.enlarge(reservation, windows, extra, reason);
    }

    /** Settles a call that went upstream at its exact cost and writes its ledger row. */
    void settle(ReservationId reservation, Outcome outcome) {
        finish(reservation, () -> ledger.settle(reservation, outcome));
    }

    /** Releases a reservation whose call never reached the upstream (it costs nothing). */
    void release(ReservationId reservation, Outcome outcome) {
        finish(reservation, () -> ledger.release(reservation, outcome));
    }

    /** Waits between attempts to settle after a database error: a blip (failover, a killed connection) passes. */
    static final List<Duration> SETTLE_RETRY_WAITS =
            List.of(Duration.ofMillis(50), Duration.ofMillis(250), Duration.ofSeconds(1));

    /**
     * Runs a settlement, retrying after a database error. Retrying is safe: the reservation is taken in the same
     * transaction as the charge, so a settlement that did commit before its error finds nothing left to take.
     * If every attempt fails, the reservation stays open and lease expiry recovers it at its worst case: the
     * budget is never under-counted, but the call's exact cost is lost from its row (logged here).
     */
    private void finish(ReservationId reservation, java.util.function.Supplier<Settlement> settlement) {
        try {
            for (int attempt = 0; ; attempt++) {
                try {
                    log(settlement.get());
                    return;
                } catch (LedgerException e) {
                    if (attempt == SETTLE_RETRY_WAITS.size()) {
                        LOG.log(
                                System.Logger.Level.ERROR,
                                "cannot settle " + reservation + " after " + (attempt + 1) + " attempts; its worst case"
                                        + " will be charged when its lease expires",
                                e);
                        throw e;
                    }
                    LOG.log(System.Logger.Level.WARNING, "settling " + reservation + " failed, retrying: {0}", e);
                    LockSupport.parkNanos(SETTLE_RETRY_WAITS.get(attempt).toNanos());
                }
            }
        } finally {
            keeper.untrack(reservation);
        }
    }

    /**
     * Waits until no admitted call is in flight, or {@code limit} has passed, so that a stopping gateway settles
     * what it started instead of leaving reservations to lease recovery.
     *
     * @return how many calls were still in flight when it gave up (0 if none)
     */
    int awaitIdle(Duration limit) {
        long deadline = System.nanoTime() + limit.toNanos();
        while (keeper.inFlight() > 0 && System.nanoTime() < deadline) {
            LockSupport.parkNanos(Duration.ofMillis(10).toNanos());
        }
        int left = keeper.inFlight();
        if (left > 0) {
            LOG.log(
                    System.Logger.Level.WARNING,
                    "{0} call(s) still in flight after {1} ms; their reservations will be charged at their worst case"
                            + " when their leases expire",
                    left,
                    limit.toMillis());
        }
        return left;
    }

    private void log(Settlement s) {
        switch (s) {
            case Settlement.Settled settled -> settled.events().forEach(this::log);
            case Settlement.AlreadyRecovered r -> log(r.event());
        }
    }

    private void log(Recovery r) {
        r.events().forEach(this::log);
    }

    /** Logs a ledger event and counts a soft-limit crossing: the alert is the log line, the metric and the event. */
    private void log(LedgerEvent e) {
        LOG.log(System.Logger.Level.WARNING, "{0}", e);
        if (e.kind() == LedgerEvent.Kind.SOFT_LIMIT_CROSSED) {
            // a budget no longer configured (a reservation recovered after a config change) has no window to name
            String window =
                    rules.find(e.budget()).map(b -> b.window().configName()).orElse("unknown");
            metrics.softLimitCrossed(e.budget(), window);
        }
    }

    @Override
    public void close() {
        closed = true;
        LockSupport.unpark(ticker);
        ledger.close();
    }
}
