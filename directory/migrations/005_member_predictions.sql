-- The predictor's latest prediction per member (issue 9: one probability, from the predictor).
-- Written by member-cron runs (the predictor), read by MemberQuery's min_app_usage_probability filter and sort.
-- The generator no longer fills members.app_usage_probability from its latent truth.
CREATE TABLE IF NOT EXISTS member_predictions (
  member_id             text        PRIMARY KEY,
  app_usage_probability real        NOT NULL,
  confidence            real        NOT NULL,
  predicted_window_start timestamptz,
  predicted_window_end   timestamptz,
  model_version         text        NOT NULL,
  computed_at           timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS member_predictions_probability ON member_predictions (app_usage_probability DESC, member_id);
