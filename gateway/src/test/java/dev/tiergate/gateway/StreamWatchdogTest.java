package dev.tiergate.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;

class StreamWatchdogTest {
    private final CompletableFuture<Boolean> closed = new CompletableFuture<>();

    @Test
    void closesASilentStreamAfterTheIdleTimeout() throws Exception {
        StreamWatchdog w = StreamWatchdog.start(
                () -> closed.complete(true),
                Duration.ofMillis(20),
                Instant.now().plusSeconds(60));
        assertThat(closed.get(10, TimeUnit.SECONDS)).isTrue();
        assertThat(w.firedReason()).startsWith("upstream sent nothing for");
        w.close();
    }

    @Test
    void closesAStreamThatPassesItsDeadlineThoughItKeepsTalking() throws Exception {
        StreamWatchdog w = StreamWatchdog.start(
                () -> closed.complete(true),
                Duration.ofSeconds(60),
                Instant.now().plusMillis(20));
        w.touch();
        assertThat(closed.get(10, TimeUnit.SECONDS)).isTrue();
        assertThat(w.firedReason()).isEqualTo("the call passed its total deadline");
    }

    @Test
    void aFinishedCallIsNeverClosedLater() {
        StreamWatchdog w = StreamWatchdog.start(
                () -> closed.complete(true),
                Duration.ofMillis(50),
                Instant.now().plusMillis(50));
        w.close();
        assertThatThrownBy(() -> closed.get(300, TimeUnit.MILLISECONDS)).isInstanceOf(TimeoutException.class);
        assertThat(w.firedReason()).isEmpty();
    }

    @Test
    void aDeadlineAlreadyPastClosesAtOnce() throws Exception {
        StreamWatchdog w = StreamWatchdog.start(
                () -> closed.complete(true),
                Duration.ofSeconds(60),
                Instant.now().minusSeconds(1));
        assertThat(closed.get(10, TimeUnit.SECONDS)).isTrue();
        assertThat(w.firedReason()).isEqualTo("the call passed its total deadline");
    }

    @Test
    void callsThatEndBeforeTheirTimeoutsDoNotWakeTheWatchdogThreadEachTime() {
        // as at 1,000 calls/s with one or two in flight: each call starts and ends long before its timeouts
        StreamWatchdog.start(() -> {}, Duration.ofSeconds(60), Instant.now().plusSeconds(120))
                .close();
        long before = StreamWatchdog.sweeps();
        for (int i = 0; i < 10_000; i++) {
            StreamWatchdog.start(
                            () -> closed.complete(true),
                            Duration.ofSeconds(60),
                            Instant.now().plusSeconds(120))
                    .close();
        }
        // a wake-up per call would be 10,000; other tests' short timeouts may add a few periodic ones
        assertThat(StreamWatchdog.sweeps() - before).isLessThan(50);
        assertThat(closed).isNotDone();
    }
}
