package dev.tiergate.ledger;

import java.util.Locale;

/** How a call ended, as recorded in the ledger. */
public enum CallStatus {
    /** The upstream answered. */
    OK,
    /** The upstream failed (error status, broken stream, timeout). */
    UPSTREAM_ERROR,
    /** The caller went away; settled with whatever usage was seen. */
    CLIENT_CANCELLED,
    /** In flight when its gateway instance died; charged at its worst case by lease recovery. */
    INTERRUPTED,
    /** A hard budget would have been exceeded; never sent upstream. */
    DENIED;

    /** The stored and displayed form: {@code ok}, {@code upstream_error}, ... */
    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Reads {@link #wireName()}. */
    public static CallStatus fromWireName(String name) {
        return valueOf(name.toUpperCase(Locale.ROOT));
    }
}
