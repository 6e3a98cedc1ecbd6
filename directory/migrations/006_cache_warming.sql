-- Cache warming: durable records of every warm, so GetWarmingStats and the prediction-accuracy gauge are
-- computed from facts (issue 9). Members appear only as keyed hashes (lib/member-hash.ts), like cache keys.

-- One row per warming job (a cacheWarmingWorkflow run: WarmCache, a warming schedule, or the member-cron consumer).
CREATE TABLE IF NOT EXISTS cache_warming_jobs (
  job_id       text        PRIMARY KEY,
  source       text        NOT NULL,          -- e.g. 'manual-trigger', 'member-cron-daily-rte-warmup', 'schedule-morning-preload'
  priority     text        NOT NULL,          -- 'URGENT' | 'PRELOAD' | 'BACKGROUND'
  strategy     text        NOT NULL,          -- 'INTELLIGENT' | 'FORCE' | 'FILL_ONLY'
  created_at   timestamptz NOT NULL DEFAULT now(),
  finished_at  timestamptz,
  status       text        NOT NULL           -- RUNNING | WAITING | COMPLETED | FAILED | CANCELLED | PARTIALLY_COMPLETED
);

-- One row per (job, member, operation) decision and outcome.
CREATE TABLE IF NOT EXISTS cache_warms (
  job_id        text        NOT NULL,
  member_hash   text        NOT NULL,
  operation     text        NOT NULL,
  source        text        NOT NULL,
  priority      text        NOT NULL,
  path          text        NOT NULL,         -- 'realtime' | 'batch_api' | 'none' (skipped)
  outcome       text        NOT NULL,         -- 'pending' | 'warmed' | 'skipped_fresh' | 'skipped_cached' | 'failed' | 'cancelled'
  reason        text,                         -- why it failed / was skipped
  accepted_at   timestamptz NOT NULL,         -- when the job durably accepted the member
  not_before    timestamptz,                  -- planned warm time (held by a durable timer until then)
  started_at    timestamptz,
  completed_at  timestamptz,                  -- when the warmed entry was written (= cache entry fetchedAt)
  horizon_until timestamptz,                  -- a read before this counts as the warm being used
  first_used_at timestamptz,                  -- first interactive read served from this warmed entry
  used_result   text,                         -- cache status of that read: 'HIT' | 'STALE'
  PRIMARY KEY (job_id, member_hash, operation)
);
CREATE INDEX IF NOT EXISTS cache_warms_completed ON cache_warms (completed_at) WHERE completed_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS cache_warms_member ON cache_warms (member_hash, operation, completed_at DESC);

-- Interactive CheckEligibility reads, aggregated per hour, split by whether the member had a warm completed within
-- the read's horizon (for the warmed-vs-not-warmed hit rate). Written by the API in batches.
CREATE TABLE IF NOT EXISTS cache_read_counts (
  hour    timestamptz NOT NULL,
  warmed  boolean     NOT NULL,
  result  text        NOT NULL,                -- 'HIT' | 'STALE' | 'MISS' | 'ERROR'
  reads   bigint      NOT NULL DEFAULT 0,
  PRIMARY KEY (hour, warmed, result)
);
