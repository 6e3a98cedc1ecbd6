-- Batch RPC storage: submitted member ids (raw ids stay in PostgreSQL, never in Temporal history, Redis
-- or Kafka) and per-member errors, paged by GetBatchStatus.
CREATE TABLE IF NOT EXISTS batch_member_lists (
  list_ref   text        NOT NULL,
  idx        integer     NOT NULL,
  member_id  text        NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (list_ref, idx)
);

CREATE TABLE IF NOT EXISTS batch_member_errors (
  batch_id      text        NOT NULL,
  member_index  integer     NOT NULL,
  member_id     text        NOT NULL,
  error_code    text        NOT NULL,
  error_message text        NOT NULL,
  occurred_at   timestamptz NOT NULL,
  PRIMARY KEY (batch_id, member_index)
);
