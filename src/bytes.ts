/** Byte-array helpers shared across PIE (concatenation comes from @noble/hashes/utils). */

/** Equality that does not stop at the first differing byte (safe for MACs, ids and hashes alike). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
