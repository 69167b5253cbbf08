/**
 * The MessagePack subset umbral-pre 0.10 uses for its objects: structs as fixarrays, byte strings
 * as bin8, booleans as c2/c3, no header. The reader is strict: one canonical encoding per object,
 * nothing trailing. Errors name the object and the offset.
 */
import { UmbralError } from './errors.js';

export class Writer {
  private readonly parts: Uint8Array[] = [];
  private size = 0;
  array(n: number): this {
    return this.raw(Uint8Array.of(0x90 | n));
  }
  bin(bytes: Uint8Array): this {
    return this.raw(Uint8Array.of(0xc4, bytes.length)).raw(bytes);
  }
  bool(v: boolean): this {
    return this.raw(Uint8Array.of(v ? 0xc3 : 0xc2));
  }
  private raw(b: Uint8Array): this {
    this.parts.push(b);
    this.size += b.length;
    return this;
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.size);
    let off = 0;
    for (const p of this.parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }
}

export class Reader {
  private off = 0;
  constructor(
    private readonly buf: Uint8Array,
    private readonly what: string,
  ) {
    if (!(buf instanceof Uint8Array)) throw new UmbralError('INVALID_ARGUMENT', `${what}: bytes must be a Uint8Array`);
  }
  private fail(reason: string): never {
    throw new UmbralError('MALFORMED_BYTES', `${this.what}: ${reason} at offset ${this.off}`);
  }
  private byte(): number {
    if (this.off >= this.buf.length) this.fail('unexpected end of data');
    return this.buf[this.off++]!;
  }
  array(n: number): void {
    const b = this.byte();
    if (b !== (0x90 | n)) this.fail(`expected a MessagePack array of ${n} elements (0x${(0x90 | n).toString(16)}), got 0x${b.toString(16)}`);
  }
  bin(len: number, field: string): Uint8Array {
    if (this.byte() !== 0xc4) this.fail(`expected a MessagePack bin8 for ${field}`);
    const l = this.byte();
    if (l !== len) this.fail(`${field} must be ${len} bytes, got ${l}`);
    if (this.off + len > this.buf.length) this.fail(`${field} is truncated`);
    const out = this.buf.slice(this.off, this.off + len);
    this.off += len;
    return out;
  }
  bool(field: string): boolean {
    const b = this.byte();
    if (b === 0xc3) return true;
    if (b === 0xc2) return false;
    return this.fail(`expected a MessagePack boolean for ${field}, got 0x${b.toString(16)}`);
  }
  end(): void {
    if (this.off !== this.buf.length) this.fail(`${this.buf.length - this.off} trailing bytes`);
  }
}
