package dev.tiergate.ledger;

import java.time.Instant;

/**
 * One call in the ledger.
 *
 * @param seq position in the ledger, increasing; the paging cursor
 * @param call the call as admitted
 * @param outcome how it ended
 * @param recordedAt when the row was written
 * @param reservationId the reservation it settled; empty for denied calls
 */
public record LedgerRow(long seq, Call call, Outcome outcome, Instant recordedAt, String reservationId) {}
