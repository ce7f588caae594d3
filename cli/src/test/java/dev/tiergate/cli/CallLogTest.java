package dev.tiergate.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.locks.LockSupport;
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
    void linesArrivingOneByOneAreWrittenTogetherNotEachOnAWakeUpOfItsOwn() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        // a linger longer than the test: what arrives after the first write waits for it (or for close)
        CallLog.JsonLinesHandler handler = new CallLog.JsonLinesHandler(out, Duration.ofHours(1));
        handler.publish(new LogRecord(Level.INFO, "{\"i\":0}"));
        // the first line after a quiet spell is written at once, on the one wake-up
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (handler.batches() < 1) {
            assertThat(System.nanoTime()).as("first line written within 10 s").isLessThan(deadline);
            LockSupport.parkNanos(Duration.ofMillis(1).toNanos());
        }
        long wakeUpsBefore = handler.wakeUps(); // 0 or 1: the writer may not have been asleep yet
        int n = 60;
        for (int i = 1; i < n; i++) {
            handler.publish(new LogRecord(Level.INFO, "{\"i\":" + i + "}"));
        }
        assertThat(handler.wakeUps()).as("callers woke the lingering writer").isEqualTo(wakeUpsBefore);
        handler.close();

        assertThat(out.toString(StandardCharsets.UTF_8).split(System.lineSeparator()))
                .hasSize(n);
        assertThat(handler.batches()).isEqualTo(2);
    }

    private static void flush(Logger logger) {
        for (java.util.logging.Handler h : logger.getHandlers()) {
            h.flush();
        }
    }
}
