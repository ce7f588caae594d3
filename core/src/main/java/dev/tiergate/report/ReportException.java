package dev.tiergate.report;

import dev.tiergate.RouterException;

/** A report cannot be built from what it was given; the message says what is missing and what was tried. */
public final class ReportException extends RouterException {
    private static final long serialVersionUID = 1L;

    ReportException(String message) {
        super(message);
    }
}
