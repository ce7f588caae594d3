package dev.tiergate.cli.demo;

import dev.tiergate.pricing.Money;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.Locale;
import java.util.function.Supplier;

/**
 * One progress line per policy. On a terminal it is rewritten in place (at most every {@link
 * Agents#PROGRESS_INTERVAL}) with the calls done and the spend the ledger has settled so far; otherwise it is printed
 * once, when the policy is done. Used by one thread.
 */
final class Progress {
    private final PrintWriter out;
    private final boolean live;
    private final DemoPolicy policy;
    private final int total;
    private final Supplier<Money> spent;
    private int lastWidth;

    Progress(PrintWriter out, boolean live, DemoPolicy policy, int total, Supplier<Money> spent) {
        this.out = out;
        this.live = live;
        this.policy = policy;
        this.total = total;
        this.spent = spent;
    }

    /** {@code done} calls have ended. */
    void update(int done) {
        if (live) {
            show(done, spent.get(), "so far", false);
        }
    }

    /** The policy is done: {@code completed} calls, {@code cost} settled in its ledger, after {@code wall}. */
    void finish(int completed, Money cost, Duration wall) {
        show(completed, cost, String.format(Locale.ROOT, "in %.1f s", wall.toMillis() / 1000.0), true);
    }

    private void show(int done, Money cost, String suffix, boolean last) {
        String line = String.format(
                Locale.ROOT,
                "[simulated] policy %s: %,d/%,d calls, %s %s",
                policy.label(),
                done,
                total,
                DemoReport.usd(cost),
                suffix);
        if (live) {
            // Carriage return, then pad over whatever the previous, longer line left behind.
            out.print("\r" + line + " ".repeat(Math.max(0, lastWidth - line.length())));
            lastWidth = line.length();
            if (last) {
                out.println();
            }
        } else {
            out.println(line);
        }
        out.flush();
    }
}
