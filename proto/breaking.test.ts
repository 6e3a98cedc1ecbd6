/**
 * The breaking-change check (`scripts/check-breaking.sh`, part of `npm run proto:check`): the repo's protos keep the
 * published rte.v1 contract (proto/contract-baseline.json), and a copy of them with a change an existing client
 * would break on is refused, with the field named, while an additive change passes.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const repo = join(__dirname, '..');
const script = join(repo, 'scripts', 'check-breaking.sh');

function check(dir?: string): { code: number | null; out: string } {
  const r = spawnSync('bash', dir ? [script, dir] : [script], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** A copy of proto/ with one file's text changed by `edit` (which must change it). */
function changedCopy(file: string, edit: (text: string) => string): string {
  const dir = mkdtempSync(join(tmpdir(), 'rte-proto-'));
  cpSync(join(repo, 'proto'), dir, { recursive: true });
  const path = join(dir, file);
  const before = readFileSync(path, 'utf8');
  const after = edit(before);
  if (after === before) throw new Error(`edit did not change ${file}`);
  writeFileSync(path, after);
  return dir;
}

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('buf breaking against the published contract', () => {
  it('passes on the repo protos', () => {
    const r = check();
    expect(r.out).toContain('no breaking change');
    expect(r.code).toBe(0);
  });

  it('refuses a renumbered field, naming it and the message', () => {
    const dir = changedCopy('rte/v1/batch.proto', (t) => t.replace(/(string batch_id = )1;/, '$199;'));
    dirs.push(dir);
    const r = check(dir);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/field "1" with name "batch_id"/i);
    expect(r.out).toContain('breaks the rte.v1 contract');
  });

  it('refuses a removed enum value', () => {
    const dir = changedCopy('rte/v1/common.proto', (t) => t.replace(/^\s*CACHE_CONTROL_CACHE_ONLY = \d+;.*$/m, ''));
    dirs.push(dir);
    const r = check(dir);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/enum value "1" on enum "CacheControl" was deleted/);
  });

  it('lets an additive change through (a new field number)', () => {
    const dir = changedCopy('rte/v1/batch.proto', (t) =>
      t.replace(/message SubmitBatchResponse \{\n/, 'message SubmitBatchResponse {\n  string added_for_test = 900;\n'),
    );
    dirs.push(dir);
    const r = check(dir);
    expect(r.out).toContain('no breaking change');
    expect(r.code).toBe(0);
  });
});
