// `pie` end to end, in-process (runCli) against a real node: keys, registration by an admin's profile, login, the
// patient's records and reads, a physician's request approved from the CLI and read back byte for byte, revocation,
// consent and break-glass, rotation, audit, credits, watch; --json shapes; exit codes and error lines.
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { signAction } from '../../src/chain/pie-ledger.js';
import type { PieClient } from '../../src/client/index.js';
import { loadKeystore, unlockKeystore } from '../../src/crypto/keystore.js';
import { hex, registerCustodial, registerWithKeys, startTestNode } from '../node/harness.js';
import type { KeyHolder, TestNode } from '../node/harness.js';
import { json, pieWith } from './helpers.js';
import type { PieRun } from './helpers.js';

const PASSPHRASE = 'correct horse battery staple';

let t: TestNode;
let dir: string;
let pie: ReturnType<typeof pieWith>;
let doctor: { id: string; client: PieClient };
let patientId: string;
let recordId: string;
const content = randomBytes(150_000);

const file = (name: string): string => join(dir, name);
const as = (profile: string) => (args: string[], env?: Record<string, string>) => pie([...args, '--profile', file(`${profile}.json`)], env === undefined ? {} : { env });
const patient = as('patient');
const requester = as('requester');
const responder = as('responder');

/** A physician registered with its own keys, imported into a keystore and logged in as `profile`. */
async function loginKeyHolder(profile: string, holder: KeyHolder): Promise<void> {
  await fsp.writeFile(file(`${profile}.signing.hex`), hex(holder.signingKey.toBEBytes()));
  await fsp.writeFile(file(`${profile}.encryption.hex`), `${hex(holder.encryptionKey.toBEBytes())}\n`);
  const imported = await pie(['keys', 'import', '--signing-hex-file', file(`${profile}.signing.hex`), '--encryption-hex-file', file(`${profile}.encryption.hex`), '--out', file(`${profile}.keystore`)]);
  expect(imported.code).toBe(0);
  const login = await pie(['login', '--url', t.node.url, '--id', holder.id, '--keystore', file(`${profile}.keystore`), '--profile', file(`${profile}.json`)]);
  expect(login).toMatchObject({ code: 0, stderr: '' });
}

/** A new record of the patient, uploaded by the custodial physician. */
async function freshRecord(bytes: Uint8Array = randomBytes(1000)): Promise<string> {
  const blob = await doctor.client.uploadBlob(patientId, bytes, 'application/octet-stream');
  return (await doctor.client.createEmr({ patientId, ...blob, summary: { category: 'MEDICAL_INFORMATION', securityLevel: 'PRIVATE', year: 2022 } })).id;
}

const oneErrorLine = (r: PieRun): void => {
  expect(r.stderr).toMatch(/^pie: [^\n]+\n$/);
  expect(r.stderr).not.toMatch(/^\s+at /m); // no stack frames
};

beforeAll(async () => {
  t = await startTestNode({ PIE_PROXY_COUNT: '2' });
  dir = await fsp.mkdtemp(join(tmpdir(), 'pie-cli-'));
  pie = pieWith({ HOME: dir, PIE_PASSPHRASE: PASSPHRASE });
  doctor = await registerCustodial(t, 'PHYSICIAN');
}, 120_000);
afterAll(async () => {
  await t?.stop();
  if (dir !== undefined) await fsp.rm(dir, { recursive: true, force: true });
});

describe('pie', () => {
  it('keys create / show, register by an admin’s profile, login', async () => {
    const created = await pie(['keys', 'create', '--out', file('patient.keystore'), '--json']);
    const keys = json<{ keystore: string; signingKey: string; encryptionKey: string }>(created);
    expect(keys).toEqual({ keystore: file('patient.keystore'), signingKey: expect.stringMatching(/^0[23][0-9a-f]{64}$/), encryptionKey: expect.stringMatching(/^0[23][0-9a-f]{64}$/) });
    expect((await fsp.stat(file('patient.keystore'))).mode & 0o777).toBe(0o600);
    // never overwritten
    const again = await pie(['keys', 'create', '--out', file('patient.keystore')]);
    expect(again.code).toBe(1);
    oneErrorLine(again);
    // show needs no passphrase
    const shown = json(await pie(['keys', 'show', '--keystore', file('patient.keystore'), '--json'], { env: { PIE_PASSPHRASE: undefined } }));
    expect(shown).toEqual(keys);

    // an organisation admin with its own keystore and profile registers the patient
    const admin = await registerWithKeys(t, 'ORG_ADMIN');
    await loginKeyHolder('admin', admin);
    const registered = await as('admin')(['register', '--kind', 'patient', '--signing-key', keys.signingKey, '--encryption-key', keys.encryptionKey]);
    expect(registered).toMatchObject({ code: 0, stderr: '' });
    patientId = registered.stdout.trim();
    expect(patientId).toMatch(/^[0-9a-f]{32}$/);

    const login = json(await pie(['login', '--url', t.node.url, '--id', patientId, '--keystore', file('patient.keystore'), '--profile', file('patient.json'), '--json']));
    expect(login).toMatchObject({ profile: file('patient.json'), url: t.node.url, audience: t.node.config.audience, participantId: patientId, participant: { id: patientId, kind: 'PATIENT' } });
    expect(JSON.parse(await fsp.readFile(file('patient.json'), 'utf8'))).toEqual({ url: t.node.url, audience: t.node.config.audience, participantId: patientId, keystore: file('patient.keystore') });
    expect((await fsp.stat(file('patient.json'))).mode & 0o777).toBe(0o600);
    expect((await patient(['whoami'])).stdout).toContain(patientId);

    // a keystore whose keys are not the registered ones is refused, and no profile is written
    await pie(['keys', 'create', '--out', file('other.keystore')]);
    const wrong = await pie(['login', '--url', t.node.url, '--id', patientId, '--keystore', file('other.keystore'), '--profile', file('wrong.json')]);
    expect(wrong.code).toBe(3); // its tokens are signed with another key
    oneErrorLine(wrong);
    await expect(fsp.stat(file('wrong.json'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('records and read: the file’s bytes are the uploaded content; progress on stderr', async () => {
    const blob = await doctor.client.uploadBlob(patientId, content, 'application/pdf');
    recordId = (await doctor.client.createEmr({ patientId, ...blob, summary: { category: 'MEDICAL_INFORMATION', securityLevel: 'PRIVATE', year: 2023 } })).id;

    const list = json<{ id: string; authorId: string; metadata: { mediaType: string } }[]>(await patient(['records', '--json']));
    expect(list).toEqual([expect.objectContaining({ id: recordId, authorId: doctor.id, metadata: expect.objectContaining({ mediaType: 'application/pdf' }) })]);
    expect((await patient(['records'])).stdout).toContain(recordId);

    const read = await patient(['read', recordId, '--out', file('mine.pdf'), '--progress']);
    expect(read.code).toBe(0);
    expect((await fsp.readFile(file('mine.pdf'))).equals(content)).toBe(true);
    expect(read.stdout).toContain(`wrote ${content.length} bytes to ${file('mine.pdf')}`);
    // a line per tenth reached, then the end; the envelope may arrive in one chunk, leaving only the last line
    expect(read.stderr).toMatch(new RegExp(`^(\\d+ / ${blob.size} bytes\\n)*${blob.size} / ${blob.size} bytes\\n$`));

    // to stdout: the content itself
    const raw = await patient(['read', recordId]);
    expect(raw.code).toBe(0);
    expect(raw.stdoutBytes.equals(content)).toBe(true);

    const asJson = json(await patient(['read', recordId, '--out', file('mine2.pdf'), '--json']));
    expect(asJson).toEqual({ emrId: recordId, version: 1, operationId: expect.any(String), grantId: null, mediaType: 'application/pdf', contentHash: blob.contentHash, bytes: content.length, out: file('mine2.pdf') });
    expect((await fsp.readdir(dir)).filter((f) => f.endsWith('.partial'))).toEqual([]);
  });

  it('a physician requests, the patient approves from the CLI, the physician reads the same bytes; revoked, refused', async () => {
    await loginKeyHolder('requester', await registerWithKeys(t, 'PHYSICIAN'));
    const request = json<{ id: string; status: string }>(await requester(['request', recordId, '--purpose', 'second opinion', '--json']));
    expect(request.status).toBe('PENDING');

    const pending = json<{ id: string }[]>(await patient(['requests', '--status', 'pending', '--json']));
    expect(pending.map((r) => r.id)).toContain(request.id);
    expect((await patient(['requests'])).stdout).toContain(request.id);

    const grant = json<{ id: string; threshold: number; shares: number; kind: string; notBefore: string; notAfter: string }>(
      await patient(['approve', request.id, '--days', '2', '--threshold', '1', '--json']),
    );
    expect(grant).toMatchObject({ threshold: 1, shares: 2, kind: 'STANDARD' });
    expect(Date.parse(grant.notAfter) - Date.parse(grant.notBefore)).toBe(2 * 86_400_000);

    const live = json<{ id: string }[]>(await requester(['grants', '--live', '--json']));
    expect(live.map((g) => g.id)).toEqual([grant.id]);
    const read = await requester(['read', recordId, '--grant', grant.id, '--out', file('theirs.pdf')]);
    expect(read.code).toBe(0);
    expect((await fsp.readFile(file('theirs.pdf'))).equals(content)).toBe(true);

    const revoked = json<{ revokedAt: string | null }>(await patient(['revoke', grant.id, '--json']));
    expect(revoked.revokedAt).not.toBeNull();
    const refused = await requester(['read', recordId, '--grant', grant.id, '--out', file('again.pdf')]);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/^pie: FORBIDDEN: .*REVOKED/);
    oneErrorLine(refused);
    await expect(fsp.stat(file('again.pdf'))).rejects.toMatchObject({ code: 'ENOENT' });

    // denied, then approving it is a CONFLICT
    const second = json<{ id: string }>(await requester(['request', recordId, '--purpose', 'again', '--json']));
    expect(json(await patient(['deny', second.id, '--reason', 'no', '--json']))).toMatchObject({ id: second.id, status: 'DENIED' });
    const conflict = await patient(['approve', second.id]);
    expect(conflict.code).toBe(6);
    oneErrorLine(conflict);
  });

  it('consent, break-glass, rotate, audit, credits', async () => {
    const consent = json<{ granteeId: string; kind: string }>(await patient(['consent', recordId, '--json']));
    expect(consent).toMatchObject({ granteeId: doctor.id, kind: 'TREATING' });

    await loginKeyHolder('responder', await registerWithKeys(t, 'PHYSICIAN', { roles: ['emergency'] }));
    const emergency = json<{ id: string; kind: string }>(await responder(['break-glass', recordId, '--justification', 'unconscious on arrival, allergies unknown', '--minutes', '10', '--json']));
    expect(emergency.kind).toBe('EMERGENCY');
    const read = await responder(['read', recordId, '--grant', emergency.id, '--out', file('emergency.pdf')]);
    expect(read.code).toBe(0);
    expect((await fsp.readFile(file('emergency.pdf'))).equals(content)).toBe(true);

    const rotated = json<{ record: { id: string; version: number; previousId: string }; treatingGrant: { granteeId: string } | null }>(await patient(['rotate', recordId, '--json']));
    expect(rotated.record).toMatchObject({ version: 2, previousId: recordId });
    expect(rotated.treatingGrant).toMatchObject({ granteeId: doctor.id });
    const after = await patient(['read', rotated.record.id, '--out', file('rotated.pdf')]);
    expect(after.code).toBe(0);
    expect((await fsp.readFile(file('rotated.pdf'))).equals(content)).toBe(true);

    const trail = json<{ objectType: string; objectId: string }[]>(await patient(['audit', '--emr', recordId, '--json']));
    expect(trail.some((e) => e.objectType === 'grant' && e.objectId === emergency.id)).toBe(true);
    expect(trail.some((e) => e.objectType === 'operation')).toBe(true);
    expect((await patient(['audit'])).code).toBe(0);
    const fhir = json<{ resourceType: string; entry?: unknown[] }>(await patient(['audit', '--emr', recordId, '--fhir']));
    expect(fhir.resourceType).toBe('Bundle');

    const credits = json<{ participant: number; organisation: number }>(await patient(['credits', '--json']));
    expect(credits).toEqual({ participant: expect.any(Number), organisation: expect.any(Number) });
    expect((await patient(['credits'])).stdout).toMatch(/^participant: +-?\d+\norganisation: +-?\d+\n$/);
  });

  it('watch prints events as they come, one JSON document per line, and resumes from the saved cursor', async () => {
    const ks = await unlockKeystore(await loadKeystore(file('patient.keystore')), PASSPHRASE);
    const ledger = t.node.services.ledger;
    // an event the patient sees: the patient's own download, recorded on the ledger
    const emrId = await freshRecord();
    const probe = () => ledger.submitAction(signAction(ks.signingKey, patientId, 'record-operation', { kind: 'download', emrId }, ledger.channel));
    const first = patient(['watch', '--count', '1', '--json']);
    let done = false;
    void first.finally(() => (done = true));
    // a subscription without a cursor starts at the height the node handles it: probe until the stream is live
    for (let probes = 0; !done; probes++) {
      if (probes === 100) throw new Error(`watch saw none of 100 events; stderr so far unknown`);
      await probe();
      await new Promise((r) => setTimeout(r, 200));
    }
    const r1 = await first;
    expect(r1.code).toBe(0);
    const lines = r1.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    const e1 = JSON.parse(lines[0]!) as { cursor: string; type: string; emrId: string; blockNumber: number };
    expect(e1).toMatchObject({ type: 'AccessRecorded', emrId, cursor: expect.any(String) });
    const saved = (await fsp.readFile(join(dir, `${patientId}.watch-cursor`), 'utf8')).trim();
    expect(saved).toBe(e1.cursor);

    // the next run resumes right after it, from the ledger's blocks: it gets an event committed while no one watched
    await probe();
    const r2 = await patient(['watch', '--count', '1', '--json']);
    const e2 = JSON.parse(r2.stdout) as { cursor: string; blockNumber: number };
    expect(e2.cursor).not.toBe(e1.cursor);
    expect(e2.blockNumber).toBeGreaterThanOrEqual(e1.blockNumber);

    // stopped by its signal
    const controller = new AbortController();
    const running = pie(['watch', '--profile', file('patient.json')], { signal: controller.signal });
    controller.abort();
    expect((await running).code).toBe(0);
  });

  describe('exit codes and errors', () => {
    it('usage: 2', async () => {
      for (const args of [[], ['approve'], ['approve', 'a', 'b'], ['records', '--bogus'], ['frobnicate'], ['keys'], ['approve', 'req-1', '--days', 'x'], ['read', 'emr-1', '--json']]) {
        const r = await patient(args);
        expect([args, r.code]).toEqual([args, 2]);
        if (args.length > 0) oneErrorLine(r);
      }
      const help = await pie(['help', 'approve']);
      expect(help).toMatchObject({ code: 0, stderr: '' });
      expect(help.stdout).toMatch(/^usage: pie approve <requestId>/);
      expect((await pie(['--help'])).stdout).toContain('break-glass');
      // no profile
      const none = await pie(['records', '--profile', file('missing.json')]);
      expect(none.code).toBe(2);
      expect(none.stderr).toMatch(/no profile at .*missing\.json: run `pie login`/);
    });

    it('wrong passphrase: 3, and no passphrase at all: 2', async () => {
      const wrong = await patient(['records'], { PIE_PASSPHRASE: 'not it' });
      expect(wrong.code).toBe(3);
      expect(wrong.stderr).toBe('pie: wrong passphrase (or the keystore file was modified)\n');
      expect(wrong.stderr).not.toContain('not it');
      const fromFile = file('passphrase.txt');
      await fsp.writeFile(fromFile, `${PASSPHRASE}\n`);
      expect((await pie(['records', '--profile', file('patient.json'), '--passphrase-file', fromFile], { env: { PIE_PASSPHRASE: undefined } })).code).toBe(0);
      const none = await pie(['records', '--profile', file('patient.json')], { env: { PIE_PASSPHRASE: undefined } });
      expect(none.code).toBe(2);
      expect(none.stderr).toMatch(/no passphrase/);
    });

    it('refused by the node: FORBIDDEN 4, NOT_FOUND 5, BAD_USER_INPUT 9', async () => {
      const forbidden = await patient(['request', recordId, '--purpose', 'my own']);
      expect(forbidden.code).toBe(4);
      oneErrorLine(forbidden);
      const notFound = await patient(['read', 'emr-does-not-exist']);
      expect(notFound.code).toBe(5);
      expect(notFound.stderr).toMatch(/^pie: NOT_FOUND: /);
      const bad = await requester(['request', recordId, '--purpose', 'x'.repeat(600)]);
      expect(bad.code).toBe(9);
      expect(bad.stderr).toMatch(/^pie: BAD_USER_INPUT: .*purpose/);
    });

    it('cannot reach the node: 7', async () => {
      const profile = JSON.parse(await fsp.readFile(file('patient.json'), 'utf8')) as Record<string, string>;
      // a port nothing listens on
      const server = createServer();
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as AddressInfo).port;
      await new Promise((r) => server.close(r));
      await fsp.writeFile(file('offline.json'), JSON.stringify({ ...profile, url: `http://127.0.0.1:${port}` }));
      const r = await pie(['records', '--profile', file('offline.json')]);
      expect(r.code).toBe(7);
      expect(r.stderr).toBe(`pie: cannot reach the node at http://127.0.0.1:${port} (ECONNREFUSED)\n`);
    });

    it('a client-side check: a threshold above the proxies is usage (2), before anything is signed', async () => {
      const fresh = await freshRecord();
      const request = json<{ id: string }>(await requester(['request', fresh, '--purpose', 'check', '--json']));
      const r = await patient(['approve', request.id, '--threshold', '3']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^pie: threshold: must be a whole number from 1 to 2/);
      expect(json<{ status: string }[]>(await patient(['requests', '--status', 'pending', '--json'])).map((x) => x.status)).toContain('PENDING');
    });
  });
});
