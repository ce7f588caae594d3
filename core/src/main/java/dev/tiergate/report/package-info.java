/**
 * Reports over recorded calls: spend by task type, tier, model and day, frontier share, truncation, the
 * all-frontier and what-if counterfactuals ({@link dev.tiergate.report.SpendReport}), and output-cap suggestions
 * ({@link dev.tiergate.report.CapReport}). Pure arithmetic over {@link dev.tiergate.report.CallFacts}; reading a
 * ledger is the caller's job.
 */
@NullMarked
package dev.tiergate.report;

import org.jspecify.annotations.NullMarked;
