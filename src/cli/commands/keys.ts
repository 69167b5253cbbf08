/** `pie keys create | import | show`: the participant's keystore (src/crypto/keystore.ts, docs/keystore.md). */
import { promises as fsp } from 'node:fs';
import { fromHex, toHex } from '../../bytes.js';
import { createKeystore, importKeys, loadKeystore, publicKeysOf, saveKeystore } from '../../crypto/keystore.js';
import type { Keystore } from '../../crypto/keystore.js';
import { SecretKey } from '../../crypto/umbral/index.js';
import { str } from '../command.js';
import type { Command, CommandContext } from '../command.js';
import { CliError, UsageError } from '../io.js';
import { keystorePathOf, newPassphrase, profilePath, readProfile } from '../profile.js';

const publicKeys = (ks: Keystore): { signingKey: string; encryptionKey: string } => {
  const pk = publicKeysOf(ks);
  return { signingKey: toHex(pk.signing.toCompressedBytes()), encryptionKey: toHex(pk.encryption.toCompressedBytes()) };
};

const showKeys = (ctx: CommandContext, ks: Keystore, file: string): void => {
  const keys = publicKeys(ks);
  ctx.out.result({ keystore: file, ...keys }, [`keystore:       ${file}`, `signing key:    ${keys.signingKey}`, `encryption key: ${keys.encryptionKey}`]);
};

async function refuseOverwrite(file: string): Promise<void> {
  const exists = await fsp.stat(file).then(
    () => true,
    () => false,
  );
  if (exists) throw new CliError(`${file} exists; choose another --out (a keystore is never overwritten)`);
}

/** A 32-byte secret key as hex in a file (whitespace around it ignored). */
async function secretKeyFile(path: string, option: string): Promise<SecretKey> {
  const text = (await fsp.readFile(path, 'utf8')).trim();
  if (!/^[0-9a-fA-F]{64}$/.test(text)) throw new UsageError(`--${option}: ${path} must hold a 32-byte secret key as 64 hex characters`);
  const bytes = fromHex(text);
  try {
    return SecretKey.fromBEBytes(bytes);
  } catch {
    throw new UsageError(`--${option}: ${path} does not hold a valid secp256k1 secret key`);
  } finally {
    bytes.fill(0);
  }
}

export const keysCreate: Command = {
  name: 'keys create',
  usage: '--out FILE [--label TEXT]',
  summary: 'generate a signing and an encryption key pair in a new passphrase-protected keystore',
  options: { out: { type: 'string' }, label: { type: 'string' } },
  async run(ctx) {
    const out = str(ctx.values, 'out', true);
    await refuseOverwrite(out);
    const ks = await createKeystore({ passphrase: await newPassphrase(ctx.io, ctx.values), label: str(ctx.values, 'label') ?? '' });
    await saveKeystore(out, ks);
    showKeys(ctx, ks, out);
  },
};

export const keysImport: Command = {
  name: 'keys import',
  usage: '--signing-hex-file FILE --encryption-hex-file FILE --out FILE [--label TEXT]',
  summary: 'wrap existing secret keys (hex files) in a new keystore',
  options: { 'signing-hex-file': { type: 'string' }, 'encryption-hex-file': { type: 'string' }, out: { type: 'string' }, label: { type: 'string' } },
  async run(ctx) {
    const out = str(ctx.values, 'out', true);
    const signingKey = await secretKeyFile(str(ctx.values, 'signing-hex-file', true), 'signing-hex-file');
    const encryptionKey = await secretKeyFile(str(ctx.values, 'encryption-hex-file', true), 'encryption-hex-file');
    await refuseOverwrite(out);
    const ks = await importKeys({ signingKey, encryptionKey }, await newPassphrase(ctx.io, ctx.values), { label: str(ctx.values, 'label') ?? '' });
    await saveKeystore(out, ks);
    showKeys(ctx, ks, out);
  },
};

export const keysShow: Command = {
  name: 'keys show',
  usage: '[--keystore FILE]',
  summary: 'the public keys (what a patient hands the organisation to be registered); no passphrase needed',
  options: { keystore: { type: 'string' } },
  async run(ctx) {
    let file = str(ctx.values, 'keystore');
    if (file === undefined) {
      const path = profilePath(ctx.io, ctx.values);
      file = keystorePathOf(path, await readProfile(path));
    }
    showKeys(ctx, await loadKeystore(file), file);
  },
};
