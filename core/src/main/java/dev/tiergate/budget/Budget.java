package dev.tiergate.budget;

import dev.tiergate.pricing.Money;
import java.time.ZoneId;

/**
 * One budget from the config: a limit on the spend of the calls in {@code scope} per {@code window}.
 *
 * @param name unique name, used in denials, ledger events and queries
 * @param scope which calls count
 * @param window the period the limit covers
 * @param zone where calendar windows start at midnight (UTC unless {@code zone:} is given)
 * @param limit the limit; positive
 * @param mode deny at the limit, or alert (and maybe demote)
 */
public record Budget(String name, Scope scope, Window window, ZoneId zone, Money limit, Mode mode) {
    public Budget {
        if (name.isBlank()) {
            throw new IllegalArgumentException("a budget needs a name");
        }
        if (limit.nanos() <= 0) {
            throw new IllegalArgumentException("budget '" + name + "' limit must be positive, got " + limit);
        }
    }

    /** Whether calls are denied at the limit. */
    public boolean isHard() {
        return mode instanceof Mode.Hard;
    }
}
