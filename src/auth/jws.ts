/**
 * What minting and verifying share: the token constants and base64url (RFC 4648 §5, no padding), written without
 * Buffer so that minting runs in browsers.
 */
export const TOKEN_ALG = 'ES256K';
export const DEFAULT_TOKEN_LIFETIME_S = 300;
export const MAX_TOKEN_LIFETIME_S = 600;
export const DEFAULT_CLOCK_SKEW_S = 30;
/** Longest token accepted (characters); ours are ≈ 330. */
export const MAX_TOKEN_LENGTH = 4096;

export const PARTICIPANT_ID = /^[0-9a-f]{32}$/;
export const JTI = /^[A-Za-z0-9_-]{16,128}$/;

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const B64URL_TEXT = /^[A-Za-z0-9_-]*$/;

export function base64urlEncode(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = Math.min(4, Math.ceil(((bytes.length - i) * 8) / 6));
    for (let c = 0; c < chars; c++) out += B64URL[(n >> (18 - 6 * c)) & 63];
  }
  return out;
}

/** Strict: unpadded, URL-safe alphabet only, canonical (unused trailing bits zero). Undefined if invalid. */
export function base64urlDecode(text: string): Uint8Array | undefined {
  if (!B64URL_TEXT.test(text) || text.length % 4 === 1) return undefined;
  const out = new Uint8Array(Math.floor((text.length * 6) / 8));
  let bits = 0;
  let acc = 0;
  let o = 0;
  for (const ch of text) {
    acc = (acc << 6) | B64URL.indexOf(ch);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
      acc &= (1 << bits) - 1;
    }
  }
  return acc === 0 ? out : undefined;
}

export const utf8 = new TextEncoder();
export const encodeJson = (value: unknown): string => base64urlEncode(utf8.encode(JSON.stringify(value)));
