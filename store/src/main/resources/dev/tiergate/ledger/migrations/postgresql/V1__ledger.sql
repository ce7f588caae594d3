-- One row per budget window: the unit that is locked, reserved against and charged.
-- Times are epoch milliseconds (UTC); money is nano-USD.
CREATE TABLE budget_window (
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
);

-- Open reservations, with the call as admitted so that recovery can record it.
CREATE TABLE reservation (
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
);
CREATE INDEX reservation_lease ON reservation (lease_expires_at);

CREATE TABLE reservation_budget (
    reservation_id  TEXT    NOT NULL,
    budget          TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    window_start    BIGINT  NOT NULL,
    PRIMARY KEY (reservation_id, budget, subject, window_start)
);

-- One row per call. Never the gateway key itself: only its name.
CREATE TABLE ledger (
    seq                    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id             TEXT    NOT NULL UNIQUE,
    reservation_id         TEXT    NOT NULL,
    started_at             BIGINT  NOT NULL,
    recorded_at            BIGINT  NOT NULL,
    key_name               TEXT    NOT NULL,
    team                   TEXT    NOT NULL,
    task_type              TEXT    NOT NULL,
    tier                   TEXT    NOT NULL,
    requested_model        TEXT    NOT NULL,
    routed_model           TEXT    NOT NULL,
    served_model           TEXT    NOT NULL,
    run_id                 TEXT    NOT NULL,
    agent_id               TEXT    NOT NULL,
    input_tokens           BIGINT  NOT NULL,
    cache_write_5m_tokens  BIGINT  NOT NULL,
    cache_write_1h_tokens  BIGINT  NOT NULL,
    cache_read_tokens      BIGINT  NOT NULL,
    output_tokens          BIGINT  NOT NULL,
    web_search_requests    BIGINT  NOT NULL,
    cost_nanos             BIGINT  NOT NULL,
    latency_ms             BIGINT,
    ttft_ms                BIGINT,
    stop_reason            TEXT    NOT NULL,
    max_tokens             BIGINT  NOT NULL,
    hit_cap                INTEGER NOT NULL,
    status                 TEXT    NOT NULL,
    error_type             TEXT    NOT NULL
);
CREATE INDEX ledger_started ON ledger (started_at);
CREATE INDEX ledger_run ON ledger (run_id);

CREATE TABLE ledger_event (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at            BIGINT  NOT NULL,
    kind          TEXT    NOT NULL,
    budget        TEXT    NOT NULL,
    subject       TEXT    NOT NULL,
    window_start  BIGINT  NOT NULL,
    request_id    TEXT    NOT NULL,
    amount_nanos  BIGINT  NOT NULL,
    detail        TEXT    NOT NULL
);
CREATE INDEX ledger_event_at ON ledger_event (at);
