-- A call is settled in its reservation's own row (its outcome written into these columns, status no longer NULL),
-- instead of deleting that row, charging each of its budget windows and inserting a ledger row with its three
-- indexes: one page written on the call's path instead of six or so. A fold, every 50 ms or so, moves the settled
-- rows to the ledger and adds their cost to budget_window's spent, many calls in one transaction (SettledFold).
-- Until then a window's spent is its stored spent plus the cost of the settled rows listing it, and its reserved
-- the amount of the open rows (status NULL) listing it: budget_window_status shows both, and readers of the ledger
-- fold first.
ALTER TABLE reservation ADD COLUMN recorded_at BIGINT;
ALTER TABLE reservation ADD COLUMN served_model TEXT;
ALTER TABLE reservation ADD COLUMN input_tokens BIGINT;
ALTER TABLE reservation ADD COLUMN cache_write_5m_tokens BIGINT;
ALTER TABLE reservation ADD COLUMN cache_write_1h_tokens BIGINT;
ALTER TABLE reservation ADD COLUMN cache_read_tokens BIGINT;
ALTER TABLE reservation ADD COLUMN output_tokens BIGINT;
ALTER TABLE reservation ADD COLUMN web_search_requests BIGINT;
ALTER TABLE reservation ADD COLUMN cost_nanos BIGINT;
ALTER TABLE reservation ADD COLUMN latency_ms BIGINT;
ALTER TABLE reservation ADD COLUMN ttft_ms BIGINT;
ALTER TABLE reservation ADD COLUMN stop_reason TEXT;
ALTER TABLE reservation ADD COLUMN hit_cap INTEGER;
ALTER TABLE reservation ADD COLUMN status TEXT;
ALTER TABLE reservation ADD COLUMN error_type TEXT;
DROP VIEW budget_window_status;
CREATE VIEW budget_window_status AS
WITH held AS (
    SELECT j.value ->> 0 AS budget, j.value ->> 1 AS subject, j.value ->> 2 AS window_start,
           SUM(CASE WHEN r.status IS NULL THEN r.amount_nanos ELSE 0 END) AS reserved_nanos,
           SUM(CASE WHEN r.status IS NULL THEN 0 ELSE r.cost_nanos END) AS settled_nanos
    FROM reservation r, json_each(r.windows) j
    GROUP BY 1, 2, 3)
SELECT w.budget, w.subject, w.window_start, w.window_end, w.window_kind, w.limit_nanos, w.hard, w.limit_fixed,
       w.spent_nanos + COALESCE(h.settled_nanos, 0) AS spent_nanos, COALESCE(h.reserved_nanos, 0) AS reserved_nanos
FROM held h
RIGHT JOIN budget_window w ON w.budget = h.budget AND w.subject = h.subject AND w.window_start = h.window_start;
