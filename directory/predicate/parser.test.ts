import fc from 'fast-check';
import { FieldError } from '../../lib/errors';
import { SqlParams } from '../query/params';
import { compilePredicate } from './compile';
import { parsePredicate, PredicateError } from './parser';

describe('parsePredicate accepts the documented language', () => {
  test.each([
    ['AGE >= 18', { kind: 'compare', attribute: 'AGE', op: '>=' }],
    ["state = 'CA'", { kind: 'compare', attribute: 'STATE', op: '=' }],
    ["STATE IN ('CA', 'NY', 'TX')", { kind: 'in', attribute: 'STATE', negated: false }],
    ["PLAN_TYPE NOT IN ('HMO')", { kind: 'in', attribute: 'PLAN_TYPE', negated: true }],
    ['IS_VIP', { kind: 'attribute', attribute: 'IS_VIP' }],
    ['NOT IS_VIP', { kind: 'not' }],
    ['AGE > 1 AND AGE < 5 OR IS_VIP', { kind: 'or' }],
    ['AGE > 1 AND (AGE < 5 OR IS_VIP)', { kind: 'and' }],
    ['HAS_HSA = TRUE', { kind: 'compare', attribute: 'HAS_HSA', op: '=' }],
    ['INDIVIDUAL_DEDUCTIBLE <> 1500.50', { kind: 'compare', op: '!=' }],
    ['AGE == -1', { kind: 'compare', op: '=' }],
    ['true', { kind: 'literal', value: true }],
  ])('%s', (input, shape) => {
    expect(parsePredicate(input)).toMatchObject(shape);
  });

  test('AND binds tighter than OR', () => {
    const e = parsePredicate('IS_VIP OR IS_MOCK AND RTE_ENABLED');
    expect(e).toMatchObject({ kind: 'or', right: { kind: 'and' } });
  });

  test("'' escapes a quote inside a string", () => {
    expect(parsePredicate("CITY = 'O''Brien'")).toMatchObject({ value: { type: 'string', value: "O'Brien" } });
  });
});

describe('errors name the field and the position', () => {
  test.each([
    ['AGE >= 18 AND FOO = 1', "unknown attribute 'FOO' at 14"],
    ['AGE >= 18 AND', 'unexpected end of expression at 13'],
    ["STATE = 'CA", 'unterminated string literal at 8'],
    ['AGE >= 18 ) ', "unexpected token ')' at 10"],
    ["AGE = 'x'", 'type mismatch: AGE is a number, got a string at 6'],
    ["STATE < 'CA'", "operator '<' is not supported for string attribute STATE at 6"],
    ['AGE', 'AGE is a number attribute and needs a comparison at 0'],
    ['AGE >= 18; DROP TABLE members', "unexpected character ';' at 9"],
    ['', 'empty expression at 0'],
    ['AGE IN ()', "unexpected token ')' at 8"],
    ['AGE >= 1e5', "malformed number '1e' at 7"],
  ])('%s', (input, message) => {
    const err = (() => {
      try {
        parsePredicate(input);
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(PredicateError);
    expect(err).toBeInstanceOf(FieldError);
    expect((err as FieldError).message).toBe(`member_query.predicate_filter.expression: ${message}`);
  });

  test('deep nesting is rejected instead of overflowing the stack', () => {
    expect(() => parsePredicate(`${'('.repeat(500)}IS_VIP${')'.repeat(500)}`)).toThrow(/nested deeper than/);
  });
});

describe('no literal reaches SQL text', () => {
  const stringAttr = fc.constantFrom('STATE', 'CITY', 'PAYER', 'SPONSOR', 'PLAN_TYPE', 'LANGUAGE');
  const hostile = fc.string({ minLength: 1, maxLength: 40 });
  const quote = (s: string): string => `'${s.replace(/'/g, "''")}'`;

  test('SQL text is identical whatever the literal values are', () => {
    fc.assert(
      fc.property(stringAttr, hostile, fc.array(hostile, { minLength: 1, maxLength: 4 }), fc.double({ noNaN: true, min: -1e6, max: 1e6 }), (attr, s, list, n) => {
        const num = Number.isInteger(n) ? String(n) : n.toFixed(3);
        const expr = `${attr} = ${quote(s)} OR (${attr} NOT IN (${list.map(quote).join(', ')}) AND AGE >= ${num})`;
        const dummy = `${attr} = 'x' OR (${attr} NOT IN (${list.map(() => "'y'").join(', ')}) AND AGE >= 1)`;
        const a = new SqlParams();
        const b = new SqlParams();
        const sqlA = compilePredicate(parsePredicate(expr), { params: a, evaluatedAtYmd: 20241115 });
        const sqlB = compilePredicate(parsePredicate(dummy), { params: b, evaluatedAtYmd: 20241115 });
        expect(sqlA).toBe(sqlB);
        expect(a.values).toContain(s);
        expect(a.values).toContainEqual(list);
      }),
      { numRuns: 300 },
    );
  });

  test('arbitrary input either parses to whitelisted SQL or fails with a PredicateError', () => {
    const vocabulary = fc.constantFrom('AGE', 'STATE', 'IS_VIP', 'AND', 'OR', 'NOT', 'IN', '(', ')', ',', '=', '>=', "'CA'", '18', 'TRUE', ';', '--', '"', 'x');
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 60 }), fc.array(vocabulary, { maxLength: 12 }).map((t) => t.join(' '))), (input) => {
        let sql: string;
        try {
          sql = compilePredicate(parsePredicate(input), { params: new SqlParams(), evaluatedAtYmd: 20241115 });
        } catch (e) {
          expect(e).toBeInstanceOf(PredicateError);
          return;
        }
        expect(sql).not.toMatch(/;|--|'CA'|"/);
      }),
      { numRuns: 500 },
    );
  });
});
