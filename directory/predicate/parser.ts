import { FieldError } from '../../lib/errors';
import type { ComparisonOp, Literal, PredicateExpr } from './ast';
import { lookupAttribute } from './attributes';

export const DEFAULT_PREDICATE_FIELD = 'member_query.predicate_filter.expression';
export const MAX_EXPRESSION_LENGTH = 4096;
export const MAX_NESTING_DEPTH = 64;
export const MAX_IN_LIST = 1000;

/** A syntax or semantic error in a predicate expression; `position` is the 0-based character offset. */
export class PredicateError extends FieldError {
  constructor(
    fieldPath: string,
    readonly reason: string,
    readonly position: number,
  ) {
    super(fieldPath, `${reason} at ${position}`);
    this.name = 'PredicateError';
  }
}

type TokenKind = 'ident' | 'number' | 'string' | 'op' | 'lparen' | 'rparen' | 'comma' | 'eof';
interface Token {
  kind: TokenKind;
  text: string; // raw text (for errors); for strings, the decoded value
  pos: number;
}

const KEYWORDS = new Set(['AND', 'OR', 'NOT', 'IN', 'TRUE', 'FALSE']);

export function tokenize(input: string, field: string = DEFAULT_PREDICATE_FIELD): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i] as string;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const start = i;
    if (/[A-Za-z_]/.test(c)) {
      while (i < input.length && /[A-Za-z0-9_]/.test(input[i] as string)) i++;
      tokens.push({ kind: 'ident', text: input.slice(start, i), pos: start });
    } else if (/[0-9]/.test(c) || (c === '-' && /[0-9]/.test(input[i + 1] ?? '')) || (c === '.' && /[0-9]/.test(input[i + 1] ?? ''))) {
      if (c === '-') i++;
      while (i < input.length && /[0-9]/.test(input[i] as string)) i++;
      if (input[i] === '.') {
        i++;
        if (!/[0-9]/.test(input[i] ?? '')) throw new PredicateError(field, `malformed number '${input.slice(start, i)}'`, start);
        while (i < input.length && /[0-9]/.test(input[i] as string)) i++;
      }
      if (/[A-Za-z_]/.test(input[i] ?? '')) throw new PredicateError(field, `malformed number '${input.slice(start, i + 1)}'`, start);
      tokens.push({ kind: 'number', text: input.slice(start, i), pos: start });
    } else if (c === "'") {
      let value = '';
      i++;
      for (;;) {
        if (i >= input.length) throw new PredicateError(field, 'unterminated string literal', start);
        const ch = input[i] as string;
        if (ch === "'") {
          if (input[i + 1] === "'") {
            value += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += ch;
        i++;
      }
      tokens.push({ kind: 'string', text: value, pos: start });
    } else if (c === '(') {
      tokens.push({ kind: 'lparen', text: c, pos: i++ });
    } else if (c === ')') {
      tokens.push({ kind: 'rparen', text: c, pos: i++ });
    } else if (c === ',') {
      tokens.push({ kind: 'comma', text: c, pos: i++ });
    } else if (c === '=' || c === '<' || c === '>' || c === '!') {
      const two = input.slice(i, i + 2);
      if (two === '<=' || two === '>=' || two === '!=' || two === '<>' || two === '==') {
        tokens.push({ kind: 'op', text: two, pos: i });
        i += 2;
      } else if (c === '!') {
        throw new PredicateError(field, "unexpected character '!'", i);
      } else {
        tokens.push({ kind: 'op', text: c, pos: i++ });
      }
    } else {
      throw new PredicateError(field, `unexpected character '${c}'`, i);
    }
  }
  tokens.push({ kind: 'eof', text: '', pos: input.length });
  return tokens;
}

function normalizeOp(text: string): ComparisonOp {
  if (text === '==') return '=';
  if (text === '<>') return '!=';
  return text as ComparisonOp;
}

/**
 * Parses a predicate expression:
 *   expr := or;  or := and (OR and)*;  and := unary (AND unary)*;  unary := NOT unary | primary
 *   primary := '(' expr ')' | TRUE | FALSE | ATTR [op literal | [NOT] IN '(' literal (',' literal)* ')']
 * Keywords and attribute names are case-insensitive; strings are single-quoted with '' as escape.
 * Types are checked against the attribute whitelist.
 */
export function parsePredicate(input: string, field: string = DEFAULT_PREDICATE_FIELD): PredicateExpr {
  if (input.length > MAX_EXPRESSION_LENGTH) throw new PredicateError(field, `expression longer than ${MAX_EXPRESSION_LENGTH} characters`, MAX_EXPRESSION_LENGTH);
  const tokens = tokenize(input, field);
  let i = 0;
  let depth = 0;
  const peek = (): Token => tokens[i] as Token;
  const isKeyword = (t: Token, kw: string): boolean => t.kind === 'ident' && t.text.toUpperCase() === kw;
  const unexpected = (t: Token): PredicateError =>
    t.kind === 'eof' ? new PredicateError(field, 'unexpected end of expression', t.pos) : new PredicateError(field, `unexpected token '${t.text}'`, t.pos);
  const expect = (kind: TokenKind): Token => {
    const t = peek();
    if (t.kind !== kind) throw unexpected(t);
    i++;
    return t;
  };
  const enter = (pos: number): void => {
    if (++depth > MAX_NESTING_DEPTH) throw new PredicateError(field, `expression nested deeper than ${MAX_NESTING_DEPTH}`, pos);
  };

  const literal = (): Literal => {
    const t = peek();
    if (t.kind === 'number') {
      i++;
      return { type: 'number', value: Number(t.text), pos: t.pos };
    }
    if (t.kind === 'string') {
      i++;
      return { type: 'string', value: t.text, pos: t.pos };
    }
    if (isKeyword(t, 'TRUE') || isKeyword(t, 'FALSE')) {
      i++;
      return { type: 'boolean', value: t.text.toUpperCase() === 'TRUE', pos: t.pos };
    }
    throw unexpected(t);
  };

  const checkType = (attrName: string, attrType: string, lit: Literal): void => {
    if (lit.type !== attrType) throw new PredicateError(field, `type mismatch: ${attrName} is a ${attrType}, got a ${lit.type}`, lit.pos);
  };

  const primary = (): PredicateExpr => {
    const t = peek();
    if (t.kind === 'lparen') {
      i++;
      enter(t.pos);
      const e = orExpr();
      depth--;
      expect('rparen');
      return e;
    }
    if (isKeyword(t, 'TRUE') || isKeyword(t, 'FALSE')) {
      i++;
      return { kind: 'literal', value: t.text.toUpperCase() === 'TRUE', pos: t.pos };
    }
    if (t.kind !== 'ident' || KEYWORDS.has(t.text.toUpperCase())) throw unexpected(t);
    const attr = lookupAttribute(t.text);
    if (!attr) throw new PredicateError(field, `unknown attribute '${t.text}'`, t.pos);
    i++;
    const next = peek();
    if (next.kind === 'op') {
      i++;
      const op = normalizeOp(next.text);
      const value = literal();
      checkType(attr.name, attr.type, value);
      if (attr.type !== 'number' && op !== '=' && op !== '!=') {
        throw new PredicateError(field, `operator '${next.text}' is not supported for ${attr.type} attribute ${attr.name}`, next.pos);
      }
      return { kind: 'compare', attribute: attr.name, op, value, pos: t.pos };
    }
    const negated = isKeyword(next, 'NOT') && isKeyword(tokens[i + 1] as Token, 'IN');
    if (negated || isKeyword(next, 'IN')) {
      i += negated ? 2 : 1;
      expect('lparen');
      const values: Literal[] = [literal()];
      while (peek().kind === 'comma') {
        i++;
        values.push(literal());
        if (values.length > MAX_IN_LIST) throw new PredicateError(field, `IN list longer than ${MAX_IN_LIST}`, peek().pos);
      }
      expect('rparen');
      for (const v of values) checkType(attr.name, attr.type, v);
      return { kind: 'in', attribute: attr.name, negated, values, pos: t.pos };
    }
    if (attr.type !== 'boolean') {
      throw next.kind === 'eof'
        ? new PredicateError(field, `${attr.name} is a ${attr.type} attribute and needs a comparison`, t.pos)
        : unexpected(next);
    }
    return { kind: 'attribute', attribute: attr.name, pos: t.pos };
  };

  const unary = (): PredicateExpr => {
    const t = peek();
    if (isKeyword(t, 'NOT')) {
      i++;
      enter(t.pos);
      const operand = unary();
      depth--;
      return { kind: 'not', operand, pos: t.pos };
    }
    return primary();
  };

  const andExpr = (): PredicateExpr => {
    let left = unary();
    while (isKeyword(peek(), 'AND')) {
      const pos = peek().pos;
      i++;
      left = { kind: 'and', left, right: unary(), pos };
    }
    return left;
  };

  function orExpr(): PredicateExpr {
    let left = andExpr();
    while (isKeyword(peek(), 'OR')) {
      const pos = peek().pos;
      i++;
      left = { kind: 'or', left, right: andExpr(), pos };
    }
    return left;
  }

  if (peek().kind === 'eof') throw new PredicateError(field, 'empty expression', 0);
  const expr = orExpr();
  if (peek().kind !== 'eof') throw unexpected(peek());
  return expr;
}
