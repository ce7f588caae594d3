-- Quality evidence from shadow evaluation (a judge compared a cheaper candidate with the served answer) and from
-- external feedback on a served call. One row per comparison or feedback; read by `tiergate calibrate --db`.
-- Scores are in [0, 1]; money is nano-USD; times are epoch milliseconds (UTC).
CREATE TABLE shadow_evidence (
    seq                     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id              TEXT    NOT NULL,
    recorded_at             BIGINT  NOT NULL,
    task_type               TEXT    NOT NULL,
    source                  TEXT    NOT NULL,
    served_model            TEXT    NOT NULL,
    served_score            DOUBLE PRECISION NOT NULL,
    served_input_tokens     BIGINT  NOT NULL,
    served_output_tokens    BIGINT  NOT NULL,
    served_cost_nanos       BIGINT  NOT NULL,
    candidate_model         TEXT    NOT NULL,
    candidate_score         DOUBLE PRECISION NOT NULL,
    candidate_input_tokens  BIGINT  NOT NULL,
    candidate_output_tokens BIGINT  NOT NULL,
    candidate_cost_nanos    BIGINT  NOT NULL,
    judge_cost_nanos        BIGINT  NOT NULL
);
CREATE INDEX shadow_evidence_recorded ON shadow_evidence (recorded_at);
CREATE INDEX shadow_evidence_request ON shadow_evidence (request_id);
