export { createMemberCronActivities, MEMBER_CRON_EVENT_SCHEMA, SCHEDULE_ENABLED_FLAG, SCHEDULE_OVERRIDE_FLAG, type MemberCronActivities, type MemberCronActivityDeps } from './activities';
export { RedisEmissionLedger, InMemoryEmissionLedger } from './emission-ledger';
export { PgMemberCronSources } from './pg-member-sources';
export { memberCronEventId } from './event-id';
export { createMemberCronMetrics, memberCronScheduleNames, type MemberCronMetrics } from './metrics';
export type * from './ports';
