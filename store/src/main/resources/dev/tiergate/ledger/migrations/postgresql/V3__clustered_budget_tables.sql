-- The tables every call writes twice (budget windows updated, reservations inserted then deleted) accumulate dead
-- row versions faster than the default autovacuum thresholds (20% of a tiny table) notice: vacuum them after a
-- fixed number of changes instead, and leave room in each page so that updates stay on their page (HOT).
-- (On SQLite, V3 instead rebuilds these tables WITHOUT ROWID; both dialects share one version number.)
ALTER TABLE budget_window SET (fillfactor = 50, autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000,
    autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 1000);
ALTER TABLE reservation SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000,
    autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 1000);
ALTER TABLE reservation_budget SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000,
    autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 1000);
