package dev.tiergate.pricing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class MoneyTest {

    @Test
    void parsesAndPrintsNineDecimalPlaces() {
        assertThat(Money.parseUsd("4.5").nanos()).isEqualTo(4_500_000_000L);
        assertThat(Money.parseUsd("0.000000001").toUsdString()).isEqualTo("0.000000001");
        assertThat(Money.ofNanos(36_188_000).toUsdString()).isEqualTo("0.036188000");
    }

    @Test
    void rejectsAmountsFinerThanANanoDollar() {
        assertThatThrownBy(() -> Money.parseUsd("0.0000000001"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("0.0000000001");
    }

    @Test
    void overflowThrowsInsteadOfWrapping() {
        assertThatThrownBy(() -> Money.ofNanos(Long.MAX_VALUE).plus(Money.ofNanos(1)))
                .isInstanceOf(ArithmeticException.class);
    }
}
