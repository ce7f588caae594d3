package dev.tiergate.workflow;

import dev.tiergate.pricing.Money;
import java.util.Optional;

/**
 * The spend cap a workflow run asks for: none, or a total in nano-USD.
 *
 * <p>The runner does not enforce the cap itself. It hands the budget to the {@link TaskExecutor} in every {@link
 * TaskContext}, and the executor's budget admission (the gateway, from {@code x-tiergate-run-budget-usd}, or the
 * in-process ledger) enforces it exactly, reservations included. A second, local sum of completed costs would
 * only lag behind the ledger, which already counts in-flight reservations. See {@link WorkflowRunner}.
 */
public sealed interface RunBudget permits RunBudget.Unlimited, RunBudget.Capped {

    /** No run cap: only the budgets the executor applies anyway (global, key, team, task type). */
    static RunBudget unlimited() {
        return Unlimited.INSTANCE;
    }

    /**
     * A total cap for the whole run.
     *
     * @throws IllegalArgumentException if {@code limit} is not positive
     */
    static RunBudget capped(Money limit) {
        return new Capped(limit);
    }

    /** The cap, or empty when the run is {@link Unlimited}. */
    default Optional<Money> limit() {
        return switch (this) {
            case Unlimited u -> Optional.empty();
            case Capped c -> Optional.of(c.cap());
        };
    }

    /** No run cap. */
    enum Unlimited implements RunBudget {
        /** The only value. */
        INSTANCE;

        @Override
        public String toString() {
            return "unlimited";
        }
    }

    /**
     * A total cap for the run.
     *
     * @param cap the most the whole run may spend, in nano-USD; positive
     */
    record Capped(Money cap) implements RunBudget {

        /** Requires a positive cap. */
        public Capped {
            if (cap.compareTo(Money.ZERO) <= 0) {
                throw new IllegalArgumentException("run budget must be positive, got " + cap);
            }
        }

        @Override
        public String toString() {
            return cap.toString();
        }
    }
}
