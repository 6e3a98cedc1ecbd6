import type { DescEnum, DescMessage } from '@bufbuild/protobuf';
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

/** Connect's JSON codec ignores unknown fields by default; the protobuf JSON spec (and this API) refuses them. */
export const STRICT_JSON_OPTIONS = { ignoreUnknownFields: false } as const;

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

/** Refuses requests carrying unknown enum numbers or unknown fields (binary encodings) with `invalid_argument`. */
export function createStrictInputInterceptor(): Interceptor {
  return (next) => async (req) => {
    if (!req.stream) {
      const bad = findInputProblem(req.method.input, req.message);
      if (bad) throw new ConnectError(`${bad.path}: ${bad.message}`, Code.InvalidArgument);
    }
    return next(req);
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
    return { ...lookup, getI: (binary: boolean) => (binary ? bin : lookup.getI(false)) };
  };
  installed = true;
}
