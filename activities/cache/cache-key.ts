import { hashMemberId } from '../../lib/member-hash';

/**
 * Keyed hash of member id + operation, the identity of a cache entry (and of its refresh claim). Uses the
 * member-hash HMAC so no raw member id reaches Redis. Operations may not contain ':', which keeps
 * `memberId:operation` unambiguous.
 */
export function memberOperationHash(secret: string, memberId: string, operation: string): string {
  if (operation.length === 0 || operation.includes(':')) throw new RangeError(`invalid cache operation ${JSON.stringify(operation)}`);
  if (memberId.length === 0) throw new RangeError('memberId must not be empty');
  return hashMemberId(secret, `${memberId}:${operation}`);
}
