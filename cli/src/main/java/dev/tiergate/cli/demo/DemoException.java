package dev.tiergate.cli.demo;

import dev.tiergate.RouterException;

/** The demo could not run to the end. */
public final class DemoException extends RouterException {
    private static final long serialVersionUID = 1L;

    DemoException(String message, Throwable cause) {
        super(message, cause);
    }

    DemoException(String message) {
        super(message);
    }
}
