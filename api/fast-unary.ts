import { create, isMessage, ScalarType, toJson, type DescField, type DescMessage, type DescMethodUnary, type JsonReadOptions, type JsonWriteOptions } from '@bufbuild/protobuf';
import { Code, ConnectError, createContextValues, type HandlerContext, type Interceptor, type UnaryRequest, type UnaryResponse } from '@connectrpc/connect';
import { compressionNegotiate, createMethodSerializationLookup, mergeNonProtocolHeaders } from '@connectrpc/connect/protocol';
import { codeToHttpStatus, errorToJsonBytes } from '@connectrpc/connect/protocol-connect';
import { compressionBrotli, compressionGzip } from '@connectrpc/connect-node';
import { createPlainJsonParser } from './fast-json-input';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';

/**
 * Issue 14: a dedicated handler for the Connect unary JSON protocol over HTTP/1.1, for the few hottest RPCs
 * (CheckEligibility). Hand-written because connect-node's generic path costs more than the cache read itself:
 * per call it builds a `URL`, three undici `Headers`, a deadline `AbortController` linked to a request
 * `AbortController`, and aborts both when the call ends (each abort allocates a `DOMException` with a stack
 * trace); then an async-iterable body in and out. Together ~20 % of a cached read (docs/performance.md).
 *
 * It is the same protocol, served by the same pieces: the same interceptors (observability, auth, strict input)
 * in the same order, the same service implementation, connect-es's own JSON parser for the method (with the
 * strict-input error mapping, so a bad field is refused with the same message), its own error JSON, HTTP status
 * mapping, header merging and compression negotiation. It only takes the requests whose handling it can match
 * exactly from the headers alone, and leaves everything else to connect-node untouched:
 * POST, HTTP/1.x, `Content-Type: application/json` (optionally `charset=utf-8`), a `Content-Length` up to
 * `maxBodyBytes`, no `Content-Encoding` (compressed request), no `Connect-Timeout-Ms`.
 */

export interface FastUnaryRoute {
  method: DescMethodUnary;
  impl: (request: never, context: HandlerContext) => unknown;
  /**
   * Message (or repeated message) fields of the answer whose message objects the implementation reuses across calls
   * (CheckEligibility's coverage and errors, memoized per cache entry): their JSON is written once per object and
   * spliced into the answer, which is otherwise serialized by protobuf-es as usual. Same bytes as a full toJson.
   */
  memoFields?: string[];
}

export interface FastUnaryOptions {
  interceptors: Interceptor[];
  jsonOptions: Partial<JsonReadOptions & JsonWriteOptions>;
  /** Larger bodies (or a body without Content-Length) go to connect-node, which applies readMaxBytes. */
  maxBodyBytes?: number;
}

const JSON_CONTENT_TYPE = /^application\/json(?:; ?charset=utf-?8)?$/i;
// connect-node's defaults (connectNodeAdapter): gzip and brotli, compressed from 1 KiB.
const ACCEPT_COMPRESSION = [compressionGzip, compressionBrotli];
const COMPRESS_MIN_BYTES = 1024;

/**
 * The fetch API's `Headers` over a plain map (lower-case names, as Node gives them): what interceptors and handlers
 * use of it (get/has/set/append/delete/forEach/iteration) without undici's per-instance validation and copying.
 */
export class LightHeaders {
  private readonly map = new Map<string, string>();

  constructor(init?: IncomingHttpHeaders | Record<string, string>) {
    if (init) {
      for (const key in init) {
        const v = init[key];
        if (v === undefined) continue;
        this.map.set(key.toLowerCase(), Array.isArray(v) ? v.join(', ') : v);
      }
    }
  }
  get(name: string): string | null {
    return this.map.get(name.toLowerCase()) ?? null;
  }
  has(name: string): boolean {
    return this.map.has(name.toLowerCase());
  }
  set(name: string, value: string): void {
    this.map.set(name.toLowerCase(), String(value));
  }
  append(name: string, value: string): void {
    const key = name.toLowerCase();
    const prev = this.map.get(key);
    this.map.set(key, prev === undefined ? String(value) : `${prev}, ${value}`);
  }
  delete(name: string): void {
    this.map.delete(name.toLowerCase());
  }
  getSetCookie(): string[] {
    const v = this.map.get('set-cookie');
    return v === undefined ? [] : [v];
  }
  forEach(cb: (value: string, key: string, parent: Headers) => void, thisArg?: unknown): void {
    for (const [k, v] of [...this.map].sort((a, b) => (a[0] < b[0] ? -1 : 1))) cb.call(thisArg, v, k, this as unknown as Headers);
  }
  *entries(): HeadersIterator<[string, string]> {
    yield* [...this.map].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  }
  *keys(): HeadersIterator<string> {
    for (const [k] of this.entries()) yield k;
  }
  *values(): HeadersIterator<string> {
    for (const [, v] of this.entries()) yield v;
  }
  [Symbol.iterator](): HeadersIterator<[string, string]> {
    return this.entries();
  }
  /** Node's `writeHead` form. */
  toNode(): Record<string, string> {
    return Object.fromEntries(this.map);
  }
}

/** Whether the fast path can answer this request exactly as connect-node would; decided from the headers only. */
function eligible(req: IncomingMessage, maxBodyBytes: number): boolean {
  if (req.method !== 'POST' || req.httpVersionMajor !== 1) return false;
  const h = req.headers;
  const ct = h['content-type'];
  if (ct === undefined || !JSON_CONTENT_TYPE.test(ct)) return false;
  if (h['content-encoding'] !== undefined || h['connect-timeout-ms'] !== undefined || h['transfer-encoding'] !== undefined) return false;
  const len = h['content-length'];
  if (len === undefined) return false;
  const n = Number(len);
  return Number.isInteger(n) && n >= 0 && n <= maxBodyBytes;
}

/**
 * Returns a request listener that answers the given unary RPCs over Connect JSON on HTTP/1.1 and returns true, or
 * returns false (touching nothing) for any request it does not take.
 */
export function createFastUnaryHandler(routes: FastUnaryRoute[], opts: FastUnaryOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const maxBodyBytes = opts.maxBodyBytes ?? 64 * 1024;
  const byPath = new Map<string, (req: IncomingMessage, res: ServerResponse) => void>();
  for (const route of routes) {
    const path = `/${route.method.parent.typeName}/${route.method.name}`;
    byPath.set(path, createMethodHandler(route, opts));
  }
  return (req, res) => {
    const handle = byPath.get(req.url ?? '');
    if (!handle || !eligible(req, maxBodyBytes)) return false;
    handle(req, res);
    return true;
  };
}

/**
 * The request's headers as the fetch API's `Headers`, read straight from Node's (already lower-case) header object:
 * no copy per request unless something writes to them (then a LightHeaders copy takes over). Issue 14.
 */
class RequestHeaders {
  private copy: LightHeaders | undefined;

  constructor(private readonly src: IncomingHttpHeaders) {}
  private writable(): LightHeaders {
    return (this.copy ??= new LightHeaders(this.src));
  }
  get(name: string): string | null {
    if (this.copy) return this.copy.get(name);
    const v = this.src[name.toLowerCase()];
    return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
  }
  has(name: string): boolean {
    return this.copy ? this.copy.has(name) : this.src[name.toLowerCase()] !== undefined;
  }
  set(name: string, value: string): void {
    this.writable().set(name, value);
  }
  append(name: string, value: string): void {
    this.writable().append(name, value);
  }
  delete(name: string): void {
    this.writable().delete(name);
  }
  getSetCookie(): string[] {
    return this.writable().getSetCookie();
  }
  forEach(cb: (value: string, key: string, parent: Headers) => void, thisArg?: unknown): void {
    this.writable().forEach(cb, thisArg);
  }
  entries(): HeadersIterator<[string, string]> {
    return this.writable().entries();
  }
  keys(): HeadersIterator<string> {
    return this.writable().keys();
  }
  values(): HeadersIterator<string> {
    return this.writable().values();
  }
  [Symbol.iterator](): HeadersIterator<[string, string]> {
    return this.writable().entries();
  }
}

/** Where a request object carries its call (interceptors that spread the request keep it: own symbol keys are copied). */
const CALL = Symbol('fast-unary call');

/** One call's state: the handler context the implementation sees (HandlerContext's fields, no per-call closures). */
class FastCall {
  readonly requestMethod = 'POST';
  readonly protocolName = 'connect';
  readonly responseHeader = new LightHeaders({ 'content-type': 'application/json' }) as unknown as Headers;
  readonly responseTrailer = new LightHeaders() as unknown as Headers;
  readonly values = createContextValues();
  readonly requestHeader: Headers;
  readonly url: string;
  private controller: AbortController | undefined;

  constructor(
    readonly method: DescMethodUnary,
    readonly service: DescMethodUnary['parent'],
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
  ) {
    this.requestHeader = new RequestHeaders(req.headers) as unknown as Headers;
    this.url = `http://${req.headers.host ?? 'localhost'}${req.url ?? ''}`;
  }
  timeoutMs(): undefined {
    return undefined;
  }
  /** Created only if something asks for it (a live check waits on it): aborting a signal nobody holds is pure cost. */
  get signal(): AbortSignal {
    if (!this.controller) {
      const c = (this.controller = new AbortController());
      const res = this.res;
      res.once('close', () => {
        if (!res.writableFinished) c.abort(new ConnectError('the client closed the connection', Code.Canceled));
      });
    }
    return this.controller.signal;
  }
}

function createMethodHandler(route: FastUnaryRoute, opts: FastUnaryOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const { method } = route;
  const service = method.parent;
  // connect-es's own (de)serialiser for the method, including api/strict-input.ts's error mapping (installed first).
  const serialization = createMethodSerializationLookup(method, undefined, opts.jsonOptions, { writeMaxBytes: 0xffffffff, readMaxBytes: 0xffffffff });
  const parser = serialization.getI(false);
  // Issue 14: the request's plain JSON shape without connect-es's reflection and duplicate-key scan (the same message,
  // api/fast-json-input.test.ts); any other body goes to connect-es's parser, which answers or refuses it as before.
  const plain = createPlainJsonParser(method.input);
  const serializer = serialization.getO(false);
  // The answer as a string (issue 14): Node then writes headers and body in one write of one string, as the floor does.
  const serialize = route.memoFields?.length ? createMemoSerializer(method.output, route.memoFields, opts.jsonOptions).bytes : (m: unknown) => serializer.serialize(m as never);
  const output: DescMessage = method.output;
  const impl = route.impl as (request: unknown, context: HandlerContext) => unknown;
  // The interceptor chain around the implementation, as connect-es builds it (applyInterceptors), built once: the
  // interceptors keep no per-chain state, and the innermost step finds its call on the request it is given.
  const innermost = async (r: UnaryRequest): Promise<UnaryResponse> => {
    const call = (r as unknown as Record<typeof CALL, FastCall | undefined>)[CALL];
    if (!call) throw new ConnectError('fast-unary: an interceptor dropped the call from the request', Code.Internal);
    const ctx = call as unknown as HandlerContext;
    const callCtx = r.header === ctx.requestHeader && r.contextValues === ctx.values ? ctx : ({ ...contextFields(call), requestHeader: r.header, values: r.contextValues } as HandlerContext);
    let message = await impl(r.message, callCtx);
    if (!isMessage(message, output)) message = create(output, message as never);
    return { stream: false, message: message as never, method, service, header: ctx.responseHeader, trailer: ctx.responseTrailer };
  };
  const chain = opts.interceptors.reduceRight<(r: UnaryRequest) => Promise<UnaryResponse>>((next, interceptor) => interceptor(next as never) as never, innermost);

  const answer = async (call: FastCall, res: ServerResponse, acceptEncoding: string | null, bytes: Uint8Array): Promise<void> => {
    const responseHeader = call.responseHeader;
    const responseTrailer = call.responseTrailer;
    const compression = compressionNegotiate(ACCEPT_COMPRESSION, null, acceptEncoding, 'accept-encoding');
    let status = 200;
    let body: Uint8Array | string;
    try {
      if (compression.error) throw compression.error;
      const input = plain?.(bytes) ?? parser.parse(bytes);
      const request = {
        stream: false,
        message: input,
        method,
        service,
        requestMethod: 'POST',
        url: call.url,
        get signal() {
          return call.signal;
        },
        header: call.requestHeader,
        contextValues: call.values,
        [CALL]: call,
      } as unknown as UnaryRequest;
      const response = await chain(request);
      copyHeaders(response.header, responseHeader);
      copyHeaders(response.trailer, responseTrailer);
      body = serialize(response.message);
    } catch (e) {
      const error = e instanceof ConnectError ? e : new ConnectError('internal error', Code.Internal, undefined, undefined, e);
      status = codeToHttpStatus(error.code);
      responseHeader.set('content-type', 'application/json');
      if (!error.isWireError) mergeNonProtocolHeaders(responseHeader, error.metadata);
      body = errorToJsonBytes(error, opts.jsonOptions);
    }
    let length = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
    if (compression.response && length >= COMPRESS_MIN_BYTES) {
      body = await compression.response.compress(typeof body === 'string' ? Buffer.from(body) : body);
      length = body.byteLength;
      responseHeader.set('content-encoding', compression.response.name);
    }
    const header = (responseHeader as unknown as LightHeaders).toNode();
    (responseTrailer as unknown as LightHeaders).forEach((v, k) => {
      header[`trailer-${k}`] = v;
    });
    header['content-length'] = String(length);
    res.writeHead(status, header);
    res.end(body);
  };
  const failed = (res: ServerResponse, err: unknown) => {
    // A failed read or write (the client went away): nothing left to answer.
    if (!res.headersSent) res.destroy(err instanceof Error ? err : undefined);
  };

  return (req, res) => {
    const call = new FastCall(method, service, req, res);
    const acceptEncoding = req.headers['accept-encoding'] ?? null;
    const length = Number(req.headers['content-length']);
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      chunks.push(c);
      size += c.length;
    });
    req.once('end', () => {
      const bytes = chunks.length === 1 && size === length ? chunks[0]! : Buffer.concat(chunks, size);
      answer(call, res, acceptEncoding, bytes).catch((err: unknown) => failed(res, err));
    });
    req.once('error', (err) => failed(res, err));
  };
}

/** A FastCall's HandlerContext fields as a plain object (an interceptor replaced the request's headers or values). */
function contextFields(call: FastCall): Record<string, unknown> {
  return {
    method: call.method,
    service: call.service,
    requestMethod: call.requestMethod,
    protocolName: call.protocolName,
    url: call.url,
    timeoutMs: () => undefined,
    get signal() {
      return call.signal;
    },
    requestHeader: call.requestHeader,
    responseHeader: call.responseHeader,
    responseTrailer: call.responseTrailer,
    values: call.values,
  };
}

/** A message's JSON text; `bytes` gives the same JSON, as UTF-8 bytes when the answer was remembered. */
export type MemoSerializer = ((message: unknown) => string) & { bytes: (message: unknown) => string | Uint8Array };

/** toJson + JSON.stringify of a message (the JSON text), with the JSON of the named message fields' objects remembered per object. */
export function createMemoSerializer(schema: DescMessage, memoFields: string[], jsonOptions: Partial<JsonWriteOptions>): MemoSerializer {
  const fields = schema.fields.concat().sort((a, b) => a.number - b.number);
  const memoed = new Set<DescField>();
  for (const name of memoFields) {
    const f = schema.fields.find((x) => x.localName === name);
    if (!f || f.oneof || !(f.fieldKind === 'message' || (f.fieldKind === 'list' && f.listKind === 'message'))) throw new Error(`${schema.typeName}.${name}: not a message or repeated message field outside a oneof`);
    memoed.add(f);
  }
  const keyOf = (f: DescField) => JSON.stringify(jsonOptions.useProtoFieldName ? f.name : f.jsonName);
  // Issue 14: when every other field is a plain string or enum (implicit presence, outside a oneof), they are written
  // directly, as toJson + JSON.stringify would write them; otherwise toJson writes the rest of the message.
  const direct = fields.filter((f) => !memoed.has(f)).map((f) => directWriter(f, keyOf(f), jsonOptions));
  const allDirect = direct.every((w) => w !== undefined);
  const memoKeys = new Map([...memoed].map((f) => [f, keyOf(f)] as const));
  const memo = new WeakMap<object, string>();
  const jsonOf = (desc: DescMessage, m: object): string => {
    let j = memo.get(m);
    if (j === undefined) {
      j = JSON.stringify(toJson(desc, m as never, jsonOptions));
      memo.set(m, j);
    }
    return j;
  };
  const writeMemo = (f: DescField, v: unknown, parts: string[]) => {
    if (f.fieldKind === 'message') {
      if (v !== undefined) parts.push(`${memoKeys.get(f)!}:${jsonOf(f.message, v as object)}`);
    } else if (f.fieldKind === 'list' && f.listKind === 'message') {
      const list = v as object[];
      if (list.length > 0 || jsonOptions.alwaysEmitImplicit) parts.push(`${memoKeys.get(f)!}:[${list.map((e) => jsonOf(f.message, e)).join(',')}]`);
    }
  };
  // Issue 14: the whole answer, remembered per object of the first memoized message field (CheckEligibility: a cached
  // entry's coverage) with the field values it was written from; the same values (the same objects, strings and
  // numbers) give the same JSON, so a hot entry's answer within one age second is written once.
  const answerKey = fields.find((f) => memoed.has(f) && f.fieldKind === 'message');
  const answers = new WeakMap<object, { values: unknown[]; json: string; bytes?: Buffer }>();
  // A repeated field is a fresh array in every message (protobuf-es's `create` maps the init list), so lists are
  // compared by their elements (the same message objects, strings or numbers), other fields by identity.
  const isList = fields.map((f) => f.fieldKind === 'list');
  const sameValues = (values: unknown[], msg: Record<string, unknown>) => {
    for (let i = 0; i < fields.length; i++) {
      const known = values[i];
      const v = msg[fields[i]!.localName];
      if (known === v) continue;
      if (!isList[i] || !sameElements(known as readonly unknown[], v as readonly unknown[])) return false;
    }
    return true;
  };
  const remembered = (msg: Record<string, unknown>) => {
    const keyObject = allDirect && answerKey ? (msg[answerKey.localName] as object | undefined) : undefined;
    if (keyObject === undefined) return undefined;
    const known = answers.get(keyObject);
    return known && sameValues(known.values, msg) ? known : undefined;
  };
  const serialize = (message: unknown): string => {
    const msg = message as Record<string, unknown>;
    if (allDirect) {
      const keyObject = answerKey ? (msg[answerKey.localName] as object | undefined) : undefined;
      const known = remembered(msg);
      if (known) return known.json;
      const parts: string[] = [];
      let d = 0;
      for (const f of fields) {
        if (memoed.has(f)) writeMemo(f, msg[f.localName], parts);
        else {
          const part = direct[d++]!(msg);
          if (part !== undefined) parts.push(part);
        }
      }
      const json = `{${parts.join(',')}}`;
      if (keyObject !== undefined) answers.set(keyObject, { values: fields.map((f, i) => (isList[i] ? [...(msg[f.localName] as unknown[])] : msg[f.localName])), json });
      return json;
    }
    const rest: Record<string, unknown> = { ...msg };
    for (const f of memoed) rest[f.localName] = f.fieldKind === 'list' ? [] : undefined;
    const base = toJson(schema, rest as never, jsonOptions) as Record<string, unknown>;
    const parts: string[] = [];
    for (const f of fields) {
      if (memoed.has(f)) {
        const v = msg[f.localName];
        if (f.fieldKind === 'message') {
          if (v !== undefined) parts.push(`${keyOf(f)}:${jsonOf(f.message, v as object)}`);
        } else if (f.fieldKind === 'list' && f.listKind === 'message') {
          const list = v as object[];
          if (list.length > 0 || jsonOptions.alwaysEmitImplicit) parts.push(`${keyOf(f)}:[${list.map((e) => jsonOf(f.message, e)).join(',')}]`);
        }
      } else {
        const key = jsonOptions.useProtoFieldName ? f.name : f.jsonName;
        if (key in base) parts.push(`${JSON.stringify(key)}:${JSON.stringify(base[key])}`);
      }
    }
    return `{${parts.join(',')}}`;
  };
  // Issue 14: an answer written again (a hot entry within its age second) goes out as the UTF-8 bytes encoded the
  // first time it was repeated, instead of the string being encoded into the socket on every answer. The first
  // answer of a set of values stays a string (Node writes headers and body in one string then).
  const bytes = (message: unknown): string | Uint8Array => {
    const known = remembered(message as Record<string, unknown>);
    if (known) return (known.bytes ??= Buffer.from(known.json));
    return serialize(message);
  };
  return Object.assign(serialize, { bytes });
}

/**
 * A field's `"key":value` as toJson + JSON.stringify write it, for implicit-presence string and enum fields outside a
 * oneof (undefined when not set and implicit values are not emitted); undefined (no direct writer) for anything else.
 */
function directWriter(f: DescField, key: string, jsonOptions: Partial<JsonWriteOptions>): ((msg: Record<string, unknown>) => string | undefined) | undefined {
  if (f.oneof || f.presence !== IMPLICIT_PRESENCE) return undefined;
  const name = f.localName;
  const always = jsonOptions.alwaysEmitImplicit === true;
  if (f.fieldKind === 'scalar' && f.scalar === ScalarType.STRING) {
    return (msg) => {
      const v = msg[name] as string;
      return v === '' && !always ? undefined : `${key}:${JSON.stringify(v)}`;
    };
  }
  if (f.fieldKind === 'enum' && f.enum.typeName !== 'google.protobuf.NullValue' && !jsonOptions.enumAsInteger) {
    const e = f.enum;
    return (msg) => {
      const v = msg[name] as number;
      if (v === 0 && !always) return undefined;
      const known = e.value[v];
      return `${key}:${known ? JSON.stringify(known.jsonName) : String(v)}`;
    };
  }
  return undefined;
}
function sameElements(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** FeatureSet_FieldPresence.IMPLICIT (proto3 scalars without `optional`). */
const IMPLICIT_PRESENCE = 2;

function copyHeaders(from: Headers, to: Headers): void {
  if (from === to) return;
  const keys: string[] = [];
  to.forEach((_, k) => keys.push(k));
  for (const k of keys) to.delete(k);
  from.forEach((v, k) => to.set(k, v));
}
