import { createHash } from 'node:crypto';

/**
 * Event id = hash(schedule, scheduled time, member): the same member in the same tick of the same
 * schedule always gets the same id, so reruns, retries and consumers can all de-duplicate on it.
 * Takes the keyed member hash (lib/member-hash.ts), never the raw id, so the id reveals nothing.
 */
export function memberCronEventId(scheduleName: string, scheduledTime: string, memberHash: string): string {
  return createHash('sha256').update(`member-cron\u0000${scheduleName}\u0000${scheduledTime}\u0000${memberHash}`).digest('hex').slice(0, 40);
}
