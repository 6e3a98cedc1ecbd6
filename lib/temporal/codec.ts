import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, ValueError, type Payload, type PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';

/**
 * AES-256-GCM payload encryption for everything the platform puts into Temporal (inputs, results, signal and
 * update arguments, queries, heartbeat details, failures' details). The whole serialized payload (data and its
 * metadata) is encrypted; the outer payload carries only `encoding: binary/encrypted` and the key id, so histories,
 * visibility and the Web UI hold ciphertext. Rotation: the first key encrypts, every configured key decrypts.
 * Payloads that were never encrypted (histories written before the codec) pass through `decode` unchanged.
 */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const METADATA_KEY_ID = 'encryption-key-id';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface CodecKey {
  id: string;
  /** 32 bytes (AES-256). */
  key: Buffer;
}

/** Parses "k2:base64,k1:base64" (first = encrypting key). Throws naming the problem. */
export function parseCodecKeys(spec: string): CodecKey[] {
  const keys: CodecKey[] = [];
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const i = part.indexOf(':');
    const id = i > 0 ? part.slice(0, i) : '';
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(id)) throw new Error('expected "keyId:base64key,..." with key ids of [A-Za-z0-9._-]');
    const key = Buffer.from(part.slice(i + 1), 'base64');
    if (key.length !== 32) throw new Error(`key "${id}" must be 32 bytes of base64 (AES-256), got ${key.length}`);
    if (keys.some((k) => k.id === id)) throw new Error(`key id "${id}" appears twice`);
    keys.push({ id, key });
  }
  if (keys.length === 0) throw new Error('at least one key is required');
  return keys;
}

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | null | undefined) => (b ? Buffer.from(b).toString('utf8') : undefined);

export class EncryptionCodec implements PayloadCodec {
  private readonly byId: Map<string, Buffer>;
  private readonly current: CodecKey;

  constructor(keys: CodecKey[]) {
    const [current] = keys;
    if (!current) throw new ValueError('EncryptionCodec needs at least one key');
    this.current = current;
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const plain = temporal.api.common.v1.Payload.encode(payload).finish();
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', this.current.key, iv);
      const body = Buffer.concat([cipher.update(plain), cipher.final()]);
      return {
        metadata: { [METADATA_ENCODING_KEY]: utf8(ENCRYPTED_ENCODING), [METADATA_KEY_ID]: utf8(this.current.id) },
        data: Buffer.concat([iv, body, cipher.getAuthTag()]),
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (text(payload.metadata?.[METADATA_ENCODING_KEY]) !== ENCRYPTED_ENCODING) return payload;
      const keyId = text(payload.metadata?.[METADATA_KEY_ID]);
      if (!keyId) throw new ValueError('encrypted payload without an encryption-key-id');
      const key = this.byId.get(keyId);
      if (!key) throw new ValueError(`encrypted payload uses key "${keyId}", which is not configured (TEMPORAL_CODEC_KEYS)`);
      const data = Buffer.from(payload.data ?? new Uint8Array());
      if (data.length < IV_BYTES + TAG_BYTES) throw new ValueError('encrypted payload is truncated');
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      const plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      return temporal.api.common.v1.Payload.decode(plain);
    });
  }
}
