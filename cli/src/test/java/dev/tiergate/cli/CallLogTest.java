package dev.tiergate.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.logging.Level;
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

        assertThat(out.toString(StandardCharsets.UTF_8))
                .isEqualTo("{\"request_id\":\"a\"}" + System.lineSeparator() + "{\"request_id\":\"b\"}"
                        + System.lineSeparator());
        assertThat(calls.getUseParentHandlers()).isFalse();
        assertThat(Logger.getLogger("tiergate.budget").getUseParentHandlers()).isTrue();

        // configuring again replaces the handler rather than printing every line twice
        ByteArrayOutputStream again = new ByteArrayOutputStream();
        CallLog.toJsonLines(again);
        calls.logp(Level.INFO, "x", "y", "{}");
        assertThat(again.toString(StandardCharsets.UTF_8)).isEqualTo("{}" + System.lineSeparator());
        assertThat(out.toString(StandardCharsets.UTF_8)).doesNotEndWith("{}" + System.lineSeparator());
    }
}
