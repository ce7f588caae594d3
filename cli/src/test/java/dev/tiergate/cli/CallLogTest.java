package dev.tiergate.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;

class CallLogTest {
    @Test
    void eachCallIsOneBareJsonLineAndOtherLoggersAreUntouched() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        CallLog.toJsonLines(out);
        Logger calls = Logger.getLogger("tiergate.calls");
        calls.logp(Level.INFO, "x", "y", "{\"request_id\":\"a\"}");
        calls.logp(Level.INFO, "x", "y", "{\"request_id\":\"b\"}");
        flush(calls);

        assertThat(out.toString(StandardCharsets.UTF_8))
                .isEqualTo("{\"request_id\":\"a\"}" + System.lineSeparator() + "{\"request_id\":\"b\"}"
                        + System.lineSeparator());
        assertThat(calls.getUseParentHandlers()).isFalse();
        assertThat(Logger.getLogger("tiergate.budget").getUseParentHandlers()).isTrue();

        // configuring again replaces the handler rather than printing every line twice
        ByteArrayOutputStream again = new ByteArrayOutputStream();
        CallLog.toJsonLines(again);
        calls.logp(Level.INFO, "x", "y", "{}");
        flush(calls);
        assertThat(again.toString(StandardCharsets.UTF_8)).isEqualTo("{}" + System.lineSeparator());
        assertThat(out.toString(StandardCharsets.UTF_8)).doesNotEndWith("{}" + System.lineSeparator());
    }

    @Test
    void linesFromManyThreadsAreWrittenWholeAndEachThreadsInOrder() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        CallLog.JsonLinesHandler handler = new CallLog.JsonLinesHandler(out);
        int threads = 16;
        int perThread = 2_000;
        try (var pool = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
            for (int t = 0; t < threads; t++) {
                int id = t;
                pool.execute(() -> {
                    for (int i = 0; i < perThread; i++) {
                        handler.publish(new LogRecord(Level.INFO, "{\"t\":" + id + ",\"i\":" + i + "}"));
                    }
                });
            }
        }
        handler.close(); // writes everything queued before it returns

        String[] lines = out.toString(StandardCharsets.UTF_8).split(System.lineSeparator());
        assertThat(lines).hasSize(threads * perThread);
        int[] next = new int[threads];
        for (String line : lines) {
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\{\"t\":(\\d+),\"i\":(\\d+)}")
                    .matcher(line);
            assertThat(m.matches()).as(line).isTrue();
            int t = Integer.parseInt(m.group(1));
            assertThat(Integer.parseInt(m.group(2))).isEqualTo(next[t]++);
        }
    }

    @Test
    void afterCloseNothingIsWrittenAndTheWriterThreadIsGone() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        CallLog.JsonLinesHandler handler = new CallLog.JsonLinesHandler(out);
        handler.publish(new LogRecord(Level.INFO, "{\"before\":true}"));
        handler.close();
        handler.publish(new LogRecord(Level.INFO, "{\"after\":true}"));
        handler.flush();

        assertThat(out.toString(StandardCharsets.UTF_8)).isEqualTo("{\"before\":true}" + System.lineSeparator());
        assertThat(handler.writerAlive()).isFalse();
    }

    @Test
    void linesArrivingOneByOneAreWrittenTogetherNotEachOnAWakeUpOfItsOwn() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        CallLog.JsonLinesHandler handler = new CallLog.JsonLinesHandler(out);
        int n = 60;
        for (int i = 0; i < n; i++) {
            handler.publish(new LogRecord(Level.INFO, "{\"i\":" + i + "}"));
            Thread.sleep(1); // a call every millisecond or more: a writer woken per line writes each alone
        }
        handler.close();

        assertThat(out.toString(StandardCharsets.UTF_8).split(System.lineSeparator()))
                .hasSize(n);
        // 60 lines over at least 60 ms, with a 20 ms linger: the first alone, then one write per linger
        assertThat(handler.batches()).isBetween(1L, 15L);
    }

    private static void flush(Logger logger) {
        for (java.util.logging.Handler h : logger.getHandlers()) {
            h.flush();
        }
    }
}
