package dev.tiergate.ledger;

import java.time.Instant;
import java.util.Set;

/**
 * A filter and page of the calls listing, newest first. Empty strings and an empty status set match everything.
 *
 * @param since calls started at or after this
 * @param until calls started before this
 * @param keyName only this key name
 * @param team only this team
 * @param taskType only this task type
 * @param runId only this workflow run
 * @param statuses only these statuses
 * @param limit at most this many rows, 1..1000
 * @param before only rows with a {@link LedgerRow#seq} below this (the previous page's {@link CallPage#next});
 *     {@link Long#MAX_VALUE} for the first page
 */
public record CallQuery(
        Instant since,
        Instant until,
        String keyName,
        String team,
        String taskType,
        String runId,
        Set<CallStatus> statuses,
        int limit,
        long before) {
    public CallQuery {
        statuses = Set.copyOf(statuses);
        if (limit < 1 || limit > 1000) {
            throw new IllegalArgumentException("page size must be between 1 and 1000, got " + limit);
        }
    }

    /** The newest {@code limit} calls, unfiltered. */
    public static CallQuery latest(int limit) {
        return new CallQuery(
                Instant.EPOCH, Instant.parse("9999-12-31T00:00:00Z"), "", "", "", "", Set.of(), limit, Long.MAX_VALUE);
    }

    /** The same filter for the page after {@code page}. */
    public CallQuery after(CallPage page) {
        return new CallQuery(since, until, keyName, team, taskType, runId, statuses, limit, page.next());
    }
}
