package dev.tiergate.ledger;

import dev.tiergate.pricing.Money;
import java.time.Instant;

/**
 * Something about budgets worth an alert or an audit line, written in the same transaction as the spend it is
 * about.
 *
 * @param seq position in the event log, increasing; 0 in events returned by settle and recovery (not read back)
 * @param at when it happened
 * @param kind what happened
 * @param budget the budget concerned; empty if none
 * @param subject the budget's subject (run id) if any
 * @param windowStart the budget window's start; {@link Instant#EPOCH} if none
 * @param requestId the call concerned
 * @param amount the amount concerned (see {@link Kind})
 * @param detail a human-readable sentence
 */
public record LedgerEvent(
        long seq,
        Instant at,
        Kind kind,
        String budget,
        String subject,
        Instant windowStart,
        String requestId,
        Money amount,
        String detail) {

    /** Kinds of event. */
    public enum Kind {
        /** A soft budget's settled spend reached its limit with this call; amount: spent after the call. */
        SOFT_LIMIT_CROSSED,
        /** A call cost more than the worst case reserved for it; amount: the excess. */
        COST_ABOVE_RESERVATION,
        /**
         * A call settled after lease recovery had already charged its worst case; amount: the exact cost, to
         * reconcile by hand. Budgets keep the worst case (never under-count).
         */
        SETTLED_AFTER_RECOVERY,
        /**
         * A call's reservation grew before it tried again after an attempt the upstream may have billed (sent, never
         * answered), which its settlement charges; amount: what was added.
         */
        RESERVATION_ENLARGED
    }
}
