/**
 * Re-encryption proxies: each organisation registers the Umbral encryption keys of the proxies its nodes run, so a
 * patient's client takes proxy keys from the ledger (never from whichever node it talks to) when it seals kfrags.
 * A proxy's id names its organisation: `<msp>.proxy.<n>`, n = 1..MAX_PROXIES_PER_ORG.
 */
import { ContractError, invalid } from './errors.js';
import { mspId, publicKeyHex } from './participant.js';
import { deepFreeze, isoTime, object, string } from './validate.js';

export interface RegisteredProxy {
  /** `<org>.proxy.<n>` */
  readonly id: string;
  /** MSP id of the organisation that registered (runs) it */
  readonly org: string;
  /** 33-byte compressed secp256k1, hex: the Umbral key kfrags are sealed to */
  readonly encryptionKey: string;
  readonly registeredAt: string;
}

export const MAX_PROXIES_PER_ORG = 64;

const PROXY_ID = /^(.+)\.proxy\.([1-9][0-9]?)$/;

/** The proxy id of an organisation's n-th proxy. */
export const proxyIdOf = (org: string, n: number): string => `${org}.proxy.${n}`;

/** A proxy id `<msp>.proxy.<n>` (n 1..64); returns the id and its organisation. */
export function parseProxyId(v: unknown, field: string): { id: string; org: string; n: number } {
  const s = string(v, field, { max: 128 });
  const m = PROXY_ID.exec(s);
  const n = m ? Number(m[2]) : 0;
  if (!m || n < 1 || n > MAX_PROXIES_PER_ORG) throw invalid(field, `must be <organisation MSP id>.proxy.<n> with n in 1..${MAX_PROXIES_PER_ORG}`);
  return { id: s, org: mspId(m[1], field), n };
}

const FIELDS = ['id', 'org', 'encryptionKey', 'registeredAt'];

export function parseProxy(input: unknown, field = 'proxy'): RegisteredProxy {
  const o = object(input, field, FIELDS);
  const { id, org } = parseProxyId(o.id, `${field}.id`);
  if (mspId(o.org, `${field}.org`) !== org) throw invalid(`${field}.org`, `must be ${org}, the organisation the id names`);
  return deepFreeze({
    id,
    org,
    encryptionKey: publicKeyHex(o.encryptionKey, `${field}.encryptionKey`),
    registeredAt: isoTime(o.registeredAt, `${field}.registeredAt`),
  });
}

export interface ProxyRegistration {
  readonly id: string;
  readonly encryptionKey: string;
}

/** RegisterProxy's input {id, encryptionKey}: the id must name the caller's organisation. */
export function parseProxyRegistration(input: unknown, callerMsp: string, field = 'proxy'): ProxyRegistration {
  const o = object(input, field, ['id', 'encryptionKey']);
  const { id, org } = parseProxyId(o.id, `${field}.id`);
  if (org !== callerMsp) throw new ContractError('FORBIDDEN', `${field}.id: ${callerMsp} may register only its own proxies (${callerMsp}.proxy.<n>), not ${id}`);
  return { id, encryptionKey: publicKeyHex(o.encryptionKey, `${field}.encryptionKey`) };
}
