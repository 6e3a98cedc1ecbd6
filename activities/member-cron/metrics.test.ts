import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { createMemberCronMetrics, memberCronScheduleNames } from './metrics';

/** probe p16 #7: a dead-letter series created at its first increment is first scraped at N, and increase() misses it. */
describe('member_cron_events_dead_lettered_total starts at 0 for the known schedules', () => {
  it('exports a 0 series per known schedule and reason before anything is dead-lettered', async () => {
    const registry = new Registry();
    createMemberCronMetrics(registry, { knownSchedules: ['daily-rte-warmup', 'weekly-bulk-refresh'] });
    const text = await registry.metrics();
    for (const s of ['daily-rte-warmup', 'weekly-bulk-refresh']) {
      for (const r of ['build', 'publish']) expect(text).toContain(`member_cron_events_dead_lettered_total{schedule="${s}",reason="${r}"} 0`);
    }
  });

  it('without known schedules, no series (as before)', async () => {
    const registry = new Registry();
    createMemberCronMetrics(registry);
    expect(await registry.metrics()).not.toMatch(/^member_cron_events_dead_lettered_total\{/m);
  });

  it('reads the schedule names of the repo file; a missing or broken file gives none', () => {
    const repoFile = path.resolve(__dirname, '../../schedules/member-cron-schedules.yaml');
    expect(memberCronScheduleNames(['/nonexistent.yaml', repoFile])).toEqual(expect.arrayContaining(['daily-rte-warmup', 'weekly-bulk-refresh', 'monthly-full-sync']));
    const dir = mkdtempSync(path.join(tmpdir(), 'mc-names-'));
    try {
      writeFileSync(path.join(dir, 'bad.yaml'), 'schedules: [: nope');
      expect(memberCronScheduleNames([path.join(dir, 'bad.yaml')])).toEqual([]);
      expect(memberCronScheduleNames([path.join(dir, 'missing.yaml')])).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
