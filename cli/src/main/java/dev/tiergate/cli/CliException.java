package dev.tiergate.cli;

/** A command failed on bad input; the message says what and where, and the exit code is non-zero. */
final class CliException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final int exitCode;

    CliException(String message) {
        this(message, Main.EXIT_BAD_INPUT);
    }

    CliException(String message, int exitCode) {
        super(message);
        this.exitCode = exitCode;
    }

    int exitCode() {
        return exitCode;
    }
}
