package dev.tiergate.budget;

import dev.tiergate.policy.Priority;

/** What happens when a budget's limit is reached. */
public sealed interface Mode permits Mode.Hard, Mode.Soft {

    /** Deny any call whose worst case would take spent + reserved above the limit. */
    record Hard() implements Mode {}

    /**
     * Never deny; alert (metric, log line, ledger event) when settled spend crosses the limit and, while spend is
     * at or over it, demote task types with a priority below {@code demoteBelow} to {@code demoteToTier}.
     *
     * @param demoteBelow task types strictly below this priority are demoted; {@link Priority#LOW} demotes none
     * @param demoteToTier the tier demoted calls go to; empty exactly when nothing is demoted
     */
    record Soft(Priority demoteBelow, String demoteToTier) implements Mode {
        /** Alert only, demote nothing. */
        public static final Soft ALERT_ONLY = new Soft(Priority.LOW, "");

        public Soft {
            if ((demoteBelow == Priority.LOW) != demoteToTier.isEmpty()) {
                throw new IllegalArgumentException("a soft budget demotes (priority above low and a tier) or not"
                        + " (low and no tier), got below " + demoteBelow + " to '" + demoteToTier + "'");
            }
        }

        /** Whether a task type of {@code priority} is demoted while this budget is over its limit. */
        public boolean demotes(Priority priority) {
            return priority.compareTo(demoteBelow) < 0;
        }
    }
}
