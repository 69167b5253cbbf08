/** A point as Umbral objects hold it: affine coordinates plus the cached compressed encoding. */
import { type Affine, type Jacobian, toAffineBatch } from '../ec/jacobian.js';
import { decodePoint, encodeCompressed } from '../ec/point.js';
import { malformed } from './errors.js';

export class CurvePoint {
  private constructor(
    readonly affine: Affine,
    readonly bytes: Uint8Array,
  ) {}
  static fromAffine(a: Affine): CurvePoint {
    return new CurvePoint(a, encodeCompressed(a));
  }
  /** Parses 33-byte compressed (or 65-byte uncompressed) SEC1; `what` names the field in errors. */
  static fromBytes(bytes: Uint8Array, what: string): CurvePoint {
    try {
      const a = decodePoint(bytes);
      return new CurvePoint(a, bytes.length === 33 ? bytes.slice() : encodeCompressed(a));
    } catch (e) {
      throw malformed(what, (e as Error).message);
    }
  }
  /** Normalises several Jacobian results with one field inversion. */
  static fromJacobians(points: Jacobian[], what: string): CurvePoint[] {
    let affine: Affine[];
    try {
      affine = toAffineBatch(points);
    } catch {
      throw new Error(`internal: ${what} produced the point at infinity`);
    }
    return affine.map((a) => CurvePoint.fromAffine(a));
  }
  equals(other: CurvePoint): boolean {
    return this.affine.x === other.affine.x && this.affine.y === other.affine.y;
  }
}
