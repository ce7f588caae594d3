package dev.tiergate.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tiergate.budget.Admission;
import dev.tiergate.budget.ReservationId;
import dev.tiergate.pricing.Money;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LeaseKeeperTest {
    @TempDir
    Path dir;

    @Test
    void keepsTrackedCallsAliveAndRecoversTheRest() {
        TestClock clock = new TestClock(LedgerContract.T0);
        try (Ledger ledger = Ledger.sqlite(dir.resolve("l.db"), "gw-1", clock)) {
            LeaseKeeper keeper = new LeaseKeeper(ledger, clock, Duration.ofSeconds(30));
            ReservationId live = reserve(ledger, keeper, "live");
            ReservationId leaked = reserve(ledger, keeper, "leaked");
            keeper.track(live);

            for (int i = 0; i < 6; i++) {
                clock.advance(Duration.ofSeconds(10));
                keeper.tick();
            }

            assertThat(ledger.calls(CallQuery.latest(10)).rows())
                    .singleElement()
                    .satisfies(r -> {
                        assertThat(r.call().requestId()).isEqualTo("leaked");
                        assertThat(r.outcome().status()).isEqualTo(CallStatus.INTERRUPTED);
                    });
            assertThat(ledger.settle(live, LedgerContract.ok(Money.parseUsd("0.01"))))
                    .isInstanceOf(Settlement.Settled.class);
            keeper.untrack(live);
            assertThat(keeper.inFlight()).isZero();
            assertThat(leaked).isNotEqualTo(live);
        }
    }

    private static ReservationId reserve(Ledger ledger, LeaseKeeper keeper, String requestId) {
        Call call = new Call(requestId, LedgerContract.T0, "k", "", "t", "small", "m", "m", "", "", 10);
        Admission a = ledger.reserve(call, List.of(), Money.parseUsd("0.1"), keeper.leaseExpiry());
        return ((Admission.Admitted) a).reservation();
    }
}
