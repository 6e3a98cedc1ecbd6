import { readFileSync } from 'node:fs';
import path from 'node:path';
import { API_NODE_FLAGS } from './node-flags';

const ROOT = path.resolve(__dirname, '..');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

describe('the API starts with its node flags everywhere it is started', () => {
  it('stack/stack passes them to the api service', () => {
    const line = read('stack/stack')
      .split('\n')
      .find((l) => l.includes('api)') && l.includes('printf') && l.includes('--'));
    expect(line).toBeDefined();
    for (const flag of API_NODE_FLAGS) expect(line).toContain(flag);
  });

  it.each(['Dockerfile', 'temporal-dev.yml'])('%s starts dist/api/main.js with them', (file) => {
    const lines = read(file)
      .split('\n')
      .filter((l) => l.includes('dist/api/main.js'));
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(l).toContain(`"node", ${API_NODE_FLAGS.map((f) => JSON.stringify(f)).join(', ')}, "dist/api/main.js"`);
  });
});
