import { equals, toBinary } from '@bufbuild/protobuf';
import { createMethodSerializationLookup } from '@connectrpc/connect/protocol';
import { CheckEligibilityRequestSchema, EligibilityService } from '../gen/rte/v1/eligibility_pb';
import { createPlainJsonParser } from './fast-json-input';
import { installBinaryParseErrorMapping, STRICT_JSON_OPTIONS } from './strict-input';

/**
 * The plain-shape parser must give exactly the message connect-es's JSON parser gives (the API's own, with the strict
 * options and error mapping), or give up (undefined) so that parser answers. Over a hand-written corpus and generated
 * bodies: whenever it returns a message, connect-es parses the same bytes to an equal message.
 */
installBinaryParseErrorMapping();
const method = EligibilityService.method.checkEligibility;
const connect = createMethodSerializationLookup(method, undefined, STRICT_JSON_OPTIONS, { writeMaxBytes: 0xffffffff, readMaxBytes: 0xffffffff }).getI(false);
const plain = createPlainJsonParser(CheckEligibilityRequestSchema)!;
const enc = new TextEncoder();

function connectParse(bytes: Uint8Array): { ok: true; message: unknown } | { ok: false } {
  try {
    return { ok: true, message: connect.parse(bytes) };
  } catch {
    return { ok: false };
  }
}

/** Checks one body; returns whether the plain parser took it. */
function check(bytes: Uint8Array): boolean {
  const fast = plain(bytes);
  if (fast === undefined) return false;
  const ref = connectParse(bytes);
  if (!ref.ok) throw new Error(`connect-es refused what the plain parser took: ${Buffer.from(bytes).toString('utf8')}`);
  const expected = ref.message as typeof fast;
  expect(fast).toEqual(expected);
  expect(equals(CheckEligibilityRequestSchema, fast as never, expected as never)).toBe(true);
  expect(Buffer.from(toBinary(CheckEligibilityRequestSchema, fast as never)).equals(Buffer.from(toBinary(CheckEligibilityRequestSchema, expected as never)))).toBe(true);
  return true;
}

const TAKEN = [
  '{"memberId":"m_0000042","cacheControl":"CACHE_CONTROL_CACHE_ONLY"}',
  '{"memberId":"m_1"}',
  '{}',
  ' { "memberId" : "m_1" , "operation":"get_benefits", "serviceTypeCodes":["30","88"], "payerId":"P1", "providerNpi":"1234567890", "cacheControl":"CACHE_CONTROL_DEFAULT" } ',
  '{"memberId":"m","operation":"x","serviceTypeCodes":[]}',
  '{"memberId":"ü😀","serviceTypeCodes":[]}',
  '\ufeff{"memberId":"bom"}',
  '{"memberId":"","cacheControl":"CACHE_CONTROL_BYPASS_CACHE"}',
];
const LEFT = [
  '',
  'null',
  '[]',
  '"x"',
  '{"member_id":"m_1"}',
  '{"memberId":1}',
  '{"memberId":null}',
  '{"cacheControl":2}',
  '{"cacheControl":"cache_control_cache_only"}',
  '{"cacheControl":"NOPE"}',
  '{"cacheControl":null}',
  '{"serviceTypeCodes":"30"}',
  '{"serviceTypeCodes":[30]}',
  '{"serviceTypeCodes":[null]}',
  '{"unknown":1}',
  '{"memberId":"m_1",}',
  '{"__proto__":{"memberId":"x"}}',
  '{"memberId":"m_1"',
  '{"memberId":"x","memberId":"y"}',
  '{"memberId":"x","member\\u0049d":"y"}',
  '{"memberId":"a\\u0000b","serviceTypeCodes":[]}',
  '{"memberId":"x","operation":"memberId"}',
];

describe('createPlainJsonParser (CheckEligibilityRequest)', () => {
  it('takes the plain shapes, with the same message as connect-es', () => {
    for (const body of TAKEN) expect(check(enc.encode(body))).toBe(true);
  });

  it('leaves every other body to connect-es (which answers or refuses it as before)', () => {
    for (const body of LEFT) expect(plain(enc.encode(body))).toBeUndefined();
  });

  it('bytes that are not valid UTF-8 decode as connect-es decodes them', () => {
    const bytes = Buffer.concat([Buffer.from('{"memberId":"a'), Buffer.from([0xff, 0xc3]), Buffer.from('b"}')]);
    expect(check(bytes)).toBe(true);
  });

  it('generated bodies: whatever it takes, connect-es parses to the same message', () => {
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const keys = ['memberId', 'member_id', 'operation', 'serviceTypeCodes', 'service_type_codes', 'payerId', 'providerNpi', 'cacheControl', 'cache_control', 'other', '__proto__', 'constructor'];
    const strings = ['', 'm_1', 'ü', '\u2028', '\ud83d\ude00', '\ud800', '"q"', '\\', '30', 'CACHE_CONTROL_CACHE_ONLY', 'CACHE_CONTROL_STALE_WHILE_REVALIDATE', 'cache_control_default', 'CACHE_CONTROL_UNKNOWN'];
    const value = (depth: number): unknown => {
      switch (rnd(9)) {
        case 0:
        case 1:
        case 2:
          return strings[rnd(strings.length)];
        case 3:
          return rnd(3) === 0 ? 1.5 : rnd(12) - 1;
        case 4:
          return null;
        case 5:
          return rnd(2) === 0;
        case 6:
        case 7:
          return depth > 1 ? [] : Array.from({ length: rnd(4) }, () => (rnd(4) === 0 ? value(depth + 1) : strings[rnd(strings.length)]));
        default:
          return depth > 1 ? {} : { memberId: value(depth + 1) };
      }
    };
    let taken = 0;
    for (let i = 0; i < 40_000; i++) {
      const parts: string[] = [];
      for (let k = rnd(5); k >= 0; k--) parts.push(`${JSON.stringify(keys[rnd(keys.length)])}:${JSON.stringify(value(0)) ?? 'null'}`);
      let body = `{${parts.join(',')}}`;
      // Sometimes damaged: a byte dropped, doubled or replaced.
      if (rnd(6) === 0) {
        const at = rnd(body.length);
        body = rnd(3) === 0 ? body.slice(0, at) + body.slice(at + 1) : rnd(2) === 0 ? body.slice(0, at) + body[at] + body.slice(at) : `${body.slice(0, at)}${'{}[],:"x1 '[rnd(11)]}${body.slice(at + 1)}`;
      }
      if (check(enc.encode(body))) taken++;
    }
    // The generator reaches both sides (the check is not vacuous).
    expect(taken).toBeGreaterThan(500);
    expect(taken).toBeLessThan(39_000);
  });

  it('generated plain bodies (random text, all JSON names, known and unknown enum names): taken, and the same as connect-es', () => {
    let seed = 777;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const chars = 'aZ09_.:- ü€😀\u0007';
    const text = () => Array.from({ length: rnd(12) }, () => chars[rnd(chars.length)]).join('');
    const enums = ['CACHE_CONTROL_DEFAULT', 'CACHE_CONTROL_CACHE_ONLY', 'CACHE_CONTROL_PREFER_CACHED', 'CACHE_CONTROL_BYPASS_CACHE', 'CACHE_CONTROL_STALE_WHILE_REVALIDATE', 'CACHE_CONTROL_NOPE'];
    let taken = 0;
    for (let i = 0; i < 5_000; i++) {
      const body: Record<string, unknown> = {};
      if (rnd(4) > 0) body['memberId'] = text();
      if (rnd(2) === 0) body['operation'] = text();
      if (rnd(3) === 0) body['serviceTypeCodes'] = Array.from({ length: rnd(4) }, text);
      if (rnd(3) === 0) body['payerId'] = text();
      if (rnd(3) === 0) body['providerNpi'] = text();
      if (rnd(2) === 0) body['cacheControl'] = enums[rnd(enums.length)];
      if (check(enc.encode(JSON.stringify(body)))) taken++;
    }
    expect(taken).toBeGreaterThan(1_000);
  });
});
