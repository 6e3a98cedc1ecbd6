import { fromJson, type DescEnum, type DescMessage } from '@bufbuild/protobuf';
import { reflect, type ReflectMessage } from '@bufbuild/protobuf/reflect';
import { Code, ConnectError, type Interceptor } from '@connectrpc/connect';
import { dirname, join } from 'node:path';

/**
 * Strict input, for every RPC (issue 10, "inputs silently reinterpreted"): nothing a client sends may be ignored
 * or quietly mean something else.
 * - JSON: unknown fields and unknown enum strings are refused by the JSON codec (`STRICT_JSON_OPTIONS`).
 * - Binary (Connect proto, gRPC, gRPC-Web): protobuf keeps unknown field numbers aside and accepts any enum
 *   number (open enums), so `strictInputInterceptor` walks the decoded request over its descriptor and refuses
 *   both, naming the field path (snake_case, `[i]` for list items, `["key"]` for map entries).
 * - A body that is not protobuf at all is `invalid_argument`, not `internal` (`installBinaryParseErrorMapping`).
 */

/**
 * Connect's JSON codec ignores unknown fields by default; the protobuf JSON spec (and this API) refuses them.
 * Answers spell out zero values (`"eventType":"EVENT_TYPE_STARTED"`, `"status":"BATCH_STATUS_PENDING"`,
 * `"completed":0`): a JSON client reading a field never has to know that its absence means the zero value.
 */
export const STRICT_JSON_OPTIONS = { ignoreUnknownFields: false, alwaysEmitImplicit: true } as const;

export interface InputProblem {
  path: string;
  message: string;
}

function knownEnum(e: DescEnum, n: number): boolean {
  return e.values.some((v) => v.number === n);
}

function join2(path: string, name: string): string {
  return path === '' ? name : `${path}.${name}`;
}

function enumProblem(e: DescEnum, n: unknown, path: string): InputProblem | undefined {
  if (typeof n === 'number' && knownEnum(e, n)) return undefined;
  return { path, message: `unknown ${e.typeName} value ${String(n)} (one of ${e.values.map((v) => v.name).join(', ')})` };
}

function walk(r: ReflectMessage, path: string): InputProblem | undefined {
  const unknown = r.getUnknown();
  if (unknown && unknown.length > 0) {
    return { path: path === '' ? r.desc.typeName : path, message: `unknown field number ${unknown[0]!.no} in ${r.desc.typeName}` };
  }
  for (const field of r.fields) {
    if (!r.isSet(field)) continue;
    const p = join2(path, field.name);
    switch (field.fieldKind) {
      case 'enum': {
        const bad = enumProblem(field.enum, r.get(field), p);
        if (bad) return bad;
        break;
      }
      case 'message': {
        const bad = walk(r.get(field), p);
        if (bad) return bad;
        break;
      }
      case 'list': {
        let i = 0;
        for (const v of r.get(field)) {
          const ip = `${p}[${i++}]`;
          const bad = field.listKind === 'enum' ? enumProblem(field.enum, v, ip) : field.listKind === 'message' ? walk(v as ReflectMessage, ip) : undefined;
          if (bad) return bad;
        }
        break;
      }
      case 'map': {
        for (const [k, v] of r.get(field)) {
          const ip = `${p}[${JSON.stringify(String(k))}]`;
          const bad = field.mapKind === 'enum' ? enumProblem(field.enum, v, ip) : field.mapKind === 'message' ? walk(v as ReflectMessage, ip) : undefined;
          if (bad) return bad;
        }
        break;
      }
      default:
        break;
    }
  }
  return undefined;
}

/** The first unknown enum value or unknown field in a decoded message, with its field path; undefined when clean. */
export function findInputProblem(schema: DescMessage, message: object): InputProblem | undefined {
  return walk(reflect(schema, message as never), '');
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function jsonEnumProblem(e: DescEnum, v: Json, path: string): InputProblem | undefined {
  if (v === null) return undefined;
  if (typeof v === 'string' ? e.values.some((x) => x.name === v) : typeof v === 'number' && Number.isInteger(v) && knownEnum(e, v)) return undefined;
  return { path, message: `unknown ${e.typeName} value ${JSON.stringify(v)} (one of ${e.values.map((x) => x.name).join(', ')})` };
}

/**
 * A scalar of the wrong JSON type (a number for a string, "1 hour" for an int): the codec's message names the field
 * by its type-qualified name ("cannot decode field rte.v1.X.y from JSON: list item #1: …"); this asks the codec about
 * that one field alone and answers with the request's field path instead. Runs only after decoding already failed.
 */
function scalarProblem(desc: DescMessage, jsonName: string, value: Json, path: string): InputProblem | undefined {
  try {
    fromJson(desc, { [jsonName]: value }, { ignoreUnknownFields: true });
    return undefined;
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err);
    return { path, message: text.replace(/^\[[a-z_]+\]\s*/, '').replace(/^cannot decode field [\w.]+ from JSON:\s*/, '').replace(/^list item #\d+:\s*/, '') };
  }
}

function walkJson(desc: DescMessage, v: Json, path: string): InputProblem | undefined {
  if (v === null) return undefined;
  if (desc.typeName.startsWith('google.protobuf.')) {
    // Well-known types have their own JSON forms: let the codec judge, and name the field.
    try {
      fromJson(desc, v);
      return undefined;
    } catch (err) {
      return { path, message: err instanceof Error ? err.message : String(err) };
    }
  }
  if (typeof v !== 'object' || Array.isArray(v)) return { path: path || desc.typeName, message: `expected a JSON object for ${desc.typeName}` };
  // Two members of one oneof (member_ids and member_query): the codec's "cannot decode oneof rte.v1.X.y from JSON:
  // oneof set multiple times" names no field path (probe p16 #11c); the oneof's own name is the path.
  for (const oneof of desc.oneofs) {
    const set = oneof.fields.filter((f) => Object.entries(v).some(([k, x]) => x !== null && (k === f.jsonName || k === f.name)));
    if (set.length > 1) {
      return { path: join2(path, oneof.name), message: `set only one of ${oneof.fields.map((f) => f.name).join(', ')} (got ${set.map((f) => f.name).join(' and ')})` };
    }
  }
  for (const [key, value] of Object.entries(v)) {
    const field = desc.fields.find((f) => f.jsonName === key || f.name === key);
    const p = join2(path, field ? field.name : key);
    if (!field) return { path: p, message: `unknown field "${key}" in ${desc.typeName}` };
    if (value === null) continue;
    switch (field.fieldKind) {
      case 'enum': {
        const bad = jsonEnumProblem(field.enum, value, p);
        if (bad) return bad;
        break;
      }
      case 'message': {
        const bad = walkJson(field.message, value, p);
        if (bad) return bad;
        break;
      }
      case 'list': {
        if (!Array.isArray(value)) return { path: p, message: 'expected a JSON array' };
        for (let i = 0; i < value.length; i++) {
          const ip = `${p}[${i}]`;
          const bad =
            field.listKind === 'enum'
              ? jsonEnumProblem(field.enum, value[i]!, ip)
              : field.listKind === 'message'
                ? walkJson(field.message, value[i]!, ip)
                : scalarProblem(desc, field.jsonName, [value[i]!], ip);
          if (bad) return bad;
        }
        break;
      }
      case 'scalar': {
        const bad = scalarProblem(desc, field.jsonName, value, p);
        if (bad) return bad;
        break;
      }
      case 'map': {
        if (typeof value !== 'object' || Array.isArray(value)) return { path: p, message: 'expected a JSON object' };
        for (const [k, mv] of Object.entries(value)) {
          const ip = `${p}[${JSON.stringify(k)}]`;
          const bad = field.mapKind === 'enum' ? jsonEnumProblem(field.enum, mv, ip) : field.mapKind === 'message' ? walkJson(field.message, mv, ip) : undefined;
          if (bad) return bad;
        }
        break;
      }
      default:
        break;
    }
  }
  return undefined;
}

/**
 * The first unknown field or unknown enum value in a JSON request, with its field path (the JSON codec's own
 * messages name only the enum type). Undefined when the walk finds nothing (the codec's message then stands).
 */
export function findJsonInputProblem(schema: DescMessage, json: unknown): InputProblem | undefined {
  return walkJson(schema, json as Json, '');
}

/** Refuses requests carrying unknown enum numbers or unknown fields (binary encodings) with `invalid_argument`. */
export function createStrictInputInterceptor(): Interceptor {
  const check = (schema: DescMessage, message: object) => {
    const bad = findInputProblem(schema, message);
    if (bad) throw new ConnectError(`${bad.path}: ${bad.message}`, Code.InvalidArgument);
  };
  return (next) => async (req) => {
    if (!req.stream) {
      check(req.method.input, req.message);
      return next(req);
    }
    // Streaming input (WatchBatchStatus's single request, client streams): every message is checked as it is read.
    const input = req.message;
    const schema = req.method.input;
    async function* checked() {
      for await (const m of input) {
        check(schema, m);
        yield m;
      }
    }
    return next({ ...req, message: checked() });
  };
}

interface SerializationModule {
  createMethodSerializationLookup: (...args: unknown[]) => { getI(binary: boolean): { parse(data: Uint8Array): unknown } };
}

let installed = false;

/**
 * connect-es reports a request body that fails to decode as protobuf as `internal` ("parse binary: …"), before
 * any interceptor runs. A malformed request is the client's error: this wraps the library's request-parsing
 * lookup (used by the Connect, gRPC and gRPC-Web handler factories) so that failure is `invalid_argument`.
 * Idempotent; throws at startup if the library's layout changed (so an upgrade cannot silently undo it).
 */
export function installBinaryParseErrorMapping(): void {
  if (installed) return;
  const root = dirname(require.resolve('@connectrpc/connect'));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(join(root, 'protocol', 'serialization.js')) as SerializationModule;
  const original = mod.createMethodSerializationLookup;
  if (typeof original !== 'function') throw new Error('@connectrpc/connect: createMethodSerializationLookup not found; re-check api/strict-input.ts');
  mod.createMethodSerializationLookup = (...args: unknown[]) => {
    const lookup = original(...args);
    const mapParse = (s: { parse(data: Uint8Array): unknown }) => ({
      ...s,
      parse(data: Uint8Array) {
        try {
          return s.parse(data);
        } catch (err) {
          if (err instanceof ConnectError && err.code === Code.Internal && /^parse binary:/.test(err.rawMessage)) {
            throw new ConnectError(`request body is not a valid protobuf message: ${err.rawMessage.replace(/^parse binary:\s*/, '')}`, Code.InvalidArgument);
          }
          throw err;
        }
      },
    });
    const bin = mapParse(lookup.getI(true));
    const method = args[0] as { input?: DescMessage } | undefined;
    const jsonIn = lookup.getI(false);
    const json = {
      ...jsonIn,
      parse(data: Uint8Array) {
        try {
          return jsonIn.parse(data);
        } catch (err) {
          // Name the field: the codec says "cannot decode enum rte.v1.CacheControl from JSON: …" without one.
          if (err instanceof ConnectError && err.code === Code.InvalidArgument && method?.input) {
            let parsed: unknown;
            try {
              parsed = JSON.parse(new TextDecoder().decode(data));
            } catch {
              throw new ConnectError(`request body is not valid JSON: ${err.rawMessage}`, Code.InvalidArgument);
            }
            const bad = findJsonInputProblem(method.input, parsed);
            if (bad) throw new ConnectError(`${bad.path}: ${bad.message}`, Code.InvalidArgument);
          }
          throw err;
        }
      },
    };
    return { ...lookup, getI: (binary: boolean) => (binary ? bin : json) };
  };
  installed = true;
}
