-- On SQLite, V4 moves the windows' reserved out of budget_window (the one writer keeps it in memory) and readers
-- use this view, which sums it from the open reservations. PostgreSQL instances share reserved as a column, so
-- here the view is the table; both dialects read budget status through the same name.
CREATE VIEW budget_window_status AS
SELECT budget, subject, window_start, window_end, window_kind, limit_nanos, hard, limit_fixed, spent_nanos,
       reserved_nanos
FROM budget_window;
