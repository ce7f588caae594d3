package dev.tiergate.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Finds the moments when the machine itself runs slow: a few probe threads each repeat a fixed piece of pure CPU
 * work (about 30 µs) every half millisecond and note how long it took in wall time and in thread CPU time.
 *
 * <p>Why: on the shared VMs this project is measured on, both vCPUs run about ten times slower for 10-50 ms at a
 * time, every second or two, on an otherwise idle machine (measured with this probe and with a C loop pinned to
 * each CPU; docs/benchmarks.md). The guest does not see it as steal time: the slowed thread's CPU time grows with
 * the wall time. A latency target below a millisecond at p99 then measures the host, not the code, unless the
 * slow windows are known. A piece of work is counted as slowed by the host when both its wall time and its CPU
 * time are over {@link #SLOW_FACTOR} times their medians: a thread that was merely descheduled (or stopped at a
 * JVM safepoint) accrues wall time but not CPU time, so neither the load under test nor a GC pause is mistaken for
 * the host.
 *
 * <pre>
 * java -cp bench/target/benchmarks.jar dev.tiergate.bench.HostProbe [--seconds 10] [--threads 2]
 * </pre>
 */
public final class HostProbe implements AutoCloseable {
    /** A piece of work this many times slower than usual, in wall and in CPU time, was slowed by the host. */
    static final int SLOW_FACTOR = 3;

    /** Slow pieces closer together than this are one window. */
    private static final long MERGE_NANOS = TimeUnit.MILLISECONDS.toNanos(2);

    /** How long one piece of work takes on a machine running normally: well above timer and interrupt noise. */
    private static final long PIECE_NANOS = TimeUnit.MICROSECONDS.toNanos(30);

    private static final long PAUSE_NANOS = TimeUnit.MICROSECONDS.toNanos(500);

    /** A stretch of time in which the host ran the probe slow: [start, end) in {@code System.nanoTime()}. */
    public record Window(long startNanos, long endNanos) {
        long lengthNanos() {
            return endNanos - startNanos;
        }
    }

    private final int iterations;
    private final Thread[] threads;
    private final Samples[] samples;
    private volatile boolean stopped;

    /** One probe thread's pieces of work: start, wall and CPU nanoseconds of each. */
    private static final class Samples {
        long[] start = new long[4096];
        long[] wall = new long[4096];
        long[] cpu = new long[4096];
        int n;

        void add(long s, long w, long c) {
            if (n == start.length) {
                start = Arrays.copyOf(start, n * 2);
                wall = Arrays.copyOf(wall, n * 2);
                cpu = Arrays.copyOf(cpu, n * 2);
            }
            start[n] = s;
            wall[n] = w;
            cpu[n] = c;
            n++;
        }
    }

    private HostProbe(int threadCount) {
        iterations = calibrate();
        threads = new Thread[threadCount];
        samples = new Samples[threadCount];
        for (int i = 0; i < threadCount; i++) {
            Samples s = new Samples();
            samples[i] = s;
            // platform threads: a virtual thread's CPU time is not measurable, and its carrier may change
            threads[i] = Thread.ofPlatform().daemon().name("host-probe-" + i).unstarted(() -> probe(s));
        }
    }

    /** Starts {@code threadCount} probe threads (one per CPU is usual); {@link #close()} stops them. */
    public static HostProbe start(int threadCount) {
        HostProbe p = new HostProbe(threadCount);
        for (Thread t : p.threads) {
            t.start();
        }
        return p;
    }

    /** A serial chain of xorshift steps: pure CPU, no memory traffic, nothing the JIT can shorten. */
    private static long work(long seed, int iterations) {
        long x = seed;
        for (int i = 0; i < iterations; i++) {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
        }
        return x;
    }

    /**
     * How many steps of {@link #work} take about {@link #PIECE_NANOS} here, once compiled: rounds of 100 ms of
     * running it and then timing it, until two rounds agree within 10% (the JIT has settled) or 2 s have passed.
     * One round was not enough: timed before C2 had compiled the work, pieces later ran 7 µs instead of 30.
     */
    private static int calibrate() {
        int iterations = 10_000;
        long x = 1;
        long previous = Long.MAX_VALUE;
        long median = 1;
        long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
        while (System.nanoTime() < giveUp) {
            long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(100);
            while (System.nanoTime() < until) {
                x = work(x, iterations);
            }
            long[] took = new long[51];
            for (int i = 0; i < took.length; i++) {
                long t0 = System.nanoTime();
                x = work(x, iterations);
                took[i] = System.nanoTime() - t0;
            }
            median = Math.max(1, median(took, took.length));
            if (Math.abs(median - previous) * 10 < previous) {
                break;
            }
            previous = median;
        }
        if (x == 0) {
            Thread.onSpinWait();
        }
        return (int) Math.max(1, Math.min(Integer.MAX_VALUE, iterations * PIECE_NANOS / median));
    }

    private void probe(Samples s) {
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        long x = 1;
        do { // at least one piece, however soon close() comes: the probe always has a speed to report
            long w0 = System.nanoTime();
            long c0 = mx.getCurrentThreadCpuTime();
            x = work(x, iterations);
            if (x == 0) {
                Thread.onSpinWait(); // uses the result, so the JIT cannot drop the work (x is next to never 0)
            }
            long c1 = mx.getCurrentThreadCpuTime();
            long w1 = System.nanoTime();
            s.add(w0, w1 - w0, c1 - c0);
            LockSupport.parkNanos(PAUSE_NANOS);
        } while (!stopped);
    }

    /** Stops the probe threads and waits for them. */
    @Override
    public void close() {
        stopped = true;
        for (Thread t : threads) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** The windows in which the host ran slow, merged across threads and in time order; call after close(). */
    public List<Window> slowWindows() {
        List<Window> found = new ArrayList<>();
        for (Samples s : samples) {
            found.addAll(slowPieces(s.start, s.wall, s.cpu, s.n));
        }
        return merge(found);
    }

    /**
     * The pieces of one thread's work (start, wall and CPU time of the first {@code n}) that the host slowed: over
     * {@link #SLOW_FACTOR} times the median in wall time and in CPU time alike.
     */
    static List<Window> slowPieces(long[] start, long[] wall, long[] cpu, int n) {
        List<Window> slow = new ArrayList<>();
        if (n == 0) {
            return slow;
        }
        long wallMedian = median(wall, n);
        long cpuMedian = median(cpu, n);
        for (int i = 0; i < n; i++) {
            if (wall[i] > SLOW_FACTOR * wallMedian && cpu[i] > SLOW_FACTOR * cpuMedian) {
                slow.add(new Window(start[i], start[i] + wall[i]));
            }
        }
        return slow;
    }

    /** Sorts and joins windows that overlap or lie less than {@link #MERGE_NANOS} apart. */
    static List<Window> merge(List<Window> windows) {
        List<Window> sorted = new ArrayList<>(windows);
        sorted.sort((a, b) -> Long.compare(a.startNanos(), b.startNanos()));
        List<Window> merged = new ArrayList<>();
        for (Window w : sorted) {
            int last = merged.size() - 1;
            if (last >= 0 && w.startNanos() - merged.get(last).endNanos() < MERGE_NANOS) {
                Window prev = merged.get(last);
                merged.set(last, new Window(prev.startNanos(), Math.max(prev.endNanos(), w.endNanos())));
            } else {
                merged.add(w);
            }
        }
        return merged;
    }

    /** The median wall time of one piece of work, ns (the probe's speed when the host is not in the way). */
    long medianWorkNanos() {
        long[] all = new long[0];
        for (Samples s : samples) {
            int at = all.length;
            all = Arrays.copyOf(all, at + s.n);
            System.arraycopy(s.wall, 0, all, at, s.n);
        }
        return all.length == 0 ? 0 : median(all, all.length);
    }

    /** How much of [from, to) the windows cover, 0 to 1. */
    static double fractionCovered(List<Window> windows, long from, long to) {
        long covered = 0;
        for (Window w : windows) {
            covered += Math.max(0, Math.min(w.endNanos(), to) - Math.max(w.startNanos(), from));
        }
        return to > from ? (double) covered / (to - from) : 0;
    }

    /**
     * Whether [from, to) is clear of every window, and of the {@code settleNanos} after each (a queue that built
     * up in a window takes a while to drain).
     */
    static boolean clear(List<Window> windows, long from, long to, long settleNanos) {
        // windows are few (tens per minute): a linear scan per question is fine for a benchmark's post-processing
        for (Window w : windows) {
            if (w.startNanos() < to && w.endNanos() + settleNanos > from) {
                return false;
            }
        }
        return true;
    }

    private static long median(long[] values, int n) {
        long[] copy = Arrays.copyOf(values, n);
        Arrays.sort(copy);
        return copy[n / 2];
    }

    /** One line: how slow the host was over [from, to), given its {@link #slowWindows()}. */
    String describe(List<Window> windows, long from, long to) {
        long longest = 0;
        for (Window w : windows) {
            longest = Math.max(longest, w.lengthNanos());
        }
        return String.format(
                Locale.ROOT,
                "host slow windows (a %d µs piece of pure CPU work >= %dx slower in wall and CPU time): %d, covering"
                        + " %.1f%% of the time, longest %.1f ms",
                medianWorkNanos() / 1000,
                SLOW_FACTOR,
                windows.size(),
                100 * fractionCovered(windows, from, to),
                longest / 1e6);
    }

    public static void main(String[] args) throws InterruptedException {
        Map<String, String> o = LedgerLoad.options(args);
        int seconds = Integer.parseInt(o.getOrDefault("seconds", "10"));
        int threadCount = Integer.parseInt(
                o.getOrDefault("threads", String.valueOf(Runtime.getRuntime().availableProcessors())));
        long from = System.nanoTime();
        HostProbe probe = start(threadCount);
        Thread.sleep(TimeUnit.SECONDS.toMillis(seconds));
        probe.close();
        long to = System.nanoTime();
        List<Window> windows = probe.slowWindows();
        System.out.println(probe.describe(windows, from, to));
        for (Window w : windows) {
            System.out.printf(
                    Locale.ROOT, "  at %8.1f ms for %5.1f ms%n", (w.startNanos() - from) / 1e6, w.lengthNanos() / 1e6);
        }
    }
}
