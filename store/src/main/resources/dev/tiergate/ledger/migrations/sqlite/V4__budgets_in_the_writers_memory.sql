-- SQLite has one writer, so admitting a call checks its budget windows in that writer's memory (BudgetBook) and
-- writes one row, the reservation, which now lists its windows itself (a JSON array of [budget, subject,
-- window_start]). Before, every call also updated each window's reserved and inserted a reservation_budget row
-- per window, then did both again when it settled. The windows' reserved is the sum of the open reservations on
-- them, which budget_window_status computes for readers (the CLI, the admin API, another process).
ALTER TABLE reservation ADD COLUMN windows TEXT NOT NULL DEFAULT '[]';
UPDATE reservation SET windows = (
    SELECT json_group_array(json_array(rb.budget, rb.subject, rb.window_start))
    FROM reservation_budget rb WHERE rb.reservation_id = reservation.id)
WHERE id IN (SELECT reservation_id FROM reservation_budget);
DROP TABLE reservation_budget;
ALTER TABLE budget_window DROP COLUMN reserved_nanos;
CREATE VIEW budget_window_status AS
SELECT w.budget, w.subject, w.window_start, w.window_end, w.window_kind, w.limit_nanos, w.hard, w.limit_fixed,
       w.spent_nanos,
       (SELECT COALESCE(SUM(r.amount_nanos), 0) FROM reservation r, json_each(r.windows) j
        WHERE j.value ->> 0 = w.budget AND j.value ->> 1 = w.subject AND j.value ->> 2 = w.window_start)
           AS reserved_nanos
FROM budget_window w;
