// fabric-shim's ClientIdentity parses the caller's X.509 certificate with @fidm/x509 on every transaction
// (`Certificate.fromPEM` → pure-JS ASN.1 decoding), ≈ 5 % of the dev network's thread per transaction. A consortium
// has few identities and a PEM's parse never changes, so the dev network remembers the parses of the most recently
// used certificates. The shim only reads the parsed certificate (subject, issuer, extensions), so sharing one parse
// between transactions is safe (each certificate object is frozen, shallowly, against accidental writes).
//
// Import this module before fabric-shim runs a transaction (chaincode-runner.ts does). A real Fabric peer runs the
// chaincode in its own process, where none of this applies.
import { createRequire } from 'node:module';

/** distinct certificates remembered; the least recently used is dropped beyond this */
export const CERTIFICATE_CACHE_SIZE = 1024;

interface FidmCertificateClass {
  fromPEMs(data: Buffer): object[];
}

// @fidm/x509 is fabric-shim's dependency: resolve it from there, so it is the instance the shim uses.
const { Certificate } = createRequire(createRequire(import.meta.url).resolve('fabric-shim'))('@fidm/x509') as {
  Certificate: FidmCertificateClass;
};

const parse = Certificate.fromPEMs.bind(Certificate);
const cache = new Map<string, readonly object[]>();

Certificate.fromPEMs = function fromPEMsRemembered(data: Buffer): object[] {
  const key = Buffer.isBuffer(data) ? data.toString('latin1') : String(data);
  let certs = cache.get(key);
  if (certs) {
    cache.delete(key); // re-insert: Map order is the recency order
  } else {
    certs = Object.freeze(parse(data).map((c) => Object.freeze(c)));
    if (cache.size >= CERTIFICATE_CACHE_SIZE) cache.delete(cache.keys().next().value!);
  }
  cache.set(key, certs);
  // callers get their own array (fromPEM takes [0]); the certificates themselves are shared and frozen
  return [...certs];
};

export {};
