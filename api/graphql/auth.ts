import { Code, ConnectError } from '@connectrpc/connect';
import { Kind, type DocumentNode, type OperationDefinitionNode, type SelectionSetNode } from 'graphql';
import { hasScope, Scope, type Principal, type ScopeName, type TokenVerifier } from '../auth';
import { graphqlError } from './errors';

/**
 * Scope each root field requires, as REQUIRED_SCOPES does per RPC. A root field missing here is refused
 * (deny by default). Introspection (`__schema`, `__type`, `__typename`) needs only a valid token.
 */
export const ROOT_FIELD_SCOPES: Readonly<Record<string, ScopeName>> = {
  coverage: Scope.EligibilityRead,
  members: Scope.EligibilityRead,
};

/** The same bearer-token check as the Connect auth interceptor (api/auth.ts), answered as a GraphQL error. */
export async function authenticate(authorization: string | null, verify: TokenVerifier): Promise<Principal> {
  const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
  if (!match?.[1]) throw graphqlError('missing bearer token (Authorization: Bearer <JWT>)', Code.Unauthenticated);
  try {
    return await verify(match[1]);
  } catch (err) {
    if (err instanceof ConnectError) throw graphqlError(err.rawMessage, err.code);
    throw graphqlError('invalid or expired bearer token', Code.Unauthenticated);
  }
}

function rootFields(set: SelectionSetNode, fragments: Map<string, SelectionSetNode>, seen = new Set<string>()): string[] {
  const out: string[] = [];
  for (const s of set.selections) {
    if (s.kind === Kind.FIELD) out.push(s.name.value);
    else if (s.kind === Kind.INLINE_FRAGMENT) out.push(...rootFields(s.selectionSet, fragments, seen));
    else if (!seen.has(s.name.value)) {
      seen.add(s.name.value);
      const f = fragments.get(s.name.value);
      if (f) out.push(...rootFields(f, fragments, seen));
    }
  }
  return out;
}

/** Throws PERMISSION_DENIED unless the caller holds the scope of every root field the operation selects. */
export function requireRootFieldScopes(document: DocumentNode, operationName: string | null | undefined, principal: Principal): void {
  const ops = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const op = operationName ? ops.find((o) => o.name?.value === operationName) : ops.length === 1 ? ops[0] : undefined;
  if (!op) return; // graphql-js refuses the request itself (unknown or ambiguous operation)
  if (op.operation !== 'query') throw graphqlError(`${op.operation} operations are not offered: this GraphQL API is read-only`, Code.PermissionDenied);
  const fragments = new Map(
    document.definitions.flatMap((d) => (d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d.selectionSet] as const] : [])),
  );
  const fields = rootFields(op.selectionSet, fragments);
  // One page of members per request: aliases must not multiply the bulk read (the cost limit sees only literal `first`).
  if (fields.filter((f) => f === 'members').length > 1) throw graphqlError('members: at most one members page per request', Code.InvalidArgument, { field: 'members' });
  for (const field of new Set(fields)) {
    if (field.startsWith('__')) continue;
    const required = ROOT_FIELD_SCOPES[field];
    if (!required) throw graphqlError(`no access policy for Query.${field}`, Code.PermissionDenied);
    if (!hasScope(principal, required)) throw graphqlError(`scope ${required} required for Query.${field}`, Code.PermissionDenied);
  }
}
