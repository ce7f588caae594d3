package dev.tiergate.budget;

import dev.tiergate.pricing.Money;

/** The outcome of reserving a call's worst case against every budget that applies: all of them, or none. */
public sealed interface Admission permits Admission.Admitted, Admission.Denied {

    /**
     * The worst case is reserved against every applicable budget; settle or release {@code reservation}.
     *
     * @param reservation what to settle, release or renew
     */
    record Admitted(ReservationId reservation) implements Admission {}

    /**
     * A hard budget would be exceeded; nothing was reserved anywhere and nothing may be sent upstream.
     *
     * @param budget the first budget (in lock order) that would be exceeded
     * @param limit its limit in force
     * @param spent its settled spend
     * @param reserved its open reservations, this call's excluded
     * @param estimate this call's worst case
     */
    record Denied(AppliedBudget budget, Money limit, Money spent, Money reserved, Money estimate) implements Admission {

        /**
         * {@code budget 'team-a' daily limit 4.500000000 USD: spent 4.200000000 + reserved 0.100000000 + this call's
         * estimate 0.350000000 would exceed it}.
         */
        public String message() {
            return budget.describe() + " limit " + limit + ": spent " + spent.toUsdString() + " + reserved "
                    + reserved.toUsdString() + " + this call's estimate " + estimate.toUsdString()
                    + " would exceed it";
        }
    }
}
