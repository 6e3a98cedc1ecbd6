/**
 * The warming path must not see the future: no module under lib/warming*, activities/warming*, workflows/warming*,
 * lib/prediction or activities/member-cron* may reach (directly or through any chain of imports) the synthetic
 * day (lib/synthetic-day/, bench/), the directory generator (directory/generator.ts: it draws the latent
 * behaviour) or any module that names the latent-truth table `member_activity_profile`. Test files are not
 * part of the path (tests may build a population as fixtures). Within the synthetic day, the policies and the
 * observable view must not reach the day generator or the population loader either.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const ROOT = resolve(__dirname, '..', '..');

function listTs(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listTs(p));
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/**
 * The warming path's production modules (absolute paths): lib/prediction, and every file or directory whose
 * name starts with `warming` under lib/, activities/ and workflows/ or with `member-cron` under activities/
 * (so a new warming module, e.g. a consumer in activities/warming-consumer/, is covered without an edit here).
 */
export function warmingPathModules(root = ROOT): string[] {
  const files = [...listTs(join(root, 'lib', 'prediction'))];
  const prefixed: [string, string][] = [
    ['lib', 'warming'],
    ['activities', 'warming'],
    ['workflows', 'warming'],
    ['activities', 'member-cron'],
  ];
  for (const [dir, prefix] of prefixed) {
    const d = join(root, dir);
    for (const name of existsSync(d) ? readdirSync(d) : []) {
      if (!name.startsWith(prefix)) continue;
      const p = join(d, name);
      if (statSync(p).isDirectory()) files.push(...listTs(p));
      else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) files.push(p);
    }
  }
  return files;
}

function resolveImport(from: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null; // packages are not project modules
  const base = resolve(dirname(from), spec);
  for (const c of [base, `${base}.ts`, `${base}.tsx`, join(base, 'index.ts')]) {
    if (c.endsWith('.ts') || c.endsWith('.tsx')) {
      if (existsSync(c) && statSync(c).isFile()) return c;
    }
  }
  if (base.endsWith('.js') && existsSync(base.replace(/\.js$/, '.ts'))) return base.replace(/\.js$/, '.ts');
  return null;
}

/** Every chain of imports from `entries` that reaches a module `isForbidden` accepts, as "a -> b -> c". */
export function forbiddenChains(entries: readonly string[], isForbidden: (file: string, source: string) => boolean, root = ROOT): string[] {
  const found: string[] = [];
  const seen = new Set<string>();
  const queue: { file: string; chain: string[] }[] = entries.map((f) => ({ file: f, chain: [relative(root, f)] }));
  while (queue.length > 0) {
    const { file, chain } = queue.shift()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    if (chain.length > 1 && isForbidden(file, source)) {
      found.push(chain.join(' -> '));
      continue;
    }
    const info = ts.preProcessFile(source, true, true);
    for (const ref of info.importedFiles) {
      const target = resolveImport(file, ref.fileName);
      if (target && !seen.has(target)) queue.push({ file: target, chain: [...chain, relative(root, target)] });
    }
  }
  return found;
}

const LATENT_TABLE = 'member_activity_profile';
/** The directory generator, split into synthesis, the latent behaviour model and the catalogue (one unit here). */
const GENERATOR_MODULES = ['directory/generator.ts', 'directory/behaviour-model.ts', 'directory/generator-catalog.ts', 'directory/generator-common.ts'];
const isLatent = (file: string, source: string): boolean => {
  const rel = relative(ROOT, file).split('\\').join('/');
  return rel.startsWith('lib/synthetic-day/') || rel.startsWith('bench/') || GENERATOR_MODULES.includes(rel) || source.includes(LATENT_TABLE);
};

describe('the warming path cannot see the synthetic day or the latent truth', () => {
  it('covers the warming-path modules that exist', () => {
    const mods = warmingPathModules().map((f) => relative(ROOT, f));
    expect(mods).toEqual(expect.arrayContaining(['lib/prediction/rule-based.ts', 'lib/warming/types.ts', 'activities/member-cron/activities.ts']));
  });

  it('no warming-path module imports the day generator, the generator or the latent-truth table, directly or transitively', () => {
    expect(forbiddenChains(warmingPathModules(), isLatent)).toEqual([]);
  });

  it('the synthetic day policies and observable view do not reach the day generator or the population loader', () => {
    const entries = ['policies.ts', 'observed.ts', 'sim.ts'].map((f) => join(ROOT, 'lib', 'synthetic-day', f));
    const isDay = (file: string, source: string): boolean =>
      ['lib/synthetic-day/day.ts', 'lib/synthetic-day/population.ts', ...GENERATOR_MODULES].includes(relative(ROOT, file).split('\\').join('/')) || source.includes(LATENT_TABLE);
    expect(forbiddenChains(entries, isDay)).toEqual([]);
  });

  it('detects a forbidden chain (the checker is not vacuous)', () => {
    // The bench and the population loader do reach the generator: the checker must say so, with the chain.
    expect(forbiddenChains([join(ROOT, 'lib', 'synthetic-day', 'population.ts')], (f) => relative(ROOT, f) === join('directory', 'generator.ts'))).toEqual([
      'lib/synthetic-day/population.ts -> directory/generator.ts',
    ]);
    const chains = forbiddenChains([join(ROOT, 'bench', 'synthetic-day.ts')], (f, s) => relative(ROOT, f) !== join('bench', 'synthetic-day.ts') && s.includes(LATENT_TABLE));
    expect(chains.some((c) => c.startsWith('bench/synthetic-day.ts -> ') && c.includes('directory/generator.ts'))).toBe(true);
  });
});
