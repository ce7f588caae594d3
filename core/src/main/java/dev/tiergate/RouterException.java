package dev.tiergate;

/** Base of Tiergate's unchecked exceptions; each module has a small family under it. */
public abstract class RouterException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    protected RouterException(String message) {
        super(message);
    }

    protected RouterException(String message, Throwable cause) {
        super(message, cause);
    }
}
