/** `pie register` (an organisation admin registers a participant), `pie login` (writes the profile), `pie whoami`. */
import { resolve } from 'node:path';
import { publicKeysOf, loadKeystore } from '../../crypto/keystore.js';
import { toHex } from '../../bytes.js';
import { PARTICIPANT_FIELDS } from '../../client/types.js';
import type { ParticipantInfo } from '../../client/types.js';
import { str } from '../command.js';
import type { Command } from '../command.js';
import { CliError, EXIT, UsageError } from '../io.js';
import { checkUrl, profilePath, unlockParticipant, writeProfile } from '../profile.js';

const KINDS = ['patient', 'physician', 'researcher', 'insurer', 'org-admin'];
const LEVELS = ['low', 'moderate', 'private'];
const PUBLIC_KEY = /^0[23][0-9a-fA-F]{64}$/;
const enumName = (v: string): string => v.toUpperCase().replace(/-/g, '_');

const describe = (p: ParticipantInfo): string[] => [
  `id:        ${p.id}`,
  `kind:      ${p.kind}   clearance: ${p.clearance}   status: ${p.status}`,
  `org:       ${p.org}${p.roles.length > 0 ? `   roles: ${p.roles.join(', ')}` : ''}`,
];

export const register: Command = {
  name: 'register',
  usage: '--kind patient|physician|researcher|insurer|org-admin --signing-key HEX --encryption-key HEX [--clearance low|moderate|private] [--roles a,b]',
  summary: 'as an organisation admin: register a participant with its public keys (from `pie keys show`); prints its id',
  options: { kind: { type: 'string' }, 'signing-key': { type: 'string' }, 'encryption-key': { type: 'string' }, clearance: { type: 'string' }, roles: { type: 'string' } },
  async run(ctx) {
    const kind = str(ctx.values, 'kind', true).toLowerCase();
    if (!KINDS.includes(kind)) throw new UsageError(`--kind: one of ${KINDS.join(', ')}`);
    const signingKey = str(ctx.values, 'signing-key', true);
    const encryptionKey = str(ctx.values, 'encryption-key', true);
    for (const [name, v] of [['signing-key', signingKey], ['encryption-key', encryptionKey]] as const) {
      if (!PUBLIC_KEY.test(v)) throw new UsageError(`--${name}: a compressed secp256k1 public key, 66 hex characters (see \`pie keys show\`)`);
    }
    const clearance = str(ctx.values, 'clearance')?.toLowerCase();
    if (clearance !== undefined && !LEVELS.includes(clearance)) throw new UsageError(`--clearance: one of ${LEVELS.join(', ')}`);
    const roles = (str(ctx.values, 'roles') ?? '').split(',').map((r) => r.trim()).filter((r) => r !== '');
    const input = {
      kind: enumName(kind),
      signingKey: signingKey.toLowerCase(),
      encryptionKey: encryptionKey.toLowerCase(),
      roles,
      ...(clearance === undefined ? {} : { clearance: enumName(clearance) }),
    };
    const { participant } = await ctx.session();
    const { registerParticipant } = await participant.client.request<{ registerParticipant: { participant: ParticipantInfo } }>(
      `mutation($input: RegisterParticipantInput!) { registerParticipant(input: $input) { participant { ${PARTICIPANT_FIELDS} } } }`,
      { input },
    );
    const p = registerParticipant.participant;
    ctx.out.result(p, p.id);
  },
};

export const login: Command = {
  name: 'login',
  usage: '--url URL --id PARTICIPANT_ID --keystore FILE [--audience AUD]',
  summary: 'check that the keystore’s keys are those registered for the id at the node, then write the profile',
  options: { url: { type: 'string' }, audience: { type: 'string' }, id: { type: 'string' }, keystore: { type: 'string' } },
  async run(ctx) {
    const url = checkUrl(str(ctx.values, 'url', true), '--url');
    const participantId = str(ctx.values, 'id', true);
    if (!/^[0-9a-f]{32}$/.test(participantId)) throw new UsageError('--id: a participant id, 32 lower-case hex characters');
    const keystorePath = resolve(str(ctx.values, 'keystore', true));
    const keystore = await loadKeystore(keystorePath);
    const audience = str(ctx.values, 'audience') ?? (await defaultAudience(url));
    const participant = await unlockParticipant(ctx.io, ctx.values, { url, audience, participantId }, keystore);
    const me = await participant.me();
    const mine = publicKeysOf(keystore);
    if (me.id !== participantId || me.signingKey !== toHex(mine.signing.toCompressedBytes()) || me.encryptionKey !== toHex(mine.encryption.toCompressedBytes())) {
      throw new CliError(`the keystore’s keys are not the keys the node has registered for ${participantId}`, EXIT.INTEGRITY);
    }
    const path = profilePath(ctx.io, ctx.values);
    const profile = { url, audience, participantId, keystore: keystorePath };
    await writeProfile(path, profile);
    ctx.out.result({ profile: path, ...profile, participant: me }, [`logged in; profile written to ${path}`, ...describe(me)]);
  },
};

export const whoami: Command = {
  name: 'whoami',
  usage: '',
  summary: 'the profile’s participant as the node has it registered',
  async run(ctx) {
    const { participant } = await ctx.session();
    const me = await participant.me();
    ctx.out.result(me, describe(me));
  },
};

/** pie://<organisation>, the node's default audience, from its GET /health. */
async function defaultAudience(url: string): Promise<string> {
  const res = await fetch(`${url}/health`);
  const body = (await res.json().catch(() => ({}))) as { organisation?: unknown };
  if (!res.ok || typeof body.organisation !== 'string') throw new CliError(`${url}/health did not name the node’s organisation; pass --audience`, EXIT.UNAVAILABLE);
  return `pie://${body.organisation}`;
}
