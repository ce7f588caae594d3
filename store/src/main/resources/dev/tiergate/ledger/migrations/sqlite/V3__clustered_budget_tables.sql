-- Every call writes budget_window, reservation and reservation_budget twice (reserve, then settle), so each B-tree
-- they keep is pages written to the WAL on every commit. As WITHOUT ROWID tables keyed by their primary key they
-- are one B-tree each instead of a rowid table plus a primary-key index. The lease index goes: recovery scans the
-- open reservations (at most the calls in flight) every few seconds, which is cheaper than updating an index on
-- every call. Same columns, same data.
CREATE TABLE budget_window_v3 (
    budget          TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    window_start    BIGINT  NOT NULL,
    window_end      BIGINT  NOT NULL,
    window_kind     TEXT    NOT NULL,
    limit_nanos     BIGINT  NOT NULL,
    hard            INTEGER NOT NULL,
    limit_fixed     INTEGER NOT NULL,
    spent_nanos     BIGINT  NOT NULL,
    reserved_nanos  BIGINT  NOT NULL,
    PRIMARY KEY (budget, subject, window_start)
) WITHOUT ROWID;
INSERT INTO budget_window_v3 SELECT budget, subject, window_start, window_end, window_kind, limit_nanos, hard,
    limit_fixed, spent_nanos, reserved_nanos FROM budget_window;
DROP TABLE budget_window;
ALTER TABLE budget_window_v3 RENAME TO budget_window;

CREATE TABLE reservation_v3 (
    id               TEXT    PRIMARY KEY,
    request_id       TEXT    NOT NULL,
    owner            TEXT    NOT NULL,
    amount_nanos     BIGINT  NOT NULL,
    created_at       BIGINT  NOT NULL,
    lease_expires_at BIGINT  NOT NULL,
    started_at       BIGINT  NOT NULL,
    key_name         TEXT    NOT NULL,
    team             TEXT    NOT NULL,
    task_type        TEXT    NOT NULL,
    tier             TEXT    NOT NULL,
    requested_model  TEXT    NOT NULL,
    routed_model     TEXT    NOT NULL,
    run_id           TEXT    NOT NULL,
    agent_id         TEXT    NOT NULL,
    max_tokens       BIGINT  NOT NULL
) WITHOUT ROWID;
INSERT INTO reservation_v3 SELECT id, request_id, owner, amount_nanos, created_at, lease_expires_at, started_at,
    key_name, team, task_type, tier, requested_model, routed_model, run_id, agent_id, max_tokens FROM reservation;
DROP TABLE reservation;
ALTER TABLE reservation_v3 RENAME TO reservation;

CREATE TABLE reservation_budget_v3 (
    reservation_id  TEXT    NOT NULL,
    budget          TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    window_start    BIGINT  NOT NULL,
    PRIMARY KEY (reservation_id, budget, subject, window_start)
) WITHOUT ROWID;
INSERT INTO reservation_budget_v3 SELECT reservation_id, budget, subject, window_start FROM reservation_budget;
DROP TABLE reservation_budget;
ALTER TABLE reservation_budget_v3 RENAME TO reservation_budget;
