import { fromJson, ScalarType, type DescEnum, type DescField, type DescMessage, type JsonObject, type JsonValue } from '@bufbuild/protobuf';
import { MemberQuerySchema, type MemberQuery } from '../../gen/rte/v1/member_query_pb';
import { FieldError } from '../../lib/errors';

/**
 * GraphQL's `MemberQueryInput` is generated from the proto `rte.v1.MemberQuery` descriptor, so the GraphQL and
 * Connect selectors can never drift apart: field names are the proto JSON names, enum values the proto value
 * names, and the input converts to a MemberQuery with the protobuf JSON reader (`memberQueryFromInput`).
 * The checked-in `member-query.generated.graphql` is this function's output; a unit test fails when it is stale
 * (regenerate: `npx tsx api/graphql/gen-member-query.ts`).
 *
 * Mapping: Timestamp → DateTime (RFC 3339 string), Duration → String ("86400s", protobuf JSON), map<string,bool>
 * → a list of `{ key, value }` entries. `limit` and `cursor` are left out: the connection's `first` / `after` page.
 */
const SKIPPED_FIELDS = new Set(['limit', 'cursor']);

function gqlName(typeName: string): string {
  return typeName.replace(/^rte\.v1\./, '').replace(/\./g, '');
}

function scalarType(t: ScalarType): string {
  switch (t) {
    case ScalarType.STRING:
      return 'String';
    case ScalarType.BOOL:
      return 'Boolean';
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return 'Int';
    case ScalarType.FLOAT:
    case ScalarType.DOUBLE:
      return 'Float';
    default:
      // 64-bit integers and bytes travel as strings in protobuf JSON.
      return 'String';
  }
}

interface Collected {
  messages: Map<string, DescMessage>;
  enums: Map<string, DescEnum>;
  maps: Map<string, { key: string; value: string }>;
}

function messageRef(m: DescMessage): string {
  if (m.typeName === 'google.protobuf.Timestamp') return 'DateTime';
  if (m.typeName === 'google.protobuf.Duration') return 'String';
  return `${gqlName(m.typeName)}Input`;
}

function fieldType(f: DescField, c: Collected): string {
  switch (f.fieldKind) {
    case 'scalar':
      return scalarType(f.scalar);
    case 'enum':
      c.enums.set(f.enum.typeName, f.enum);
      return gqlName(f.enum.typeName);
    case 'message':
      collect(f.message, c);
      return messageRef(f.message);
    case 'list':
      if (f.listKind === 'scalar') return `[${scalarType(f.scalar)}!]`;
      if (f.listKind === 'enum') {
        c.enums.set(f.enum.typeName, f.enum);
        return `[${gqlName(f.enum.typeName)}!]`;
      }
      collect(f.message, c);
      return `[${messageRef(f.message)}!]`;
    case 'map': {
      if (f.mapKind !== 'scalar') throw new Error(`map of ${f.mapKind} not supported (${f.name})`);
      const name = `${gqlName(f.parent.typeName)}${f.jsonName[0]!.toUpperCase()}${f.jsonName.slice(1)}Entry`;
      c.maps.set(name, { key: scalarType(f.mapKey), value: scalarType(f.scalar) });
      return `[${name}!]`;
    }
  }
}

function collect(m: DescMessage, c: Collected): void {
  if (m.typeName.startsWith('google.protobuf.') || c.messages.has(m.typeName)) return;
  c.messages.set(m.typeName, m);
  for (const f of m.fields) if (!(m === MemberQuerySchema && SKIPPED_FIELDS.has(f.localName))) fieldType(f, c);
}

/** The SDL of MemberQueryInput and every input and enum type it reaches. */
export function memberQuerySdl(): string {
  const c: Collected = { messages: new Map(), enums: new Map(), maps: new Map() };
  collect(MemberQuerySchema, c);
  const out: string[] = ['# Generated from proto/rte/v1/member_query.proto by api/graphql/member-query-sdl.ts. Do not edit.\n# Field meanings: the comments in that proto file and docs/member-query-semantics.md.\n'];
  for (const m of c.messages.values()) {
    const lines = m.fields
      .filter((f) => !(m === MemberQuerySchema && SKIPPED_FIELDS.has(f.localName)))
      .map((f) => `  ${f.jsonName}: ${fieldType(f, c)}`);
    out.push(`input ${messageRef(m)} {\n${lines.join('\n')}\n}\n`);
  }
  for (const [name, kv] of c.maps) out.push(`input ${name} {\n  key: ${kv.key}!\n  value: ${kv.value}!\n}\n`);
  for (const e of c.enums.values()) {
    out.push(`enum ${gqlName(e.typeName)} {\n${e.values.map((v) => `  ${v.name}`).join('\n')}\n}\n`);
  }
  return out.join('\n');
}

/** GraphQL map-entry lists back to protobuf JSON objects, recursively along the descriptor. */
function toProtoJson(m: DescMessage, input: Record<string, unknown>, path: string): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(input)) {
    if (value === null || value === undefined) continue;
    const f = m.fields.find((x) => x.jsonName === key);
    if (!f) throw new FieldError(`${path}.${key}`, 'unknown field');
    if (f.fieldKind === 'map') {
      const obj: JsonObject = {};
      for (const e of value as { key: string; value: JsonValue }[]) {
        if (e.key in obj) throw new FieldError(`${path}.${key}`, `duplicate key "${e.key}"`);
        obj[e.key] = e.value;
      }
      out[key] = obj;
    } else if (f.fieldKind === 'message' && !f.message.typeName.startsWith('google.protobuf.')) {
      out[key] = toProtoJson(f.message, value as Record<string, unknown>, `${path}.${key}`);
    } else if (f.fieldKind === 'list' && f.listKind === 'message' && !f.message.typeName.startsWith('google.protobuf.')) {
      const msg = f.message;
      out[key] = (value as Record<string, unknown>[]).map((v, i) => toProtoJson(msg, v, `${path}.${key}[${i}]`));
    } else {
      out[key] = value as JsonValue;
    }
  }
  return out;
}

/** A validated GraphQL MemberQueryInput (plain object) as the proto MemberQuery the directory compiles. */
export function memberQueryFromInput(input: Record<string, unknown> | null | undefined, path = 'query'): MemberQuery {
  const json = toProtoJson(MemberQuerySchema, input ?? {}, path);
  try {
    return fromJson(MemberQuerySchema, json);
  } catch (err) {
    // GraphQL has checked types and enum names; what is left is a malformed timestamp or duration string.
    throw new FieldError(path, err instanceof Error ? err.message.replace(/^cannot decode [^:]*: /, '') : 'invalid');
  }
}
