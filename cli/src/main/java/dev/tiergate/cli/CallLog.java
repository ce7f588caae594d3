package dev.tiergate.cli;

import java.io.OutputStream;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.StreamHandler;

/**
 * How {@code tiergate serve} prints the gateway's per-call log ({@code tiergate.calls}): each record's message,
 * which is one JSON object, on a line of its own, so that the output can be piped to {@code jq} or a log shipper.
 *
 * <p>The JDK's default console format spends two lines per record (a date line, then {@code INFO: ...}) and
 * formats a date on every call; the JSON already carries the call's time. Other loggers keep the default format.
 */
final class CallLog {
    /** Held so that the configured logger is not garbage collected and replaced by an unconfigured one. */
    private static final Logger CALLS = Logger.getLogger("tiergate.calls");

    private CallLog() {}

    /** Sends {@code tiergate.calls} records to {@code out} as bare JSON lines, flushed per line. */
    static void toJsonLines(OutputStream out) {
        for (Handler h : CALLS.getHandlers()) {
            CALLS.removeHandler(h);
        }
        CALLS.setUseParentHandlers(false);
        CALLS.addHandler(new JsonLinesHandler(out));
    }

    /** Writes each record's message and a line separator, and flushes it: a line is never held back. */
    static final class JsonLinesHandler extends StreamHandler {
        JsonLinesHandler(OutputStream out) {
            super(out, new MessageOnly());
        }

        @Override
        public synchronized void publish(LogRecord r) {
            super.publish(r);
            flush();
        }
    }

    private static final class MessageOnly extends Formatter {
        @Override
        public String format(LogRecord r) {
            return r.getMessage() + System.lineSeparator();
        }
    }
}
