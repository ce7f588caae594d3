package dev.tiergate.ledger;

import dev.tiergate.pricing.Money;
import java.util.List;

/**
 * What {@link Ledger#recoverExpired} did.
 *
 * @param requestIds the calls recorded as {@code interrupted}
 * @param charged the worst cases charged for them, in total
 * @param events alerts raised (soft limits crossed by the charges)
 */
public record Recovery(List<String> requestIds, Money charged, List<LedgerEvent> events) {
    public Recovery {
        requestIds = List.copyOf(requestIds);
        events = List.copyOf(events);
    }
}
