import { create, ScalarType, type DescField, type DescMessage, type Message } from '@bufbuild/protobuf';

/**
 * Issue 14: a parser for the plain shape of a small request message's Connect JSON (a JSON object whose keys are the
 * message's JSON field names, with string values for string fields, a known value name for enum fields and an array
 * of strings for repeated string fields). For such a body it returns the message connect-es's `fromJson` would
 * return; for anything else (another shape, a proto field name, null, a number for an enum, bad JSON, an unknown
 * key, a duplicate key, any backslash escape) it returns undefined and the caller parses the body with connect-es, which answers it or refuses it exactly
 * as before. Only messages whose fields are all implicit-presence strings, enums or repeated strings outside a oneof
 * get a parser (undefined otherwise). api/fast-json-input.test.ts compares it with connect-es over a corpus and
 * generated bodies.
 */
export function createPlainJsonParser<T extends Message>(schema: DescMessage): ((bytes: Uint8Array) => T | undefined) | undefined {
  type Kind = { kind: 'string' } | { kind: 'strings' } | { kind: 'enum'; values: Map<string, number> };
  const byJsonName = new Map<string, { localName: string } & Kind>();
  for (const f of schema.fields) {
    const kind = kindOf(f);
    if (!kind) return undefined;
    byJsonName.set(f.jsonName, { localName: f.localName, ...kind });
  }
  // The same decoder settings as connect-es's JSON serialization (UTF-8, BOM stripped, invalid bytes replaced).
  const decoder = new TextDecoder();
  return (bytes) => {
    const text = decoder.decode(bytes);
    // connect-es refuses duplicate keys, which JSON.parse collapses (also when spelled with \u escapes): a body with
    // a backslash anywhere is left to it, and so is one where a key's quoted name occurs more than once.
    if (text.includes('\\')) return undefined;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return undefined;
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) return undefined;
    const init: Record<string, unknown> = {};
    for (const key of Object.keys(json)) {
      const f = byJsonName.get(key);
      if (!f) return undefined;
      const quoted = `"${key}"`;
      const at = text.indexOf(quoted);
      if (at < 0 || text.indexOf(quoted, at + 1) >= 0) return undefined;
      const v = (json as Record<string, unknown>)[key];
      if (f.kind === 'string') {
        if (typeof v !== 'string') return undefined;
        init[f.localName] = v;
      } else if (f.kind === 'enum') {
        if (typeof v !== 'string') return undefined;
        const n = f.values.get(v);
        if (n === undefined) return undefined;
        init[f.localName] = n;
      } else {
        if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) return undefined;
        init[f.localName] = v.slice();
      }
    }
    return create(schema, init as never) as T;
  };
}

function kindOf(f: DescField): { kind: 'string' } | { kind: 'strings' } | { kind: 'enum'; values: Map<string, number> } | undefined {
  if (f.oneof) return undefined;
  if (f.fieldKind === 'scalar' && f.scalar === ScalarType.STRING && f.presence === IMPLICIT_PRESENCE) return { kind: 'string' };
  if (f.fieldKind === 'list' && f.listKind === 'scalar' && f.scalar === ScalarType.STRING) return { kind: 'strings' };
  if (f.fieldKind === 'enum' && f.presence === IMPLICIT_PRESENCE && f.enum.typeName !== 'google.protobuf.NullValue') {
    return { kind: 'enum', values: new Map(f.enum.values.map((v) => [v.name, v.number])) };
  }
  return undefined;
}
/** FeatureSet_FieldPresence.IMPLICIT (proto3 fields without `optional`). */
const IMPLICIT_PRESENCE = 2;
