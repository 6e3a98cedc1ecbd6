-- Member directory: every attribute MemberQuery can filter on.
-- Conventions: enum-like values are stored as the proto enum value NAME (e.g. 'ACTIVE', 'HDHP') so the SQL,
-- the docs and the proto read the same. member_id uses COLLATE "C" so keyset ordering is byte order and
-- matches every client's string comparison. Large child tables reference members by the compact
-- integer member_key; they carry no foreign keys so bulk COPY stays fast (the loader writes them in one
-- transaction together with members).

CREATE TABLE payers (
  payer_id   text PRIMARY KEY,          -- Stedi tradingPartnerServiceId
  payer_name text NOT NULL
);

CREATE TABLE sponsors (
  sponsor_id               text PRIMARY KEY,
  sponsor_name             text NOT NULL,
  sponsor_type             text NOT NULL,  -- EMPLOYER | MEDICARE_PLAN | MEDICAID_PLAN | MARKETPLACE
  is_file_based_enrollment boolean NOT NULL
);

CREATE TABLE populations (
  population_id text PRIMARY KEY,
  sponsor_id    text NOT NULL REFERENCES sponsors (sponsor_id),
  description   text NOT NULL
);

CREATE TABLE insurance_plans (
  plan_id                    text PRIMARY KEY,
  sponsor_id                 text NOT NULL REFERENCES sponsors (sponsor_id),
  payer_id                   text NOT NULL REFERENCES payers (payer_id),
  payer_name                 text NOT NULL,
  plan_name                  text NOT NULL,
  plan_type                  text NOT NULL,   -- InsurancePlanFilter.PlanType name
  network_type               text NOT NULL,   -- InsurancePlanFilter.NetworkType name
  is_self_funded             boolean NOT NULL,
  has_hsa                    boolean NOT NULL,
  has_hra                    boolean NOT NULL,
  has_fsa                    boolean NOT NULL,
  has_mental_health_coverage boolean NOT NULL,
  has_prescription_coverage  boolean NOT NULL,
  has_dental_coverage        boolean NOT NULL,
  has_vision_coverage        boolean NOT NULL,
  has_telehealth_coverage    boolean NOT NULL,
  individual_deductible      double precision NOT NULL,
  family_deductible          double precision NOT NULL,
  individual_oop_max         double precision NOT NULL,
  group_number               text NOT NULL,
  employer_id                text NULL,       -- employer sponsor for group plans; NULL for individual/government plans
  effective_date             date NOT NULL,   -- start of the current plan year
  renewal_date               date NOT NULL,   -- next plan-year start (as of the population's reference time)
  is_marketplace_plan        boolean NOT NULL,
  is_subsidized              boolean NOT NULL,
  metal_tier                 text NULL,       -- InsurancePlanFilter.MetalTier name; marketplace plans only
  open_enrollment_start      date NOT NULL,   -- open enrollment window for the next plan year [start, end)
  open_enrollment_end        date NOT NULL
);
CREATE INDEX insurance_plans_plan_type_idx ON insurance_plans (plan_type);

-- Eligibility predicates attached to benefit contracts (same language as PredicateFilter.expression).
CREATE TABLE benefit_predicates (
  predicate_id text PRIMARY KEY,
  expression   text NOT NULL
);

CREATE TABLE benefit_contracts (
  contract_id            text PRIMARY KEY,
  sponsor_id             text NOT NULL REFERENCES sponsors (sponsor_id),
  population_id          text NULL,         -- NULL: every member of the sponsor
  insurance_plan_id      text NULL,         -- NULL: not plan-based; else members covered by that plan
  healthcare_service_ids text[] NOT NULL,
  starts_at              timestamptz NOT NULL,
  ends_at                timestamptz NULL,  -- exclusive; NULL = open ended
  is_top_benefit         boolean NOT NULL,
  predicate_id           text NULL REFERENCES benefit_predicates (predicate_id)
);
CREATE INDEX benefit_contracts_sponsor_idx ON benefit_contracts (sponsor_id);
CREATE INDEX benefit_contracts_services_idx ON benefit_contracts USING gin (healthcare_service_ids);

-- Customer configuration (customer-configuration service): per-sponsor feature options.
CREATE TABLE sponsor_feature_options (
  sponsor_id   text NOT NULL REFERENCES sponsors (sponsor_id),
  name         text NOT NULL,
  value_type   text NOT NULL,   -- BOOLEAN | STRING | NUMBER | JSON
  value        text NOT NULL,
  value_number double precision NULL,  -- parsed value when it is numeric
  value_json   jsonb NULL,             -- parsed value when value_type = 'JSON'
  PRIMARY KEY (sponsor_id, name)
);
CREATE INDEX sponsor_feature_options_name_idx ON sponsor_feature_options (name);

-- Database-backed feature flags (LaunchDarkly-shaped: on/off, per-context targets, fallthrough).
CREATE TABLE feature_flags (
  flag_key          text PRIMARY KEY,
  enabled           boolean NOT NULL,
  fallthrough_value boolean NOT NULL,
  off_value         boolean NOT NULL,
  updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE feature_flag_targets (
  flag_key     text NOT NULL REFERENCES feature_flags (flag_key) ON DELETE CASCADE,
  context_kind text NOT NULL,   -- e.g. 'sponsor'
  context_key  text NOT NULL,
  value        boolean NOT NULL,
  PRIMARY KEY (flag_key, context_kind, context_key)
);

CREATE TABLE families (
  family_id            text PRIMARY KEY,
  subscriber_member_id text NOT NULL,
  family_size          integer NOT NULL    -- covered lives on the subscriber's policy (enrolled here or not)
);

CREATE TABLE members (
  member_id                  text COLLATE "C" PRIMARY KEY,
  member_key                 integer NOT NULL UNIQUE,
  sponsor_id                 text NOT NULL,
  population_ids             text[] NOT NULL,
  account_status             text NOT NULL,  -- AccountStatus name
  is_mock                    boolean NOT NULL,
  first_name                 text NOT NULL,
  last_name                  text COLLATE "C" NOT NULL,
  date_of_birth              date NOT NULL,
  gender                     text NOT NULL,  -- 'M' | 'F' | 'U' (what Stedi's subscriber.gender takes)
  biological_sex             text NOT NULL,  -- MALE | FEMALE | INTERSEX | UNKNOWN
  gender_identity            text NOT NULL,
  state                      text NOT NULL,
  city                       text NOT NULL,
  zip_code                   text COLLATE "C" NOT NULL,
  time_zone                  text NOT NULL,  -- IANA
  preferred_spoken_language  text NOT NULL,
  preferred_written_language text NOT NULL,
  race_ethnicity             text NOT NULL,
  is_vip                     boolean NOT NULL,
  is_do_not_contact          boolean NOT NULL,
  is_lgbtq_plus              boolean NOT NULL,
  payer_member_id            text NOT NULL,  -- id on the insurance card of the primary coverage
  primary_plan_id            text NOT NULL,
  rte_enabled                boolean NOT NULL,
  last_eligibility_check_at  timestamptz NULL,
  family_id                  text NOT NULL,
  member_role                text NOT NULL,  -- SUBSCRIBER | BENEFICIARY | BOTH
  relationship               text NULL,      -- SPOUSE | CHILD | DOMESTIC_PARTNER | OTHER_DEPENDENT (dependents only)
  subscriber_member_id       text COLLATE "C" NULL,
  created_at                 timestamptz NOT NULL,
  last_active_at             timestamptz NULL,
  app_usage_probability      double precision NOT NULL
);
-- Index-friendly filters named by the design doc: sponsor, population, account status, demographics.
CREATE INDEX members_sponsor_idx ON members (sponsor_id, member_id);
CREATE INDEX members_population_idx ON members USING gin (population_ids);
CREATE INDEX members_account_status_idx ON members (account_status, member_id);
CREATE INDEX members_state_idx ON members (state, member_id);
CREATE INDEX members_dob_idx ON members (date_of_birth, member_id);
CREATE INDEX members_zip_idx ON members (zip_code);
CREATE INDEX members_family_idx ON members (family_id);
-- Keyset pagination for every SortOrder field (key, member_id).
CREATE INDEX members_created_sort_idx ON members (created_at, member_id);
CREATE INDEX members_last_name_sort_idx ON members (last_name, member_id);
CREATE INDEX members_app_usage_sort_idx ON members (app_usage_probability, member_id);
CREATE INDEX members_last_active_sort_idx
  ON members ((COALESCE(last_active_at, timestamptz '1970-01-01 00:00:00+00')), member_id);

CREATE TABLE coverages (
  coverage_id              text PRIMARY KEY,
  member_key               integer NOT NULL,
  plan_id                  text NOT NULL,
  payer_id                 text NOT NULL,
  payer_name               text NOT NULL,
  coverage_type            text NOT NULL,  -- PRIMARY | SECONDARY
  status                   text NOT NULL,  -- ACTIVE | PENDING | SUSPENDED | INACTIVE
  starts_on                date NOT NULL,
  ends_on                  date NULL,      -- exclusive
  policy_number            text NOT NULL,
  is_file_based_enrollment boolean NOT NULL
);
CREATE INDEX coverages_member_idx ON coverages (member_key);
CREATE INDEX coverages_plan_idx ON coverages (plan_id);

CREATE TABLE member_engagement (
  member_key                  integer PRIMARY KEY,
  cohorts                     text[] NOT NULL, -- EngagementFilter.EngagementCohort names (an activity cohort plus segments)
  last_login_at               timestamptz NULL,
  onboarding_completed        boolean NOT NULL,
  used_features               text[] NOT NULL,
  next_appointment_at         timestamptz NULL,
  unread_message_count        integer NOT NULL,
  sent_message_count          integer NOT NULL,
  push_notifications_enabled  boolean NOT NULL,
  email_notifications_enabled boolean NOT NULL
);
CREATE INDEX member_engagement_cohorts_idx ON member_engagement USING gin (cohorts);

CREATE TABLE member_care (
  member_key                    integer PRIMARY KEY,
  enrolled_programs             text[] NOT NULL,  -- CareJourneyFilter.ProgramType names
  active_service_delivery_types text[] NOT NULL,
  open_care_gap_types           text[] NOT NULL,
  active_prescription_count     integer NOT NULL,
  chronic_conditions            text[] NOT NULL,
  last_claim_at                 timestamptz NULL,
  is_high_utilizer              boolean NOT NULL
);

-- Risk, biometrics, SDOH and provider attribution (the doc's "Additional Proposed Query Selectors").
CREATE TABLE member_health (
  member_key                  integer PRIMARY KEY,
  health_risk_score           double precision NOT NULL,  -- 0..1
  churn_risk_score            double precision NOT NULL,  -- 0..1
  annual_er_visits            integer NOT NULL,
  predicted_annual_cost       double precision NOT NULL,
  wearable_device_types       text[] NOT NULL,
  last_biometric_data_at      timestamptz NULL,
  has_step_data               boolean NOT NULL,
  has_heart_rate_data         boolean NOT NULL,
  has_sleep_data              boolean NOT NULL,
  has_transportation_barrier  boolean NOT NULL,
  has_food_insecurity         boolean NOT NULL,
  has_housing_instability     boolean NOT NULL,
  requires_digital_assistance boolean NOT NULL,
  sdoh_screening_completed    boolean NOT NULL,
  pcp_attributed              boolean NOT NULL,
  provider_network_id         text NULL,
  last_provider_seen_at       timestamptz NULL,
  provider_types_seen         text[] NOT NULL
);

CREATE TABLE member_life_events (
  member_key      integer NOT NULL,
  life_event_type text NOT NULL,   -- BIRTH | MARRIAGE | JOB_CHANGE | MOVE | DIVORCE | RETIREMENT
  occurred_at     timestamptz NOT NULL
);
CREATE INDEX member_life_events_member_idx ON member_life_events (member_key, occurred_at);

-- Lifecycle event catalog (category and emitting service are properties of the event type).
CREATE TABLE event_types (
  event_type_id  smallint PRIMARY KEY,
  event_type     text NOT NULL UNIQUE,    -- e.g. domain.authentication.v1.SIGNIN
  category       text NOT NULL,           -- RecentEventFilter.EventCategory name
  source_service text NOT NULL
);

CREATE TABLE member_events (
  member_key    integer NOT NULL,
  occurred_at   timestamptz NOT NULL,
  event_type_id smallint NOT NULL,
  feature_name  text NULL                 -- FEATURE_USED events only
);
CREATE INDEX member_events_member_time_idx ON member_events (member_key, occurred_at);

-- Ground truth of the synthetic generator: the latent behaviour each member's events were drawn from.
-- Kept apart from observable data so activity predictions can be scored against it later; no query
-- filter reads this table.
CREATE TABLE member_activity_profile (
  member_key                 integer PRIMARY KEY,
  archetype                  text NOT NULL,
  base_daily_sessions        double precision NOT NULL,
  trend_per_30d              double precision NOT NULL,   -- multiplicative change of the session rate per 30 days
  hour_weights               double precision[] NOT NULL, -- 24 weights, member-local hour of day
  weekday_weights            double precision[] NOT NULL, -- 7 weights, Sunday first
  peak_hour_local            smallint NOT NULL,
  appointment_rate_per_30d   double precision NOT NULL,
  message_propensity         double precision NOT NULL,
  p_active_next_24h          double precision NOT NULL,
  p_active_next_7d           double precision NOT NULL
);

-- One row describing the loaded synthetic population (absent for real data).
CREATE TABLE directory_population (
  id                integer PRIMARY KEY CHECK (id = 1),
  seed              bigint NOT NULL,
  population        integer NOT NULL,
  reference_time    timestamptz NOT NULL,
  generator_version text NOT NULL,
  loaded_at         timestamptz NOT NULL DEFAULT now()
);
