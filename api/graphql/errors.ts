import { Code, ConnectError } from '@connectrpc/connect';
import { GraphQLError, Kind, visit, type ASTNode, type DocumentNode } from 'graphql';
import type { Logger } from 'pino';
import { FieldError } from '../../lib/errors';
import { toConnectError } from '../interceptors';

/**
 * GraphQL errors carry the same codes as ConnectRPC answers (docs/api-errors.md), in `extensions.code` as the
 * upper-snake gRPC names (INVALID_ARGUMENT, UNAUTHENTICATED, PERMISSION_DENIED, NOT_FOUND, UNAVAILABLE, ...), with
 * `extensions.field` (the GraphQL argument path) for INVALID_ARGUMENT and `extensions.retryAfter` (seconds) when
 * the platform says when to retry. One mapping, from Connect's: nothing is classified twice.
 */
export function codeName(code: Code): string {
  return (Code[code] ?? 'Unknown').replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
}

const HTTP_STATUS: Partial<Record<Code, number>> = { [Code.Unauthenticated]: 401, [Code.PermissionDenied]: 403 };

/** `member_query.demographics_filter.min_age` → `query.demographicsFilter.minAge` (proto paths to GraphQL names). */
export function graphqlFieldPath(protoPath: string, root: Record<string, string> = {}): string {
  const camel = (s: string) => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
  const [first = '', ...rest] = protoPath.split('.');
  const head = first.replace(/\[\d+\]$/, '');
  const mappedHead = root[head] !== undefined ? first.replace(head, root[head]) : camel(first);
  return [mappedHead, ...rest.map(camel)].join('.');
}

/** INVALID_ARGUMENT, NOT_FOUND, …: the names `codeName` gives Connect's codes. */
export function isConnectCodeName(code: unknown): boolean {
  return typeof code === 'string' && Object.values(Code).some((c) => typeof c === 'number' && codeName(c) === code);
}

/** The same error with a Connect code (and that code's HTTP status where it has one; otherwise the error's own). */
export function withCode(err: GraphQLError, code: Code): GraphQLError {
  const status = HTTP_STATUS[code];
  return new GraphQLError(err.message, {
    nodes: err.nodes,
    source: err.source,
    positions: err.positions,
    extensions: { ...err.extensions, code: codeName(code), ...(status ? { http: { status } } : {}) },
  });
}

export function graphqlError(message: string, code: Code, extra: Record<string, unknown> = {}): GraphQLError {
  const status = HTTP_STATUS[code];
  return new GraphQLError(message, { extensions: { code: codeName(code), ...extra, ...(status ? { http: { status } } : {}) } });
}

/**
 * Anything a resolver throws, as a GraphQL error: FieldError → INVALID_ARGUMENT with `field`; ConnectError keeps its
 * code; dependency outages → UNAVAILABLE with retryAfter; the rest INTERNAL (cause logged, never shown).
 */
export function toGraphqlError(err: unknown, logger: Logger, operation: string, fieldRoot: Record<string, string> = {}): GraphQLError {
  if (err instanceof GraphQLError) return err;
  if (err instanceof FieldError) {
    const field = graphqlFieldPath(err.fieldPath, fieldRoot);
    return graphqlError(`${field}: ${err.message.slice(err.fieldPath.length + 2)}`, Code.InvalidArgument, { field });
  }
  const ce = toConnectError(err, logger, `graphql/${operation}`);
  const retryAfter = ce.metadata.get('retry-after');
  return graphqlError(ce.rawMessage, ce.code, retryAfter ? { retryAfter: Number(retryAfter) } : {});
}

/** The argument path (`coverage.cacheControl`, `members.query.demographicsFilter.states`) that holds `target`. */
export function argumentPath(document: DocumentNode, target: ASTNode): string | undefined {
  let found: string | undefined;
  visit(document, {
    enter(node, _key, parent, _path, ancestors) {
      if (found !== undefined) return false;
      if (node !== target) return undefined;
      const names: string[] = [];
      for (const a of [...ancestors, parent, node]) {
        if (Array.isArray(a) || typeof a !== 'object' || a === null || !('kind' in a)) continue;
        const n = a as ASTNode;
        if (n.kind === Kind.FIELD) names.push(n.alias?.value ?? n.name.value);
        else if (n.kind === Kind.ARGUMENT || n.kind === Kind.OBJECT_FIELD) names.push(n.name.value);
      }
      found = names.join('.');
      return false;
    },
  });
  return found;
}

/** Where variable `$name` is used as an argument (first use), else `$name`. */
function variableArgumentPath(document: DocumentNode, name: string): string {
  let usage: ASTNode | undefined;
  visit(document, {
    Variable(node, _key, parent) {
      if (usage === undefined && node.name.value === name && parent && !Array.isArray(parent) && (parent as ASTNode).kind !== Kind.VARIABLE_DEFINITION) usage = node;
    },
  });
  return (usage && argumentPath(document, usage)) ?? `$${name}`;
}

const LIMIT_REASONS: [RegExp, string][] = [
  [/depth limit/i, 'QUERY_TOO_DEEP'],
  [/query cost limit/i, 'QUERY_TOO_COMPLEX'],
];

/**
 * Validation and variable-coercion errors (an unknown enum value, a wrong type, an unknown field, a query over the
 * depth or cost limit) as INVALID_ARGUMENT naming the field, like Connect's strict input.
 */
export function asInvalidArgument(err: GraphQLError, document: DocumentNode | undefined): GraphQLError {
  if (typeof err.extensions['code'] === 'string' && err.extensions['code'] !== 'GRAPHQL_VALIDATION_FAILED' && err.extensions['code'] !== 'BAD_USER_INPUT') return err;
  const limit = LIMIT_REASONS.find(([re]) => re.test(err.message));
  let field: string | undefined;
  const variable = /^Variable "\$([A-Za-z_][A-Za-z0-9_]*)"/.exec(err.message);
  if (document && variable?.[1]) field = variableArgumentPath(document, variable[1]);
  else if (document && !limit && err.nodes?.[0]) field = argumentPath(document, err.nodes[0]);
  return new GraphQLError(err.message.replace(/^Syntax Error: (?=Query (depth|cost))/, ''), {
    nodes: err.nodes,
    source: err.source,
    positions: err.positions,
    extensions: { code: codeName(Code.InvalidArgument), ...(field ? { field } : {}), ...(limit ? { reason: limit[1] } : {}), http: { status: 400 } },
  });
}

export { ConnectError };
