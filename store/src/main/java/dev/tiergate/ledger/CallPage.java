package dev.tiergate.ledger;

import java.util.List;

/**
 * One page of calls, newest first.
 *
 * @param rows the calls
 * @param next the cursor for the next page ({@link CallQuery#before}); 0 when this is the last page
 */
public record CallPage(List<LedgerRow> rows, long next) {
    public CallPage {
        rows = List.copyOf(rows);
    }

    /** Whether there is a further page. */
    public boolean hasNext() {
        return next > 0;
    }
}
