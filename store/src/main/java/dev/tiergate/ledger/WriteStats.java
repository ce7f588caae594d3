package dev.tiergate.ledger;

/**
 * How the ledger's writes have been committed since it opened: {@code writes / transactions} is the average
 * group-commit batch, and {@code writesOnCaller} the writes that ran on their caller's thread because the
 * connection was quiet (SQLite at light load; always 0 on PostgreSQL). {@code holds} counts the times every write
 * was held back while another connection worked on the file alone (SQLite's WAL restart; always 0 on PostgreSQL),
 * and {@code heldNanos} is how long those holds lasted in all: a call whose reservation met one waited for it.
 * Counters only grow; they are read one after another, not as one snapshot.
 */
public record WriteStats(long transactions, long writes, long writesOnCaller, long holds, long heldNanos) {}
