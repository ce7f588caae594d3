package dev.tiergate.gateway;

/**
 * A credential that must never reach a log, a ledger row or a response: {@link #toString()} hides it.
 * Only {@link #reveal()} gives the value, at the one place it is sent upstream.
 */
public final class Secret {
    private final String value;

    private Secret(String value) {
        this.value = value;
    }

    /** Wraps {@code value}. */
    public static Secret of(String value) {
        return new Secret(value);
    }

    /** The credential itself; call only where it goes on the wire. */
    public String reveal() {
        return value;
    }

    /** Whether no credential was given. */
    public boolean isEmpty() {
        return value.isEmpty();
    }

    @Override
    public String toString() {
        return value.isEmpty() ? "<none>" : "<secret>";
    }
}
