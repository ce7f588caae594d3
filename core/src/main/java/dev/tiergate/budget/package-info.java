/**
 * Spend budgets: the rules read from the {@code budgets:} section of a config file, which budgets (and which
 * calendar windows) apply to a call, and the outcome of admitting a call against them. Pure: no storage, no
 * clock reads; the store module keeps the amounts.
 */
@NullMarked
package dev.tiergate.budget;

import org.jspecify.annotations.NullMarked;
