package dev.tiergate.ledger;

import dev.tiergate.budget.AppliedBudget;
import java.util.Comparator;

/** A budget window's primary key. */
record WindowKey(String budget, String subject, long windowStart) {
    // the same order as AppliedBudget.ORDER, so settling locks windows in the order reserving does
    static final Comparator<WindowKey> ORDER = Comparator.comparing(WindowKey::budget)
            .thenComparing(WindowKey::subject)
            .thenComparingLong(WindowKey::windowStart);

    static WindowKey of(AppliedBudget b) {
        return new WindowKey(b.budget(), b.subject(), b.windowStart().toEpochMilli());
    }
}
