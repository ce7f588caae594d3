package dev.tiergate.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class RequestIdsTest {
    private final TestClock clock = new TestClock(Instant.parse("2026-11-29T10:00:00Z"));
    private final RequestIds ids = new RequestIds("tgreq_", clock);

    @Test
    void anIdIsThePrefixTheMillisecondAndRandomDigits() {
        String id = ids.next();
        assertThat(id).matches("tgreq_[0-9a-f]{24}");
        assertThat(Long.parseLong(id.substring(6, 18), 16)).isEqualTo(clock.millis());
    }

    @Test
    void laterIdsSortAfterEarlierOnes() {
        // the ledger's unique index on request ids then grows at its end, not at random pages
        List<String> made = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            made.add(ids.next());
            clock.advance(Duration.ofMillis(1));
        }
        assertThat(made).isSorted();
    }

    @Test
    void idsOfTheSameMillisecondDiffer() {
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < 10_000; i++) {
            seen.add(ids.next());
        }
        assertThat(seen).hasSize(10_000);
    }
}
