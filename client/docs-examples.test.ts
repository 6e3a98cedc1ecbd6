import { readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/**
 * docs/client.md promises "one example per RPC": its TypeScript blocks must compile against the generated clients and
 * the typed client, and name every RPC of the public services. The blocks are joined into one module (their imports
 * first, rewritten to this checkout) and type-checked with the project's strictness.
 */
const ROOT = path.resolve(__dirname, '..');

function exampleModule(): string {
  const doc = readFileSync(path.join(ROOT, 'docs/client.md'), 'utf8');
  const blocks = [...doc.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const imports = new Set<string>();
  const body: string[] = [];
  for (const line of blocks.flatMap((b) => b.split('\n'))) {
    if (line.startsWith('import ')) imports.add(line.replace(/from '\.\/(gen|client)/, "from '../$1"));
    else body.push(line);
  }
  // What the examples take from their surroundings.
  const context = ['declare const identity: { currentToken(): string };', 'declare const log: { warn(x: unknown): void };', 'declare const batchId: string;'];
  return [...imports, ...context, 'export async function examples(): Promise<void> {', ...body, '}', ''].join('\n');
}

describe('docs/client.md examples', () => {
  it('compile against the generated clients (strict)', () => {
    // A virtual file in this checkout (never written), so the examples resolve packages as the project does.
    const file = path.join(ROOT, 'client', '__docs_client_examples__.ts');
    const source = exampleModule();
    const options: ts.CompilerOptions = {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.Node16,
      moduleResolution: ts.ModuleResolutionKind.Node16,
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      esModuleInterop: true,
      types: ['node'],
    };
    const host = ts.createCompilerHost(options);
    const { getSourceFile, fileExists, readFile } = host;
    host.getSourceFile = (name, lang, ...rest) => (name === file ? ts.createSourceFile(name, source, lang) : getSourceFile.call(host, name, lang, ...rest));
    host.fileExists = (name) => name === file || fileExists.call(host, name);
    host.readFile = (name) => (name === file ? source : readFile.call(host, name));
    const program = ts.createProgram([file], options, host);
    const errors = ts.getPreEmitDiagnostics(program).map((d) => {
      const where = d.file && d.start !== undefined ? `${path.basename(d.file.fileName)}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1} ` : '';
      return where + ts.flattenDiagnosticMessageText(d.messageText, '\n');
    });
    expect(errors).toEqual([]);
  }, 60_000);

  it('show every RPC of the public services', () => {
    const code = exampleModule();
    const protos = ['eligibility', 'batch', 'warming'].map((f) => readFileSync(path.join(ROOT, `proto/rte/v1/${f}.proto`), 'utf8')).join('\n');
    const rpcs = [...protos.matchAll(/^\s*rpc (\w+)\(/gm)].map((m) => m[1]!);
    expect(rpcs.length).toBeGreaterThan(10);
    const lowerFirst = (n: string) => n[0]!.toLowerCase() + n.slice(1);
    expect(rpcs.filter((rpc) => !code.includes(`.${lowerFirst(rpc)}(`))).toEqual([]);
  });
});
