-- Per-member outcomes of a batch, for WatchBatchStatus's MEMBER_COMPLETED updates (asked for with event_types).
-- One row per member of a batch (first outcome wins, so retried activities never duplicate a member); `seq`
-- orders rows for the stream's cursor. Raw member ids stay in PostgreSQL, like batch_member_lists.
-- Rows older than BATCH_OUTCOME_RETENTION_DAYS are purged whenever a batch finishes.
CREATE TABLE IF NOT EXISTS batch_member_outcomes (
  batch_id      text        NOT NULL,
  member_index  integer     NOT NULL,
  member_id     text        NOT NULL,
  success       boolean     NOT NULL,
  duration_ms   integer     NULL,
  error_message text        NULL,
  seq           bigserial   NOT NULL,
  recorded_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (batch_id, member_index)
);
CREATE INDEX IF NOT EXISTS batch_member_outcomes_seq_idx ON batch_member_outcomes (batch_id, seq);
CREATE INDEX IF NOT EXISTS batch_member_outcomes_recorded_idx ON batch_member_outcomes (recorded_at);
