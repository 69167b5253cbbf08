/** Umbral's top-level operations: encrypt, decryptOriginal, decryptReencrypted. */
import { nmul, ninv, nsub } from '../ec/field.js';
import { VarBase, msmUnsafe } from '../ec/scalar-mult.js';
import { Jacobian, add, equals } from '../ec/jacobian.js';
import { Capsule } from './capsule.js';
import { VerifiedCapsuleFrag } from './cfrag.js';
import { CurvePoint } from './curve-point.js';
import { demDecrypt, demEncrypt } from './dem.js';
import { UmbralError, assertBytes } from './errors.js';
import { PublicKey, SecretKey } from './keys.js';
import { bytesEqual } from '../../bytes.js';
import { polynomialArg, sharedSecretScalar } from './kfrag.js';

export function encrypt(delegatingPk: PublicKey, plaintext: Uint8Array): [Capsule, Uint8Array] {
  if (!(delegatingPk instanceof PublicKey)) throw new UmbralError('INVALID_ARGUMENT', 'encrypt: delegatingPk must be a PublicKey');
  assertBytes(plaintext, 'plaintext');
  const { capsule, sharedPoint } = Capsule.fromPublicKey(delegatingPk);
  return [capsule, demEncrypt(sharedPoint, capsule.toBytesSimple(), plaintext)];
}

export function decryptOriginal(delegatingSk: SecretKey, capsule: Capsule, ciphertext: Uint8Array): Uint8Array {
  if (!(delegatingSk instanceof SecretKey)) throw new UmbralError('INVALID_ARGUMENT', 'decryptOriginal: delegatingSk must be a SecretKey');
  if (!(capsule instanceof Capsule)) throw new UmbralError('INVALID_ARGUMENT', 'decryptOriginal: capsule must be a Capsule');
  assertBytes(ciphertext, 'ciphertext');
  return demDecrypt(capsule.openOriginal(delegatingSk), capsule.toBytesSimple(), ciphertext);
}

/** Lagrange coefficients at 0 for distinct evaluation points xs. */
function lagrangeAtZero(xs: bigint[]): bigint[] {
  return xs.map((xi, i) => {
    let num = 1n;
    let den = 1n;
    xs.forEach((xj, j) => {
      if (j === i) return;
      num = nmul(num, xj);
      den = nmul(den, nsub(xj, xi));
    });
    return nmul(num, ninv(den));
  });
}

/**
 * Combines ≥ threshold verified cfrags and opens the capsule with the receiver's secret key.
 * Checks, before any decryption, that the cfrags share one precursor, are pairwise distinct, and
 * that the combined result satisfies pk_A·(s/d) = E'·h + V' for this capsule and receiver.
 */
export function decryptReencrypted(
  receivingSk: SecretKey,
  delegatingPk: PublicKey,
  capsule: Capsule,
  vcfrags: VerifiedCapsuleFrag[],
  ciphertext: Uint8Array,
): Uint8Array {
  if (!(receivingSk instanceof SecretKey)) throw new UmbralError('INVALID_ARGUMENT', 'decryptReencrypted: receivingSk must be a SecretKey');
  if (!(delegatingPk instanceof PublicKey)) throw new UmbralError('INVALID_ARGUMENT', 'decryptReencrypted: delegatingPk must be a PublicKey');
  if (!(capsule instanceof Capsule)) throw new UmbralError('INVALID_ARGUMENT', 'decryptReencrypted: capsule must be a Capsule');
  assertBytes(ciphertext, 'ciphertext');
  if (!Array.isArray(vcfrags) || vcfrags.length === 0) throw new UmbralError('NO_CFRAGS', 'decryptReencrypted: no capsule fragments given');
  if (!vcfrags.every((c) => c instanceof VerifiedCapsuleFrag)) {
    throw new UmbralError('INVALID_ARGUMENT', 'decryptReencrypted: every cfrag must be verified first (CapsuleFrag.verify)');
  }
  const frags = vcfrags.map((c) => c.fields);
  const precursor = frags[0]!.precursor;
  if (!frags.every((f) => f.precursor.equals(precursor))) {
    throw new UmbralError('MISMATCHED_CFRAGS', 'decryptReencrypted: the cfrags come from different kfrag sets (different precursors)');
  }
  const receivingPk = receivingSk.publicKey();
  const [dh] = CurvePoint.fromJacobians([new VarBase(precursor.affine).mulSecret(SecretKey.scalarOf(receivingSk))], 'dh');
  const xs = frags.map((f) => polynomialArg(precursor, receivingPk, dh!, f.kfragId));
  for (let i = 0; i < xs.length; i++) {
    for (let j = i + 1; j < xs.length; j++) {
      if (xs[i] === xs[j] || bytesEqual(frags[i]!.kfragId, frags[j]!.kfragId)) {
        throw new UmbralError('DUPLICATE_CFRAGS', `decryptReencrypted: cfrags ${i} and ${j} come from the same kfrag`);
      }
    }
  }
  const lambdas = lagrangeAtZero(xs);
  const d = sharedSecretScalar(precursor, receivingPk, dh!);
  const h = Capsule.challenge(capsule.e, capsule.v);
  // E' = Σλᵢe1ᵢ, V' = Σλᵢv1ᵢ. We need E' + V' (to open) and E'·h + V' (to check), each as one MSM.
  const checkPoint = msmUnsafe(
    frags.flatMap((f, i) => [
      { point: f.e1.affine, scalar: nmul(lambdas[i]!, h) },
      { point: f.v1.affine, scalar: lambdas[i]! },
    ]),
  );
  const expected = delegatingPk.mulSecret(nmul(capsule.s, ninv(d)) || 1n);
  if (!equals(expected, checkPoint)) {
    throw new UmbralError(
      'REENCRYPTION_CHECK_FAILED',
      'decryptReencrypted: the cfrags do not open this capsule for this receiver (fewer than threshold, or made for another receiver or delegator)',
    );
  }
  const sums = frags.map((f) => add(Jacobian.fromAffine(f.e1.affine), Jacobian.fromAffine(f.v1.affine)));
  if (sums.some((s) => s.isZero())) throw new UmbralError('REENCRYPTION_CHECK_FAILED', 'decryptReencrypted: degenerate cfrag (e1 + v1 = 0)');
  const sumPoints = CurvePoint.fromJacobians(sums, 'e1 + v1');
  const combined = msmUnsafe(sumPoints.map((p, i) => ({ point: p.affine, scalar: lambdas[i]! })));
  if (combined.isZero()) throw new UmbralError('REENCRYPTION_CHECK_FAILED', 'decryptReencrypted: the combined cfrags are degenerate');
  const [sharedPoint] = CurvePoint.fromJacobians([new VarBase(combined).mulSecret(d)], 'shared point');
  return demDecrypt(sharedPoint!.bytes, capsule.toBytesSimple(), ciphertext);
}

