import type { TestPlatform } from './platform';

/**
 * Zones whose offsets span the day (UTC−10 to UTC+12). The synthetic population lives in American zones only, and
 * between 20:00 and 22:00 UTC no hour window is open in any of them on a weekday evening or a weekend (business hours
 * are open everywhere or nowhere; mornings and nights are hours away). Tests that need a window open now in one zone
 * and closed in another choose from these and move a member there with `moveMemberToZone`.
 */
export const WORLD_ZONES: readonly string[] = [
  'Pacific/Honolulu',
  'America/Anchorage',
  'America/Los_Angeles',
  'America/Denver',
  'America/Chicago',
  'America/New_York',
  'America/Sao_Paulo',
  'Atlantic/Azores',
  'Europe/London',
  'Europe/Berlin',
  'Europe/Moscow',
  'Asia/Dubai',
  'Asia/Kolkata',
  'Asia/Bangkok',
  'Asia/Tokyo',
  'Australia/Sydney',
  'Pacific/Auckland',
];

/** Moves a member into `timeZone` in the test platform's private directory (batch planning reads zones from it). */
export async function moveMemberToZone(p: TestPlatform, memberId: string, timeZone: string): Promise<void> {
  const r = await p.directory.pool.query('update members set time_zone = $1 where member_id = $2', [timeZone, memberId]);
  if (r.rowCount !== 1) throw new Error(`member ${memberId} is not in the test directory`);
}
