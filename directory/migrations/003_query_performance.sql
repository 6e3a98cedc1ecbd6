-- MemberQuery performance at 1,000,000 members (issue 4; figures in docs/member-query-semantics.md,
-- "Query plans and indexes"). Indexes and planner statistics only: no table or column changes.

-- Recent-event filters narrowed to a few event types (RTE errors in the last 24 h, messages in the last
-- 72 h, ...) are answered from the event side: the compiler adds
-- `member_key IN (SELECT member_key FROM member_events WHERE event_type_id = ANY(..) AND occurred_at >= ..)`
-- and this index serves that sub-select as an index-only range scan per event type. The type comes first
-- because every pre-filter names its types; a time-first index would read every event in the window and
-- throw away the other types.
CREATE INDEX member_events_type_time_idx ON member_events (event_type_id, occurred_at, member_key);

-- Plan-driven filters (InsurancePlanFilter, benefit contracts bound to a plan) go plan → ACTIVE coverages →
-- members. Partial and covering, so that step is an index-only scan instead of a heap visit per coverage.
CREATE INDEX coverages_active_plan_member_idx ON coverages (plan_id, member_key) WHERE status = 'ACTIVE';

-- Plan attributes are strongly correlated (HDHP ⇒ HSA and a high deductible; Medicare Advantage ⇒
-- prescription coverage), so per-column statistics underestimate combined plan filters up to 30× and the
-- planner then drives a query from the wrong side. The table is small (hundreds of plans), so complete
-- multi-column MCV lists (statistics target ≥ the number of plans) make those estimates exact. The two
-- objects cover the columns InsurancePlanFilter and PredicateFilter compare.
CREATE STATISTICS insurance_plans_cost_stats (mcv)
  ON plan_type, network_type, payer_name, is_self_funded, has_hsa, individual_deductible, renewal_date, metal_tier
  FROM insurance_plans;
ALTER STATISTICS insurance_plans_cost_stats SET STATISTICS 2000;
CREATE STATISTICS insurance_plans_benefit_stats (mcv)
  ON plan_type, has_prescription_coverage, has_mental_health_coverage, has_telehealth_coverage, has_hra, has_fsa,
     is_marketplace_plan, is_subsidized
  FROM insurance_plans;
ALTER STATISTICS insurance_plans_benefit_stats SET STATISTICS 2000;

-- BOOLEAN feature options compare lower(value); without statistics on that expression the planner
-- assumes 0.5 % of a sponsor's options match and picks a per-sponsor bitmap plan that runs for seconds.
CREATE STATISTICS sponsor_feature_options_value_stats (mcv) ON name, (lower(value)) FROM sponsor_feature_options;
ALTER STATISTICS sponsor_feature_options_value_stats SET STATISTICS 2000;

-- Statistics objects are empty until the table is analysed (the population loader analyses after a load;
-- this covers directories that are already loaded).
ANALYZE insurance_plans;
ANALYZE sponsor_feature_options;
