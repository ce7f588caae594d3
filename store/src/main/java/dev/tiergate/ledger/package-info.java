/**
 * The spend ledger and budget state: exact reservations against budget windows, settlement, lease recovery,
 * and spend queries, on SQLite (one file, one writer) or PostgreSQL (many gateway instances).
 */
@NullMarked
package dev.tiergate.ledger;

import org.jspecify.annotations.NullMarked;
