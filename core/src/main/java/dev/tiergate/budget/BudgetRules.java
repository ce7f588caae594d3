package dev.tiergate.budget;

import dev.tiergate.policy.Priority;
import dev.tiergate.pricing.Money;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * A validated set of budgets, and the pure function from a call's attributes to the budget windows it counts
 * against. Built by {@link BudgetLoader}; immutable and thread-safe.
 */
public final class BudgetRules {
    /**
     * The budget that holds a run's cap requested with {@code x-tiergate-run-budget-usd} when no hard run budget
     * ({@code run: <id>} or {@code per_run}) applies to the run: hard, total. Reserved as a config name.
     */
    public static final String REQUESTED_RUN_BUDGET = "run-requested";

    /**
     * The limit of a run's {@link #REQUESTED_RUN_BUDGET} window on calls that request no cap: it denies nothing,
     * and a cap requested by any call replaces it. Those calls still count against the window, so that a cap
     * covers every call of the run: those before it and those after it that do not repeat the header.
     */
    public static final Money NO_RUN_CAP = Money.ofNanos(Long.MAX_VALUE);

    /** No budgets: every call is admitted. */
    public static final BudgetRules NONE = new BudgetRules(List.of());

    private final List<Budget> budgets;

    /** Budgets in config order; names must be unique. */
    public BudgetRules(List<Budget> budgets) {
        this.budgets = List.copyOf(budgets);
        if (this.budgets.stream().map(Budget::name).distinct().count() != this.budgets.size()) {
            throw new IllegalArgumentException("budget names must be unique: " + this.budgets);
        }
    }

    /** The budgets, in config order. */
    public List<Budget> budgets() {
        return budgets;
    }

    /** The budget named {@code name}, if configured. */
    public Optional<Budget> find(String name) {
        return budgets.stream().filter(b -> b.name().equals(name)).findFirst();
    }

    /**
     * The budget windows a call at {@code now} counts against, in {@link AppliedBudget#ORDER}.
     *
     * <p>A run id matches budgets configured for that run; if there is none, each {@code per_run} budget applies
     * to it. A requested run cap is a hard cap on the run: a hard run budget ({@code run: <id>} or {@code
     * per_run}) takes it instead of its configured limit when it is lower. When no hard run
     * budget applies (none configured for the run, or only soft ones, which keep their own limit and alert at it),
     * every call of a run also counts against the hard total budget {@link #REQUESTED_RUN_BUDGET}, limited by the
     * requested cap, or by {@link #NO_RUN_CAP} if the call requests none. The store keeps the lowest cap any call of
     * the run requested, and counts the run's calls before it too. Empty when no budget applies.
     */
    public List<AppliedBudget> applicable(CallAttributes call, Instant now) {
        List<AppliedBudget> out = new ArrayList<>();
        boolean namedRun = budgets.stream()
                .anyMatch(b -> b.scope() instanceof Scope.Run r
                        && !call.runId().isEmpty()
                        && r.runId().equals(call.runId()));
        Money requested = call.requestedRunBudget();
        boolean hardRunBudget = false;
        for (Budget b : budgets) {
            boolean applies = switch (b.scope()) {
                case Scope.Global g -> true;
                case Scope.Key k -> k.keyName().equals(call.keyName());
                case Scope.Team t -> t.team().equals(call.team());
                case Scope.TaskType t -> t.taskType().equals(call.taskType());
                case Scope.Run r -> namedRun && r.runId().equals(call.runId());
                case Scope.EachRun e -> !namedRun && !call.runId().isEmpty();
            };
            if (!applies) {
                continue;
            }
            boolean run = b.scope() instanceof Scope.Run || b.scope() instanceof Scope.EachRun;
            if (run && b.isHard()) {
                // a hard run budget, configured for this run or for each run, takes the caller's cap when lower
                hardRunBudget = true;
                boolean lower = requested.nanos() > 0 && b.limit().isGreaterThan(requested);
                out.add(window(b, call.runId(), lower ? requested : b.limit(), requested.nanos() > 0, now));
            } else {
                // a soft run budget keeps its own limit: it only alerts, and a cap the caller asked for must deny,
                // so that cap goes to run-requested below
                out.add(window(b, run ? call.runId() : "", b.limit(), false, now));
            }
        }
        if (!hardRunBudget && !call.runId().isEmpty()) {
            // even without a cap: the run's spend must be in its window before a cap arrives, or it would escape it
            boolean capped = requested.nanos() > 0;
            out.add(new AppliedBudget(
                    REQUESTED_RUN_BUDGET,
                    call.runId(),
                    Window.TOTAL,
                    Window.TOTAL.start(now, ZoneOffset.UTC),
                    Window.NEVER,
                    capped ? requested : NO_RUN_CAP,
                    true,
                    capped));
        }
        out.sort(AppliedBudget.ORDER);
        return List.copyOf(out);
    }

    /**
     * The window containing {@code now} of each configured budget that can be named before any call: every budget
     * except the {@code per_run: true} ones, whose windows exist per run id and so only once a run is seen. A
     * {@code run: <id>} budget's window has that run id as its subject. In {@link AppliedBudget#ORDER}; empty when
     * no such budget is configured.
     */
    public List<AppliedBudget> currentWindows(Instant now) {
        List<AppliedBudget> out = new ArrayList<>();
        for (Budget b : budgets) {
            switch (b.scope()) {
                case Scope.EachRun e -> {}
                case Scope.Run r -> out.add(window(b, r.runId(), b.limit(), false, now));
                case Scope.Global g -> out.add(window(b, "", b.limit(), false, now));
                case Scope.Key k -> out.add(window(b, "", b.limit(), false, now));
                case Scope.Team t -> out.add(window(b, "", b.limit(), false, now));
                case Scope.TaskType t -> out.add(window(b, "", b.limit(), false, now));
            }
        }
        out.sort(AppliedBudget.ORDER);
        return List.copyOf(out);
    }

    /**
     * {@code used} (the windows a ledger holds) together with a status of nothing spent and nothing reserved for
     * each of {@link #currentWindows} that {@code used} lacks, so that a listing shows every configured budget
     * before its first call. A window in {@code used} is kept as it is (its limit may be one set on first use, or
     * from an earlier config). In {@link AppliedBudget#ORDER}.
     */
    public List<BudgetStatus> withUnusedWindows(List<BudgetStatus> used, Instant now) {
        List<BudgetStatus> out = new ArrayList<>(used);
        for (AppliedBudget w : currentWindows(now)) {
            if (used.stream().noneMatch(s -> s.budget().sameWindow(w))) {
                out.add(new BudgetStatus(w, w.limit(), Money.ZERO, Money.ZERO));
            }
        }
        out.sort(Comparator.comparing(BudgetStatus::budget, AppliedBudget.ORDER));
        return List.copyOf(out);
    }

    /**
     * The tier to demote a call of {@code priority} to, given the status of the windows it counts against: the
     * first soft budget (in config order) whose settled spend has reached its limit and that demotes this
     * priority. Empty: route as the policy says.
     */
    public Optional<String> demotion(Priority priority, List<BudgetStatus> statuses) {
        for (Budget b : budgets) {
            if (b.mode() instanceof Mode.Soft soft && soft.demotes(priority)) {
                boolean over =
                        statuses.stream().anyMatch(s -> s.budget().budget().equals(b.name()) && s.isSpent());
                if (over) {
                    return Optional.of(soft.demoteToTier());
                }
            }
        }
        return Optional.empty();
    }

    private static AppliedBudget window(Budget b, String subject, Money limit, boolean requestedCap, Instant now) {
        return new AppliedBudget(
                b.name(),
                subject,
                b.window(),
                b.window().start(now, b.zone()),
                b.window().end(now, b.zone()),
                limit,
                b.isHard(),
                requestedCap);
    }

    @Override
    public String toString() {
        return "BudgetRules" + budgets;
    }
}
