package dev.tiergate.budget;

import dev.tiergate.pricing.Money;
import java.time.Instant;
import java.util.Comparator;

/**
 * One budget window that a call counts against: the unit the store locks, reserves against and charges.
 *
 * <p>Its identity is ({@code budget}, {@code subject}, {@code windowStart}); {@link #ORDER} is the order in which
 * stores lock windows, so that concurrent transactions never deadlock.
 *
 * @param budget the budget's name
 * @param subject which instance of the budget: the run id for a per-run budget, otherwise empty
 * @param window the window kind
 * @param windowStart start of the window (inclusive)
 * @param windowEnd end of the window (exclusive); {@link Window#NEVER} for totals
 * @param limit the limit for this window
 * @param hard whether calls are denied at the limit
 * @param requestedCap whether the limit is a run cap a caller requested ({@code x-tiergate-run-budget-usd}): the
 *     store then keeps the lowest cap requested for the window, and a config limit no longer replaces it
 */
public record AppliedBudget(
        String budget,
        String subject,
        Window window,
        Instant windowStart,
        Instant windowEnd,
        Money limit,
        boolean hard,
        boolean requestedCap) {

    /** Lock order: by budget name, subject, then window start. */
    public static final Comparator<AppliedBudget> ORDER = Comparator.comparing(AppliedBudget::budget)
            .thenComparing(AppliedBudget::subject)
            .thenComparing(AppliedBudget::windowStart);

    public AppliedBudget {
        if (!windowEnd.isAfter(windowStart)) {
            throw new IllegalArgumentException(
                    "budget '" + budget + "' window must end after it starts: " + windowStart + " .. " + windowEnd);
        }
        if (limit.nanos() <= 0) {
            throw new IllegalArgumentException("budget '" + budget + "' limit must be positive, got " + limit);
        }
    }

    /** For messages: {@code budget 'team-a' daily}, or {@code budget 'runs' for run 'r-17' total}. */
    public String describe() {
        return "budget '" + budget + "'" + (subject.isEmpty() ? "" : " for run '" + subject + "'") + " "
                + window.adjective();
    }

    /** Whether {@code other} is the same window of the same budget (limits may differ). */
    public boolean sameWindow(AppliedBudget other) {
        return budget.equals(other.budget) && subject.equals(other.subject) && windowStart.equals(other.windowStart);
    }
}
