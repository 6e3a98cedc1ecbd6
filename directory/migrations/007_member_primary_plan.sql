-- Plan-field predicates (issue 10). PredicateFilter expressions over primary-plan attributes (PLAN_TYPE, PAYER_ID,
-- HAS_HSA, ...) now compile to one `LEFT JOIN insurance_plans mpl ON mpl.plan_id = m.primary_plan_id` instead of a
-- scalar subquery per member (directory/predicate/compile.ts). With this index a selective plan predicate runs
-- plan → members: the few matching plans (a seq scan of a hundred rows), then an index-only range per plan, also
-- for keyset pages (`member_id > cursor` is the second column). 100,000 members, PAYER_ID = '60054' (10 %):
-- count 189 ms (hash join over every member) → 7 ms. Index only: no table or column changes.
CREATE INDEX IF NOT EXISTS members_primary_plan_idx ON members (primary_plan_id, member_id);
