package dev.tiergate.ledger;

import java.util.Locale;

/** What to group spend by. */
public enum GroupBy {
    TASK_TYPE,
    TIER,
    /** The served model. */
    MODEL,
    KEY,
    TEAM,
    RUN,
    /** The UTC day the call started. */
    DAY;

    /** Parses {@code task}, {@code task_type}, {@code tier}, {@code model}, {@code key}, {@code team}, {@code run}, {@code day}. */
    public static GroupBy parse(String word) {
        String w = word.trim().toLowerCase(Locale.ROOT);
        if (w.equals("task")) {
            return TASK_TYPE;
        }
        try {
            return valueOf(w.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    "cannot group spend by '" + word + "'; use one of task, tier, model, key, team, run, day", e);
        }
    }
}
