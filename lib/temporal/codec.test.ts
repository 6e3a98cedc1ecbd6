import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import { ENCRYPTED_ENCODING, EncryptionCodec, METADATA_KEY_ID, parseCodecKeys } from './codec';
import { loadConfig } from '../config';

const key = (id: string) => `${id}:${randomBytes(32).toString('base64')}`;
const text = (b: Uint8Array | null | undefined) => Buffer.from(b ?? new Uint8Array()).toString('utf8');

describe('EncryptionCodec (AES-256-GCM)', () => {
  const k1 = key('k1');
  const k2 = key('k2');
  const input = defaultPayloadConverter.toPayload({ memberId: 'm_0000001', operation: 'x' });

  it('encrypts the whole payload: the outer payload carries only the encoding and the key id', async () => {
    const [enc] = await new EncryptionCodec(parseCodecKeys(k1)).encode([input]);
    expect(text(enc!.metadata!['encoding'])).toBe(ENCRYPTED_ENCODING);
    expect(text(enc!.metadata![METADATA_KEY_ID])).toBe('k1');
    expect(Buffer.from(enc!.data!).toString('latin1')).not.toContain('m_0000001');
    const [dec] = await new EncryptionCodec(parseCodecKeys(k1)).decode([enc!]);
    expect(defaultPayloadConverter.fromPayload(dec!)).toEqual({ memberId: 'm_0000001', operation: 'x' });
  });

  it('rotation: the first key encrypts, an old key still decrypts; a dropped key fails naming it', async () => {
    const [old] = await new EncryptionCodec(parseCodecKeys(k1)).encode([input]);
    const rotated = new EncryptionCodec(parseCodecKeys(`${k2},${k1}`));
    const [fresh] = await rotated.encode([input]);
    expect(text(fresh!.metadata![METADATA_KEY_ID])).toBe('k2');
    const [a, b] = await rotated.decode([old!, fresh!]);
    expect(defaultPayloadConverter.fromPayload(a!)).toEqual({ memberId: 'm_0000001', operation: 'x' });
    expect(defaultPayloadConverter.fromPayload(b!)).toEqual({ memberId: 'm_0000001', operation: 'x' });
    await expect(new EncryptionCodec(parseCodecKeys(k2)).decode([old!])).rejects.toThrow(/"k1".*not configured/);
  });

  it('refuses tampered ciphertext and passes unencrypted (pre-codec) payloads through', async () => {
    const codec = new EncryptionCodec(parseCodecKeys(k1));
    const [enc] = await codec.encode([input]);
    const data = Buffer.from(enc!.data!);
    data[20] = data[20]! ^ 1;
    await expect(codec.decode([{ ...enc!, data }])).rejects.toThrow();
    expect(await codec.decode([input])).toEqual([input]);
  });

  it('parses key lists and names what is wrong', () => {
    expect(parseCodecKeys(`${k2}, ${k1}`).map((k) => k.id)).toEqual(['k2', 'k1']);
    expect(() => parseCodecKeys('k1:AAAA')).toThrow(/32 bytes/);
    expect(() => parseCodecKeys(`${k1},${k1}`)).toThrow(/twice/);
    expect(() => parseCodecKeys('')).toThrow(/at least one/);
  });

  it('config: the local profile uses the dev key, production refuses it and bad keys name the variable', () => {
    expect(loadConfig({}).codec.keys.map((k) => k.id)).toEqual(['dev1']);
    expect(() => loadConfig({ RTE_PROFILE: 'production' })).toThrow(/TEMPORAL_CODEC_KEYS: production refuses the dev key/);
    expect(() => loadConfig({ TEMPORAL_CODEC_KEYS: 'x:short' })).toThrow(/TEMPORAL_CODEC_KEYS/);
    expect(() => loadConfig({ CODEC_SERVER_AUTH: 'none', CODEC_SERVER_HOST: '0.0.0.0' })).toThrow(/CODEC_SERVER_AUTH/);
  });
});
