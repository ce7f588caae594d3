package dev.tiergate.cli.demo;

import dev.tiergate.ledger.SpendGroup;
import dev.tiergate.pricing.Money;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;

/**
 * One policy's day: money, shares and truncation from its ledger; latencies from the simulator's headers.
 *
 * @param policy which policy
 * @param ledger its SQLite ledger file
 * @param calls calls in the ledger
 * @param cost their exact total cost
 * @param frontierCalls calls served by {@link Demo#FRONTIER_MODEL}
 * @param frontierCost their cost
 * @param truncated calls whose output stopped at {@code max_tokens}
 * @param failed calls the agents did not get a whole answer for
 * @param unlabelled answers that did not say they were simulated (always 0 with the built-in simulator)
 * @param firstError the first failure; empty if none
 * @param p50Micros median simulated latency per call, in microseconds
 * @param p95Micros 95th percentile simulated latency per call, in microseconds
 * @param wall how long the policy took on the wall clock
 */
record PolicyResult(
        DemoPolicy policy,
        Path ledger,
        long calls,
        Money cost,
        long frontierCalls,
        Money frontierCost,
        long truncated,
        int failed,
        int unlabelled,
        String firstError,
        long p50Micros,
        long p95Micros,
        Duration wall) {

    static PolicyResult of(
            DemoPolicy policy, Path ledger, List<SpendGroup> byModel, Agents.Outcome outcome, Duration wall) {
        long calls = 0;
        long frontierCalls = 0;
        long truncated = 0;
        Money cost = Money.ZERO;
        Money frontierCost = Money.ZERO;
        for (SpendGroup g : byModel) {
            calls += g.calls();
            cost = cost.plus(g.cost());
            truncated += g.cappedCalls();
            if (g.group().equals(Demo.FRONTIER_MODEL)) {
                frontierCalls += g.calls();
                frontierCost = frontierCost.plus(g.cost());
            }
        }
        long[] sorted = outcome.simulatedLatencyMicros().clone();
        Arrays.sort(sorted);
        return new PolicyResult(
                policy,
                ledger,
                calls,
                cost,
                frontierCalls,
                frontierCost,
                truncated,
                outcome.failed(),
                outcome.unlabelled(),
                outcome.firstError(),
                percentile(sorted, 50),
                percentile(sorted, 95),
                wall);
    }

    /** Nearest rank: the smallest value with at least {@code p}% of the values at or below it; 0 if none. */
    static long percentile(long[] sorted, int p) {
        if (sorted.length == 0) {
            return 0;
        }
        int rank = (int) Math.ceil(p / 100.0 * sorted.length);
        return sorted[Math.max(0, rank - 1)];
    }
}
