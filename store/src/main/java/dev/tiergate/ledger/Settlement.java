package dev.tiergate.ledger;

import dev.tiergate.budget.ReservationId;
import java.util.List;

/** The outcome of settling or releasing a reservation. */
public sealed interface Settlement permits Settlement.Settled, Settlement.AlreadyRecovered {

    /**
     * The reservation was released, the cost added to every budget window, the ledger row written.
     *
     * @param events alerts raised in the same transaction (soft limits crossed, cost above the reservation); log
     *     them and count them in metrics
     */
    record Settled(List<LedgerEvent> events) implements Settlement {
        public Settled {
            events = List.copyOf(events);
        }
    }

    /**
     * The lease had expired and recovery had already charged the worst case and written an {@code interrupted}
     * row; a {@link LedgerEvent.Kind#SETTLED_AFTER_RECOVERY} event holds the exact cost. Budgets are not touched
     * again.
     */
    record AlreadyRecovered(ReservationId reservation, LedgerEvent event) implements Settlement {}
}
