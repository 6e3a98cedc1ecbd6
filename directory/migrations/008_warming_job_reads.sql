-- GetWarmingJob (one warming job's state for its client) reads the job's durable record when its workflow cannot be
-- asked (Temporal unreachable, or past retention): who asked for it (a WarmCache job is visible to that service
-- only), why it ended, how many members it has and which operations. Written by the warming workflow's job record.
ALTER TABLE cache_warming_jobs ADD COLUMN IF NOT EXISTS requested_by  text;         -- WarmCache caller service; NULL for platform jobs
ALTER TABLE cache_warming_jobs ADD COLUMN IF NOT EXISTS status_reason text;         -- why FAILED / CANCELLED
ALTER TABLE cache_warming_jobs ADD COLUMN IF NOT EXISTS members       integer;      -- members in the job (known once resolved)
ALTER TABLE cache_warming_jobs ADD COLUMN IF NOT EXISTS operations    text[];
ALTER TABLE cache_warming_jobs ADD COLUMN IF NOT EXISTS started_at    timestamptz;
ALTER TABLE cache_warming_jobs ADD COLUMN IF NOT EXISTS updated_at    timestamptz;
