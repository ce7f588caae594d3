package dev.tiergate.budget;

import dev.tiergate.pricing.Money;

/**
 * Where one budget window stands.
 *
 * @param budget the window
 * @param limit the limit in force (for a run budget set on first use, the one the run started with)
 * @param spent settled spend in the window, exact
 * @param reserved worst cases of calls in flight
 */
public record BudgetStatus(AppliedBudget budget, Money limit, Money spent, Money reserved) {

    /** Limit minus spent minus reserved; negative when a soft budget is over, or a cost exceeded its estimate. */
    public Money remaining() {
        return limit.minus(spent).minus(reserved);
    }

    /** Whether settled spend has reached the limit (what turns soft-budget demotion on). */
    public boolean isSpent() {
        return spent.compareTo(limit) >= 0;
    }
}
