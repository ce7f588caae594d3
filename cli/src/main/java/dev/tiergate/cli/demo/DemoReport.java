package dev.tiergate.cli.demo;

import dev.tiergate.pricing.Money;
import java.io.PrintWriter;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.Duration;
import java.util.List;
import java.util.Locale;

/**
 * The demo's results and how they are printed: the table, where the ledgers are, and a reading of the numbers,
 * every part computed from the results.
 *
 * @param settings what was run
 * @param policies one result per policy, (a), (b), (c)
 * @param wall the whole demo on the wall clock
 */
record DemoReport(Demo.Settings settings, List<PolicyResult> policies, Duration wall) {

    /** Days in the projected month. */
    static final int DAYS_PER_MONTH = 30;

    static final String MARK = "[simulated]";

    DemoReport {
        policies = List.copyOf(policies);
        if (policies.size() != DemoPolicy.values().length) {
            throw new IllegalArgumentException(
                    "the demo has " + DemoPolicy.values().length + " policies, got " + policies.size() + " results");
        }
    }

    PolicyResult a() {
        return policies.get(0);
    }

    PolicyResult b() {
        return policies.get(1);
    }

    PolicyResult c() {
        return policies.get(2);
    }

    void print(PrintWriter out, boolean reportCommand) {
        out.println();
        for (String line : table()) {
            out.println(line);
        }
        out.println();
        for (String line : explore(reportCommand)) {
            out.println(line);
        }
        out.println();
        out.println(reading());
        out.printf(Locale.ROOT, "(demo wall time %.1f s)%n", wall.toMillis() / 1000.0);
    }

    /** The table: a header, one row per policy, and what the latency columns are. */
    List<String> table() {
        String format = "%s %-26s %7s %12s %13s %9s %9s %9s %8s %8s %8s";
        List<String> lines = new java.util.ArrayList<>();
        lines.add(String.format(
                Locale.ROOT,
                "%s one simulated day of %,d tasks, %d agents, seed %d: frontier = %s, small = %s",
                MARK,
                settings.tasks(),
                settings.agents(),
                settings.seed(),
                Demo.FRONTIER_MODEL,
                Demo.SMALL_MODEL));
        lines.add(String.format(
                Locale.ROOT,
                format,
                MARK,
                "policy",
                "calls",
                "cost/day",
                "per month",
                "frontier",
                "frontier",
                "truncated",
                "p50",
                "p95",
                "saving"));
        lines.add(String.format(
                Locale.ROOT,
                format,
                MARK,
                "",
                "",
                "",
                "(x" + DAYS_PER_MONTH + ")",
                "calls",
                "spend",
                "",
                "latency",
                "latency",
                "vs (a)"));
        for (PolicyResult r : policies) {
            lines.add(String.format(
                    Locale.ROOT,
                    format,
                    MARK,
                    r.policy().label(),
                    String.format(Locale.ROOT, "%,d", r.calls()),
                    usd(r.cost()),
                    usd(r.cost().times(DAYS_PER_MONTH)),
                    percent(r.frontierCalls(), r.calls()),
                    percent(r.frontierCost().nanos(), r.cost().nanos()),
                    percent(r.truncated(), r.calls()),
                    seconds(r.p50Micros()),
                    seconds(r.p95Micros()),
                    r.policy() == DemoPolicy.ALL_FRONTIER
                            ? "-"
                            : percent(
                                    a().cost().minus(r.cost()).nanos(),
                                    a().cost().nanos())));
        }
        lines.add(String.format(
                Locale.ROOT,
                "%s costs are exact sums of the ledgers' simulated calls; truncated = stop_reason max_tokens;"
                        + " latency = the simulated upstream's time per call (x-tiergate-simulated-latency-ms),"
                        + " uncompressed: the demo ran %sx faster.",
                MARK,
                BigDecimal.valueOf(settings.timeCompression())
                        .stripTrailingZeros()
                        .toPlainString()));
        for (PolicyResult r : policies) {
            if (r.failed() > 0) {
                lines.add(String.format(
                        Locale.ROOT,
                        "%s policy %s: %,d calls failed and are not in the latencies; first: %s",
                        MARK,
                        r.policy().label(),
                        r.failed(),
                        r.firstError()));
            }
            if (r.unlabelled() > 0) {
                lines.add(String.format(
                        Locale.ROOT,
                        "WARNING: policy %s: %,d answers were not labelled simulated",
                        r.policy().label(),
                        r.unlabelled()));
            }
        }
        return lines;
    }

    /** Where the ledgers are, and commands to look into them. */
    List<String> explore(boolean reportCommand) {
        List<String> lines = new java.util.ArrayList<>();
        lines.add("The simulated calls stay in one SQLite ledger per policy (policy files and gateway configs beside"
                + " them, in " + settings.dir() + "):");
        for (PolicyResult r : policies) {
            lines.add(String.format(
                    Locale.ROOT, "  %-26s %s (%,d simulated calls)", r.policy().label(), r.ledger(), r.calls()));
        }
        lines.add("Explore them:");
        lines.add("  bin/tiergate spend --db " + c().ledger() + " --by task      # cost, tokens and capped calls per"
                + " task type");
        lines.add("  bin/tiergate spend --db " + a().ledger() + " --by model     # policy (a): all on "
                + Demo.FRONTIER_MODEL);
        if (reportCommand) {
            lines.add("  bin/tiergate report --db " + b().ledger()
                    + "                # spend report with counterfactuals");
        }
        lines.add("  bin/tiergate budgets status --db " + c().ledger() + "       # the soft $"
                + Demo.SOFT_DAILY_BUDGET_USD + "/day budget");
        return lines;
    }

    /** One paragraph on what the numbers say, from the numbers. */
    String reading() {
        PolicyResult a = a();
        PolicyResult b = b();
        PolicyResult c = c();
        StringBuilder s = new StringBuilder(MARK).append(' ');
        s.append(String.format(
                Locale.ROOT,
                "Routing the small task types (%s of calls) to %s cut the simulated day from %s to %s, saving %s."
                        + " Capping output per task type saved a further %s of (b)'s cost: %s a day, %s a month,"
                        + " %s less than everything on %s.",
                percent(b.calls() - b.frontierCalls(), b.calls()),
                Demo.SMALL_MODEL,
                usd(a.cost()),
                usd(b.cost()),
                percent(a.cost().minus(b.cost()).nanos(), a.cost().nanos()),
                percent(b.cost().minus(c.cost()).nanos(), b.cost().nanos()),
                usd(c.cost()),
                usd(c.cost().times(DAYS_PER_MONTH)),
                percent(a.cost().minus(c.cost()).nanos(), a.cost().nanos()),
                Demo.FRONTIER_MODEL));
        s.append(String.format(
                Locale.ROOT,
                " Under (c) the frontier model still serves %s of calls and takes %s of spend.",
                percent(c.frontierCalls(), c.calls()),
                percent(c.frontierCost().nanos(), c.cost().nanos())));
        s.append(String.format(
                Locale.ROOT,
                " %s of answers stopped at max_tokens under (c), against %s under (a)%s;"
                        + " `spend --by task` shows which task types hit their caps.",
                percent(c.truncated(), c.calls()),
                percent(a.truncated(), a.calls()),
                c.truncated() > a.truncated()
                        ? ": caps cut the verbose tail, so check the capped types' quality before adopting them"
                        : ""));
        s.append(String.format(
                Locale.ROOT,
                " Median simulated latency per call: %s under (a), %s under (c).",
                seconds(a.p50Micros()),
                seconds(c.p50Micros())));
        return s.toString();
    }

    /** {@code $1,234.56}: rounded to cents for reading; the ledgers keep the exact nano-USD. */
    static String usd(Money money) {
        return String.format(Locale.ROOT, "$%,.2f", money.toUsd().setScale(2, RoundingMode.HALF_EVEN));
    }

    /** {@code 12.3%}; {@code -} when the whole is 0. */
    static String percent(long part, long whole) {
        if (whole == 0) {
            return "-";
        }
        BigDecimal p = BigDecimal.valueOf(part)
                .multiply(BigDecimal.valueOf(100))
                .divide(BigDecimal.valueOf(whole), 1, RoundingMode.HALF_EVEN);
        return p.toPlainString() + "%";
    }

    static String seconds(long micros) {
        return String.format(Locale.ROOT, "%.1f s", micros / 1e6);
    }
}
