package dev.tiergate.ledger;

import dev.tiergate.RouterException;

/** The ledger's database failed or holds something it cannot read; never an expected outcome such as a denial. */
public final class LedgerException extends RouterException {
    private static final long serialVersionUID = 1L;

    public LedgerException(String message) {
        super(message);
    }

    public LedgerException(String message, Throwable cause) {
        super(message, cause);
    }
}
