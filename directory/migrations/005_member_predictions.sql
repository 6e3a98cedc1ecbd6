-- The predictor's latest prediction per member (issue 9: one probability, from the predictor).
-- Written by member-cron runs (the predictor) and the up path's bootstrap pass (directory/member-predictions.ts),
-- read by MemberQuery's min_app_usage_probability filter and APP_USAGE_PROBABILITY sort (LEFT JOIN: a member never
-- predicted has no probability and fails any min filter).
-- double precision (not real): the filter, the sort keyset cursor and the reference evaluator compare exact doubles.
CREATE TABLE IF NOT EXISTS member_predictions (
  member_id             text        PRIMARY KEY,
  app_usage_probability double precision NOT NULL,
  confidence            double precision NOT NULL,
  predicted_window_start timestamptz,
  predicted_window_end   timestamptz,
  model_version         text        NOT NULL,
  computed_at           timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS member_predictions_probability ON member_predictions (app_usage_probability DESC, member_id);

-- The generator no longer fills members.app_usage_probability from its latent truth: the column stays NULL
-- (kept for compatibility; nothing reads it).
ALTER TABLE members ALTER COLUMN app_usage_probability DROP NOT NULL;
