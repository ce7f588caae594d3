package dev.tiergate.ledger;

/**
 * How the ledger's writes have been committed since it opened: {@code writes / transactions} is the average
 * group-commit batch, and {@code writesOnCaller} the writes that ran on their caller's thread because the
 * connection was quiet (SQLite at light load; always 0 on PostgreSQL). Counters only grow; the three are read
 * one after another, not as one snapshot.
 */
public record WriteStats(long transactions, long writes, long writesOnCaller) {}
