package dev.tiergate.bench;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tiergate.bench.HostProbe.Window;
import java.util.List;
import org.junit.jupiter.api.Test;

class HostProbeTest {
    private static final long US = 1_000;
    private static final long MS = 1_000_000;

    @Test
    void aPieceSlowInWallAndCpuTimeIsTheHostButOneOnlyWaitingIsNot() {
        long[] start = {0, 100 * US, 200 * US, 300 * US, 400 * US, 500 * US};
        long[] wall = {30 * US, 31 * US, 300 * US, 29 * US, 900 * US, 30 * US};
        // the fifth piece waited 870 µs (descheduled, or stopped at a safepoint) but ran only 30 µs of CPU
        long[] cpu = {30 * US, 31 * US, 290 * US, 29 * US, 30 * US, 30 * US};

        List<Window> slow = HostProbe.slowPieces(start, wall, cpu, start.length);

        assertThat(slow).containsExactly(new Window(200 * US, 500 * US));
    }

    @Test
    void onlyTheRecordedPiecesCount() {
        long[] start = {0, 100 * US, 200 * US, 0};
        long[] wall = {30 * US, 30 * US, 30 * US, 0};
        long[] cpu = {30 * US, 30 * US, 30 * US, 0};

        assertThat(HostProbe.slowPieces(start, wall, cpu, 3)).isEmpty();
        assertThat(HostProbe.slowPieces(start, wall, cpu, 0)).isEmpty();
    }

    @Test
    void windowsOfDifferentThreadsMergeWhenTheyOverlapOrAlmostTouch() {
        List<Window> merged = HostProbe.merge(List.of(
                new Window(10 * MS, 12 * MS),
                new Window(0, 1 * MS),
                new Window(11 * MS, 15 * MS), // overlaps the first
                new Window(16 * MS, 17 * MS), // 1 ms after it: the same slow stretch
                new Window(30 * MS, 31 * MS))); // 13 ms later: another

        assertThat(merged)
                .containsExactly(new Window(0, 1 * MS), new Window(10 * MS, 17 * MS), new Window(30 * MS, 31 * MS));
    }

    @Test
    void aCallIsClearOnlyIfNoWindowOrTheTimeAfterOneTouchesIt() {
        List<Window> windows = List.of(new Window(10 * MS, 20 * MS));

        assertThat(HostProbe.clear(windows, 0, 9 * MS, 5 * MS)).isTrue();
        assertThat(HostProbe.clear(windows, 5 * MS, 11 * MS, 5 * MS)).isFalse(); // ran into the window
        assertThat(HostProbe.clear(windows, 22 * MS, 23 * MS, 5 * MS)).isFalse(); // the queue may still drain
        assertThat(HostProbe.clear(windows, 26 * MS, 27 * MS, 5 * MS)).isTrue();
    }

    @Test
    void coveredFractionCountsOnlyTheAskedSpan() {
        List<Window> windows = List.of(new Window(0, 10 * MS), new Window(50 * MS, 60 * MS));

        assertThat(HostProbe.fractionCovered(windows, 5 * MS, 105 * MS)).isEqualTo(0.15);
        assertThat(HostProbe.fractionCovered(windows, 20 * MS, 40 * MS)).isZero();
    }

    @Test
    void aProbeTimesItsWorkAndStopsEvenWhenClosedAtOnce() {
        HostProbe probe = HostProbe.start(1);
        probe.close(); // joins the probe thread, which has timed at least one piece by then

        // calibrated to about 30 µs; on a busy build machine the calibration may run before the JIT compiles the work
        // (then pieces are far shorter) or pieces may be preempted (longer), so only the order of magnitude is checked
        assertThat(probe.medianWorkNanos()).isPositive().isLessThan(10 * MS);
    }
}
