package dev.tiergate.report;

import dev.tiergate.policy.Policy;
import dev.tiergate.policy.RequestFacts;
import dev.tiergate.policy.Router;
import dev.tiergate.policy.RoutingDecision;
import dev.tiergate.policy.TaskPolicy;
import dev.tiergate.pricing.CostOptions;
import dev.tiergate.pricing.ModelCatalog;
import dev.tiergate.pricing.Money;
import dev.tiergate.pricing.Usage;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * Output-cap ({@code max_tokens}) suggestions per task type, from recorded output lengths and truncation.
 *
 * <p>Only completed calls (status ok) count: their output is whole or cut at the cap, never partial. A call is
 * truncated when its {@code stop_reason} is {@code max_tokens}. Percentiles are nearest-rank over the
 * untruncated calls' output tokens: the p-th percentile of n sorted values is the value at rank ceil(p * n / 100).
 *
 * <p>The rule, per task type with at least {@code minSamples} completed calls:
 *
 * <ul>
 *   <li>If more than {@link #UNDER_CAPPED_RATE} of completed calls were truncated, the cap is too low and the
 *       untruncated lengths are censored: {@link Advice.Raise} to {@code tidy(2 * the cap they hit)} (at least the
 *       margin rule below), and re-measure. The spend this adds cannot be projected, as the cut outputs' full
 *       lengths are unknown.
 *   <li>Otherwise the suggestion is {@code tidy(ceil(1.2 * p99))}: p99 of untruncated output plus a 20% margin,
 *       rounded up by {@link #tidy}. It is never below 10 nor above the model's max output. Below the current cap
 *       it is {@link Advice.Lower}, above it {@link Advice.Raise}, equal {@link Advice.Keep}. It may be below the
 *       longest untruncated output: {@link Advice.Lower#wouldTruncateCalls} says how many recorded calls it would
 *       have cut, rather than letting one outlier set the cap.
 * </ul>
 *
 * <p>Immutable and thread-safe.
 *
 * @param minSamples the completed calls a task type needs before a cap is suggested
 * @param taskTypes one entry per task type seen, most calls first
 */
public record CapReport(long minSamples, List<TaskCaps> taskTypes) {

    /** The truncation rate above which a cap counts as too low: 5% of completed calls. */
    public static final BigDecimal UNDER_CAPPED_RATE = new BigDecimal("0.05");

    /** The default {@code minSamples}. */
    public static final long DEFAULT_MIN_SAMPLES = 30;

    public CapReport {
        if (minSamples < 1) {
            throw new IllegalArgumentException("minimum sample size must be at least 1, got " + minSamples);
        }
        taskTypes = List.copyOf(taskTypes);
    }

    /**
     * Suggests caps without a policy: the current cap of a task type is the largest {@code max_tokens} recorded for
     * it ({@link CapSource#OBSERVED}), its model the one that served most of its calls.
     *
     * @throws dev.tiergate.pricing.PricingException if a served model of a completed call is not in the catalog
     */
    public static CapReport of(List<CallFacts> calls, ModelCatalog catalog, long minSamples) {
        return build(calls, catalog, null, minSamples);
    }

    /**
     * Suggests caps against {@code policy}: the current cap of a task type is its {@code max_tokens} there (the
     * policy's default cap for unlisted types, if it has one), its model the one the policy routes it to.
     *
     * @throws dev.tiergate.pricing.PricingException if a served model of a completed call is not in the catalog
     */
    public static CapReport of(List<CallFacts> calls, ModelCatalog catalog, Policy policy, long minSamples) {
        return build(calls, catalog, new Router(policy, catalog), minSamples);
    }

    /** Where a current cap comes from. */
    public enum CapSource {
        /** The policy's cap for the task type. */
        POLICY,
        /** The largest {@code max_tokens} recorded for the task type (no policy given, or it sets none). */
        OBSERVED
    }

    /**
     * What the ledger says about one task type's output.
     *
     * @param taskType the task type
     * @param model the model its cap applies to: the policy's routed model, or the one that served most calls
     * @param completedCalls calls with status ok
     * @param truncatedCalls completed calls stopped at {@code max_tokens}
     * @param p50 median output tokens of untruncated calls (0 when there are none)
     * @param p95 95th percentile, tokens
     * @param p99 99th percentile, tokens
     * @param maxUntruncated longest untruncated output, tokens
     * @param currentCap the cap in force, tokens (0 when unknown)
     * @param capSource where {@code currentCap} comes from
     * @param advice what to do
     */
    public record TaskCaps(
            String taskType,
            String model,
            long completedCalls,
            long truncatedCalls,
            long p50,
            long p95,
            long p99,
            long maxUntruncated,
            long currentCap,
            CapSource capSource,
            Advice advice) {

        /** Truncated among completed calls, a fraction with four decimals. */
        public BigDecimal truncationRate() {
            return SpendReport.share(truncatedCalls, completedCalls);
        }
    }

    /** The suggestion for one task type. */
    public sealed interface Advice permits Advice.NotEnoughData, Advice.Keep, Advice.Lower, Advice.Raise {

        /** Fewer completed calls than the minimum sample size: no suggestion. */
        record NotEnoughData(long completedCalls, long needed) implements Advice {}

        /** The suggestion equals the current cap. */
        record Keep(long cap) implements Advice {}

        /**
         * Lower the cap.
         *
         * @param cap the suggested cap, tokens
         * @param wouldTruncateCalls recorded completed calls, not truncated, whose output exceeds {@code cap}
         * @param reservationSavingPerCall how much less budget each call reserves: (current cap - cap) output tokens
         *     at the model's highest output price. Budget headroom, not spend.
         * @param expectedSaving spend the recorded calls would not have incurred: for each completed call whose
         *     output exceeds {@code cap}, its cost on its served model minus the cost with output cut to {@code
         *     cap}, at standard prices. Assumes the model writes the same tokens up to the cap.
         */
        record Lower(long cap, long wouldTruncateCalls, Money reservationSavingPerCall, Money expectedSaving)
                implements Advice {}

        /**
         * Raise the cap.
         *
         * @param cap the suggested cap, tokens
         * @param underCapped whether the truncation rate is above {@link #UNDER_CAPPED_RATE}
         * @param reservationIncreasePerCall how much more budget each call reserves: (cap - current cap) output
         *     tokens at the model's highest output price. Added spend is not projected: cut outputs' full lengths
         *     are unknown.
         * @param reason why, in words
         */
        record Raise(long cap, boolean underCapped, Money reservationIncreasePerCall, String reason)
                implements Advice {}
    }

    /**
     * Rounds a positive token count up to a tidy cap: to a multiple of 10 up to 100, of 50 up to 1,000, of 250 up
     * to 10,000, and of 1,000 above. {@code tidy(0)} is 10.
     */
    public static long tidy(long tokens) {
        long t = Math.max(tokens, 1);
        long step = t <= 100 ? 10 : t <= 1_000 ? 50 : t <= 10_000 ? 250 : 1_000;
        return Math.multiplyExact(Math.ceilDiv(t, step), step);
    }

    private static CapReport build(
            List<CallFacts> calls, ModelCatalog catalog, @Nullable Router router, long minSamples) {
        Map<String, List<CallFacts>> byTask = new LinkedHashMap<>();
        for (CallFacts c : calls) {
            if (c.status() == CallFacts.Status.OK) {
                byTask.computeIfAbsent(c.taskType(), k -> new ArrayList<>()).add(c);
            }
        }
        List<TaskCaps> out = new ArrayList<>();
        for (Map.Entry<String, List<CallFacts>> e : byTask.entrySet()) {
            out.add(taskCaps(e.getKey(), e.getValue(), catalog, router, minSamples));
        }
        out.sort(Comparator.comparingLong(TaskCaps::completedCalls).reversed().thenComparing(TaskCaps::taskType));
        return new CapReport(minSamples, out);
    }

    private static TaskCaps taskCaps(
            String taskType, List<CallFacts> calls, ModelCatalog catalog, @Nullable Router router, long minSamples) {
        long[] untruncated = calls.stream()
                .filter(c -> !c.truncated())
                .mapToLong(c -> c.usage().outputTokens())
                .sorted()
                .toArray();
        long truncated = calls.size() - untruncated.length;
        long observedCap = calls.stream().mapToLong(CallFacts::maxTokens).max().orElse(0);
        long capHit = calls.stream()
                .filter(CallFacts::truncated)
                .mapToLong(CallFacts::maxTokens)
                .max()
                .orElse(observedCap);

        String model = mostUsedModel(calls, catalog);
        long currentCap = observedCap;
        CapSource source = CapSource.OBSERVED;
        if (router != null) {
            RoutingDecision d = router.route(taskType, RequestFacts.withoutMaxTokens(0));
            if (d instanceof RoutingDecision.Route r) {
                model = r.model();
            }
            TaskPolicy tp = router.policy().taskTypes().get(taskType);
            long policyCap = tp != null ? tp.maxTokens() : router.policy().defaultMaxTokens();
            if (policyCap > 0) {
                currentCap = policyCap;
                source = CapSource.POLICY;
            }
        }
        long p50 = percentile(untruncated, 50);
        long p95 = percentile(untruncated, 95);
        long p99 = percentile(untruncated, 99);
        long max = untruncated.length == 0 ? 0 : untruncated[untruncated.length - 1];

        Advice advice;
        if (calls.size() < minSamples) {
            advice = new Advice.NotEnoughData(calls.size(), minSamples);
        } else {
            long modelMax = catalog.require(model).maxOutput();
            long margin = tidy(Math.ceilDiv(Math.multiplyExact(p99, 6), 5));
            boolean underCapped = SpendReport.share(truncated, calls.size()).compareTo(UNDER_CAPPED_RATE) > 0;
            long suggested = underCapped ? Math.max(margin, tidy(Math.multiplyExact(capHit, 2))) : margin;
            suggested = Math.min(suggested, modelMax);
            if (suggested == currentCap) {
                advice = new Advice.Keep(suggested);
            } else if (suggested < currentCap) {
                advice = lower(calls, catalog, model, currentCap, suggested);
            } else {
                Money perCall = reservation(catalog, model, suggested).minus(reservation(catalog, model, currentCap));
                String reason = underCapped
                        ? truncated + " of " + calls.size() + " completed calls (" + pct(truncated, calls.size())
                                + ") stopped at max_tokens " + capHit + ", above the " + pct(5, 100)
                                + " threshold: under-capped; the cut outputs' full lengths are unknown, so raise to"
                                + " twice the cap and re-measure"
                        : "p99 of untruncated output (" + p99 + " tokens) plus 20% is above the current cap "
                                + currentCap;
                advice = new Advice.Raise(suggested, underCapped, perCall, reason);
            }
        }
        return new TaskCaps(taskType, model, calls.size(), truncated, p50, p95, p99, max, currentCap, source, advice);
    }

    private static Advice.Lower lower(
            List<CallFacts> calls, ModelCatalog catalog, String model, long currentCap, long cap) {
        long wouldTruncate = 0;
        Money saving = Money.ZERO;
        for (CallFacts c : calls) {
            Usage u = c.usage();
            if (u.outputTokens() <= cap) {
                continue;
            }
            if (!c.truncated()) {
                wouldTruncate++;
            }
            Usage cut = new Usage(
                    u.inputTokens(),
                    cap,
                    u.cacheWrite5mTokens(),
                    u.cacheWrite1hTokens(),
                    u.cacheReadTokens(),
                    u.webSearchRequests());
            saving = saving.plus(catalog.cost(c.model(), u, CostOptions.STANDARD)
                    .total()
                    .minus(catalog.cost(c.model(), cut, CostOptions.STANDARD).total()));
        }
        Money perCall = reservation(catalog, model, currentCap).minus(reservation(catalog, model, cap));
        return new Advice.Lower(cap, wouldTruncate, perCall, saving);
    }

    /** The output part of a worst-case reservation: {@code maxTokens} at the model's highest output price. */
    private static Money reservation(ModelCatalog catalog, String model, long maxTokens) {
        return catalog.worstCase(model, 0, maxTokens, CostOptions.STANDARD);
    }

    private static String mostUsedModel(List<CallFacts> calls, ModelCatalog catalog) {
        Map<String, Long> counts = new HashMap<>();
        for (CallFacts c : calls) {
            counts.merge(catalog.require(c.model()).id(), 1L, Long::sum);
        }
        return counts.entrySet().stream()
                .max(Map.Entry.<String, Long>comparingByValue()
                        .thenComparing(Map.Entry.comparingByKey(Comparator.reverseOrder())))
                .map(Map.Entry::getKey)
                .orElseThrow();
    }

    /** Nearest rank: the value at rank ceil(p * n / 100) of the sorted values; 0 for no values. */
    static long percentile(long[] sorted, int p) {
        if (sorted.length == 0) {
            return 0;
        }
        long rank = Math.ceilDiv((long) p * sorted.length, 100);
        return sorted[(int) Math.max(rank, 1) - 1];
    }

    private static String pct(long part, long whole) {
        return SpendReport.share(part, whole)
                        .movePointRight(2)
                        .stripTrailingZeros()
                        .toPlainString() + "%";
    }
}
