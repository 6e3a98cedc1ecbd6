import { createHmac } from 'node:crypto';
import { hashMemberId } from './member-hash';

describe('hashMemberId (remembered per secret and member)', () => {
  const direct = (secret: string, id: string) => createHmac('sha256', secret).update(id).digest('base64url').slice(0, 32);

  test('answers the keyed HMAC, first call and repeated calls alike', () => {
    expect(hashMemberId('s1', 'M-1')).toBe(direct('s1', 'M-1'));
    expect(hashMemberId('s1', 'M-1')).toBe(direct('s1', 'M-1'));
    expect(hashMemberId('s1', 'M-1')).toHaveLength(32);
  });

  test('a different secret gives a different hash for the same member (the memo is keyed by both)', () => {
    expect(hashMemberId('s1', 'M-2')).not.toBe(hashMemberId('s2', 'M-2'));
    expect(hashMemberId('s2', 'M-2')).toBe(direct('s2', 'M-2'));
    // A secret/member split cannot collide with another split of the same characters.
    expect(hashMemberId('ab', 'c')).toBe(direct('ab', 'c'));
    expect(hashMemberId('a', 'bc')).toBe(direct('a', 'bc'));
  });

  test('stays correct past the memo bound (oldest entries evicted, recomputed on demand)', () => {
    for (let i = 0; i < 10_050; i++) hashMemberId('s3', `M-${i}`);
    expect(hashMemberId('s3', 'M-0')).toBe(direct('s3', 'M-0'));
    expect(hashMemberId('s3', 'M-10049')).toBe(direct('s3', 'M-10049'));
  });
});
