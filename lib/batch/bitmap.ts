/**
 * A compact set of small non-negative integers (member offsets inside a chunk of ≤ 10,000), serialized as base64
 * so it can travel in workflow state and activity payloads: 10,000 members = 1,250 bytes = 1,668 base64 chars.
 * Bundle-safe: no Node Buffer (workflows use it too).
 */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const LOOKUP: Record<string, number> = Object.fromEntries([...ALPHABET].map((c, i) => [c, i]));

export class Bitmap {
  private constructor(
    readonly size: number,
    private readonly bytes: Uint8Array,
  ) {}

  static empty(size: number): Bitmap {
    if (!Number.isInteger(size) || size < 0) throw new RangeError('bitmap size must be a non-negative integer');
    return new Bitmap(size, new Uint8Array(Math.ceil(size / 8)));
  }

  static fromIndexes(size: number, indexes: Iterable<number>): Bitmap {
    const b = Bitmap.empty(size);
    for (const i of indexes) b.add(i);
    return b;
  }

  static decode(size: number, encoded: string): Bitmap {
    const bytes = new Uint8Array(Math.ceil(size / 8));
    let bits = 0;
    let acc = 0;
    let out = 0;
    for (const ch of encoded) {
      if (ch === '=') break;
      const v = LOOKUP[ch];
      if (v === undefined) throw new RangeError('invalid bitmap encoding');
      acc = (acc << 6) | v;
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        if (out < bytes.length) bytes[out] = (acc >> bits) & 0xff;
        out++;
      }
    }
    return new Bitmap(size, bytes);
  }

  encode(): string {
    let s = '';
    const b = this.bytes;
    for (let i = 0; i < b.length; i += 3) {
      const n = (b[i]! << 16) | ((b[i + 1] ?? 0) << 8) | (b[i + 2] ?? 0);
      s += ALPHABET[(n >> 18) & 63]! + ALPHABET[(n >> 12) & 63]!;
      s += i + 1 < b.length ? ALPHABET[(n >> 6) & 63]! : '=';
      s += i + 2 < b.length ? ALPHABET[n & 63]! : '=';
    }
    return s;
  }

  has(i: number): boolean {
    if (i < 0 || i >= this.size) return false;
    return (this.bytes[i >> 3]! & (1 << (i & 7))) !== 0;
  }

  /** Adds i; returns true when it was not present before. */
  add(i: number): boolean {
    if (!Number.isInteger(i) || i < 0 || i >= this.size) throw new RangeError(`bitmap index ${i} out of range 0..${this.size - 1}`);
    const had = this.has(i);
    this.bytes[i >> 3] = this.bytes[i >> 3]! | (1 << (i & 7));
    return !had;
  }

  count(): number {
    let n = 0;
    for (const byte of this.bytes) {
      let v = byte;
      while (v) {
        v &= v - 1;
        n++;
      }
    }
    return n;
  }

  *indexes(): IterableIterator<number> {
    for (let i = 0; i < this.size; i++) if (this.has(i)) yield i;
  }
}
