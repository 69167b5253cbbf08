/**
 * The paper's sharing scenario (seed 000, Algorithms 1–2, Fig 5A/5B) against a real PIE node: the embedded dev
 * network running the chaincode, an offline Helia store, three re-encryption proxies, and the GraphQL API over HTTP,
 * driven through the client SDK exactly as the participants' own clients would drive it.
 *
 *  1. a consortium node; its first admin registers a patient, a treating physician (an institutional account whose
 *     keys the hospital's node keeps), a second physician, an emergency physician, a researcher and an insurer;
 *  2. the treating physician ingests a Synthea bundle: validated, classified, split into EMRs, encrypted under the
 *     patient's public key, stored on IPFS, recorded on the ledger; the patient consents to the treating physician
 *     reading them back (Algorithm 1: kfrags for the author);
 *  3. the researcher finds records by summary, is refused the PRIVATE ones and may request a LOW one;
 *     the insurer requests too and the patient denies it;
 *  4. the second physician requests a PRIVATE record; the patient approves with 2-of-3 kfrags sealed to the proxies;
 *     the physician decrypts and gets exactly the original resources;
 *  5. the patient revokes; the physician's next open fails;
 *  6. an emergency physician breaks the glass on a record whose policy allows it (served through the treating
 *     physician's delegation), and is refused on one whose policy does not;
 *  7. the patient rotates the record's key: new DEK, capsule, ciphertext and CID; older grants end;
 *  8. the audit trail shows all of it (also as FHIR AuditEvents), credits were earned;
 *  9. nothing identifying is in the ledger or the blockstore.
 *
 * Every step checks its outcome and throws ScenarioError if it is not what the paper's system must do, so the
 * demo (`npm run demo`) and the end-to-end test (test/e2e/scenario.test.ts) fail on any deviation.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Bundle, Patient, Resource } from '@medplum/fhirtypes';
import { PieApiError, PieClient } from '../client/index.js';
import { PieParticipant } from '../client/participant.js';
import type { AuditEntryInfo, EmrRecordInfo } from '../client/types.js';
import { SecretKey } from '../crypto/umbral/index.js';
import { ReferenceDirectory } from '../fhir/index.js';
import { loadNodeConfig } from '../node/config.js';
import { createLogger } from '../node/log.js';
import { startNode } from '../node/node.js';
import type { PieNode } from '../node/node.js';

export class ScenarioError extends Error {
  override readonly name = 'ScenarioError';
}

export interface ScenarioOptions {
  /** where the Synthea samples are (…/shared/fhir-samples) */
  readonly samplesDir: string;
  /** the patient bundle to ingest (default: the first patient file) */
  readonly patientFile?: string;
  /** called once per step with a one-line account of what happened */
  readonly narrate?: (step: string, detail: string) => void;
  /** keep the node's data directory (its path is in the report) */
  readonly keep?: boolean;
}

export interface Refusal {
  readonly code: string;
  readonly message: string;
}

export interface ScenarioReport {
  readonly dataDir: string;
  readonly patientId: string;
  readonly records: readonly EmrRecordInfo[];
  readonly privateRecordId: string;
  readonly lowRecordId: string;
  readonly researcherVisible: number;
  readonly researcherRefusal: Refusal;
  readonly insurerDenied: boolean;
  /** resources the second physician decrypted, and whether each equals the uploaded original */
  readonly decrypted: { readonly resources: number; readonly identical: boolean };
  readonly researcherReadLow: boolean;
  readonly afterRevocation: Refusal;
  readonly emergency: { readonly readOk: boolean; readonly refusal: Refusal; readonly noRoleRefusal: Refusal };
  readonly rotation: { readonly oldId: string; readonly newId: string; readonly oldCid: string; readonly newCid: string; readonly oldGrantsEnded: boolean; readonly treatingReissued: boolean; readonly emergencyAfterRotation: boolean };
  readonly audit: { readonly entries: number; readonly byType: Readonly<Record<string, number>>; readonly auditEvents: number; readonly breakGlassEvents: number };
  readonly credits: { readonly participant: number; readonly organisation: number };
  readonly privacy: { readonly needles: number; readonly filesScanned: number; readonly hits: readonly string[] };
}

const check = (ok: boolean, what: string): void => {
  if (!ok) throw new ScenarioError(what);
};

/** The refusal `p` rejects with; resolving is a scenario failure. */
async function refusal(p: Promise<unknown>, what: string): Promise<Refusal> {
  try {
    await p;
  } catch (e) {
    if (e instanceof PieApiError) return { code: e.code, message: e.message };
    throw e;
  }
  throw new ScenarioError(`${what} succeeded, but must be refused`);
}

const REGISTER = 'mutation($input: RegisterParticipantInput!) { registerParticipant(input: $input) { participant { id } apiSecret } }';
const INGEST = `mutation($b: JSONObject!, $p: ID!) { ingestFhir(bundle: $b, patientId: $p) { records { id } omitted { resource reason } transactionId blockNumber } }`;

const hex = (k: SecretKey): string => Buffer.from(k.publicKey().toCompressedBytes()).toString('hex');

async function registerOwnKeys(admin: PieClient, kind: string, roles: string[] = []): Promise<PieParticipant> {
  const keys = { signing: SecretKey.random(), encryption: SecretKey.random() };
  const r = await admin.request<{ registerParticipant: { participant: { id: string } } }>(REGISTER, {
    input: { kind: kind.toUpperCase(), roles, signingKey: hex(keys.signing), encryptionKey: hex(keys.encryption) },
  });
  return PieParticipant.fromKeys(admin.as(undefined), r.registerParticipant.participant.id, keys);
}

/** A resource as the node stored it, without what the node adds or rewrites (security labels, references). */
function comparable(resource: Resource): unknown {
  return JSON.parse(
    JSON.stringify(resource, (key, value: unknown) => {
      if (key === 'reference') return undefined; // urn:uuid and conditional references are normalised at ingest
      if (key === 'security') return undefined; // the node's Table 5 labels
      return value;
    }),
    (key, value: unknown) => (key === 'meta' && value !== null && typeof value === 'object' && Object.keys(value).length === 0 ? undefined : value),
  );
}

export async function runSharingScenario(options: ScenarioOptions): Promise<ScenarioReport> {
  const say = options.narrate ?? (() => undefined);
  const samples = resolve(options.samplesDir);
  const patientFile = options.patientFile ?? (await fsp.readdir(samples)).filter((f) => /^[A-Z][a-z]+\d+_[A-Z][a-z]+\d+_.*\.json$/.test(f)).sort()[0];
  if (patientFile === undefined) throw new ScenarioError(`no Synthea patient bundle in ${samples}`);
  const readJson = async (f: string): Promise<Bundle> => JSON.parse(await fsp.readFile(join(samples, f), 'utf8')) as Bundle;
  const bundle = await readJson(patientFile);
  const directory = ReferenceDirectory.fromBundles(await readJson('hospitalInformation1633536936158.json'), await readJson('practitionerInformation1633536936158.json'));

  const dir = await fsp.mkdtemp(join(tmpdir(), 'pie-scenario-'));
  const dataDir = join(dir, 'data');
  let node: PieNode | undefined;
  try {
    // ---- 1. the consortium node and its participants
    const config = await loadNodeConfig({ env: { PIE_DATA_DIR: dataDir, PIE_PORT: '0', PIE_PROXY_COUNT: '3', PIE_LOG_LEVEL: 'warn' }, cwd: dir });
    node = await startNode(config, createLogger({ level: 'warn', destination: join(dir, 'node.log') }), { directory });
    const anonymous = new PieClient(node.url, config.audience);
    const admin = await anonymous.registerFirstAdmin(node.bootstrapCode!, { signing: SecretKey.random(), encryption: SecretKey.random() });
    const patient = await registerOwnKeys(admin, 'patient');
    const physicianB = await registerOwnKeys(admin, 'physician');
    const emergencyDoc = await registerOwnKeys(admin, 'physician', ['emergency']);
    const researcher = await registerOwnKeys(admin, 'researcher');
    const insurer = await registerOwnKeys(admin, 'insurer');
    const treating = (await admin.request<{ registerParticipant: { participant: { id: string }; apiSecret: string } }>(REGISTER, { input: { kind: 'PHYSICIAN', custodial: true } }))
      .registerParticipant;
    const treatingClient = anonymous.as({ participantId: treating.participant.id, apiSecret: treating.apiSecret });
    const proxies = await patient.proxies();
    say('node', `${config.organisation} node at ${node.url}: dev network, Helia, ${proxies.length} re-encryption proxies registered on the ledger`);
    say('people', `patient ${patient.id} (own keys), treating physician ${treating.participant.id} (keys kept by the hospital's node), physician ${physicianB.id}, emergency physician ${emergencyDoc.id}, researcher ${researcher.id}, insurer ${insurer.id}`);

    // ---- 2. the treating physician ingests; the patient consents to the author reading back (Algorithm 1)
    const t0 = performance.now();
    const ingest = await treatingClient.request<{ ingestFhir: { records: { id: string }[]; omitted: unknown[]; transactionId: string; blockNumber: number } }>(INGEST, {
      b: bundle,
      p: patient.id,
    });
    const records = await Promise.all(ingest.ingestFhir.records.map((r) => patient.record(r.id)));
    const levels = countBy(records.map((r) => r.summary.securityLevel));
    say('upload', `${patientFile}: ${bundle.entry?.length ?? 0} resources → ${records.length} EMRs (${Object.entries(levels).map(([l, n]) => `${n} ${l}`).join(', ')}), encrypted under the patient's public key, on IPFS, one ledger transaction in block ${ingest.ingestFhir.blockNumber} (${Math.round(performance.now() - t0)} ms)`);
    check(records.length > 1, 'the bundle must yield several EMRs');
    for (const r of records) await patient.grantTreating(r.id, { threshold: 2 });
    say('consent', `the patient's client issued 2-of-${proxies.length} kfrags for the treating physician on all ${records.length} EMRs (Algorithm 1: RK P→D)`);

    const privateRecord = records.find((r) => r.summary.securityLevel === 'PRIVATE' && r.summary.category === 'MEDICAL_INFORMATION') ?? records.find((r) => r.summary.securityLevel === 'PRIVATE');
    const lowRecord = records.find((r) => r.summary.securityLevel === 'LOW');
    check(privateRecord !== undefined && lowRecord !== undefined, 'the bundle must yield a PRIVATE and a LOW record');
    const emergencyRecord = records.find((r) => r.summary.securityLevel === 'PRIVATE' && r.id !== privateRecord!.id) ?? lowRecord!;

    // ---- 3. research: search by summary, refused PRIVATE, may request LOW; the insurer is denied
    const found = await researcher.records({ patientId: patient.id });
    check(found.length > 0 && found.every((r) => r.summary.securityLevel === 'LOW'), 'a researcher must see exactly the LOW summaries');
    check(found.every((r) => r.metadata === null), 'a researcher without a grant must not see storage references');
    const researcherRefusal = await refusal(researcher.requestAccess(privateRecord!.id, 'cohort study'), 'a researcher requesting a PRIVATE record');
    const researchRequest = await researcher.requestAccess(lowRecord!.id, 'cohort study of laboratory results');
    say('research', `the researcher sees ${found.length} LOW summaries (no CIDs), is refused the PRIVATE record (${researcherRefusal.code}: ${researcherRefusal.message}), requests a LOW one: ${researchRequest.status}`);
    const insurerRequest = await insurer.requestAccess(lowRecord!.id, 'claim review');
    const denied = await patient.deny(insurerRequest.id, 'not needed for the claim');
    check(denied.status === 'DENIED', 'the denied request must be DENIED');
    say('deny', `the insurer requested the same LOW record; the patient denied it`);

    // ---- 4. the second physician requests; the patient approves through the client; the physician decrypts
    const request = await physicianB.requestAccess(privateRecord!.id, 'referral: second opinion');
    const pending = await patient.accessRequests({ status: 'PENDING' });
    check(pending.some((q) => q.id === request.id) && pending.some((q) => q.id === researchRequest.id), 'the patient must see both pending requests');
    const grant = await patient.approve(request.id, { validFor: 24 * 3600_000, threshold: 2 });
    await patient.approve(researchRequest.id, { validFor: 3600_000, threshold: 2 });
    say('approve', `the patient saw ${pending.length} pending requests and approved the physician's (grant ${grant.id}: 2-of-${grant.shares} kfrags sealed to the proxies, 24 h) and the researcher's`);

    const t1 = performance.now();
    const opened = await physicianB.readFhir(privateRecord!.id, { grantId: grant.id });
    const decryptMs = Math.round(performance.now() - t1);
    const entries = ((opened as unknown as Bundle).entry ?? []).map((e) => e.resource as Resource);
    const originals = new Map((bundle.entry ?? []).map((e) => [`${e.resource!.resourceType}/${e.resource!.id}`, e.resource as Resource]));
    const identical = entries.length > 0 && entries.every((r) => {
      const original = originals.get(`${r.resourceType}/${r.id}`);
      return original !== undefined && JSON.stringify(comparable(r)) === JSON.stringify(comparable(original));
    });
    check(identical, 'the decrypted resources must be the original ones');
    say('read', `the physician's node committed the access, 3 proxies released cfrags, the physician verified them, opened the capsule with its own key and decrypted ${entries.length} resources identical to the upload (${decryptMs} ms)`);
    const lowGrant = (await researcher.grants({ emrId: lowRecord!.id, liveOnly: true }))[0];
    const researcherReadLow = lowGrant !== undefined && (await researcher.read(lowRecord!.id, { grantId: lowGrant.id })).length > 0;
    check(researcherReadLow, 'the researcher must read the LOW record it was granted');

    // ---- 5. revocation
    await patient.revoke(grant.id);
    const afterRevocation = await refusal(physicianB.read(privateRecord!.id, { grantId: grant.id }), 'opening after revocation');
    check(/REVOKED/.test(afterRevocation.message), 'the refusal after revocation must say REVOKED');
    say('revoke', `the patient revoked the grant; the physician's next open: ${afterRevocation.code} ${afterRevocation.message}`);

    // ---- 6. break-glass: allowed by the policy of one record, refused by another's
    const noRoleRefusal = await refusal(physicianB.breakGlass(emergencyRecord.id, 'patient unconscious in the emergency department'), 'break-glass without the emergency role');
    const emergencyGrant = await emergencyDoc.breakGlass(emergencyRecord.id, 'patient unconscious in the emergency department, allergy history needed', 30);
    const emergencyRead = await emergencyDoc.read(emergencyRecord.id, { grantId: emergencyGrant.id });
    const readOk = createHash('sha256').update(emergencyRead).digest('hex') === (await patient.record(emergencyRecord.id)).metadata?.contentHash;
    check(readOk, 'the emergency read must give the recorded content');
    await patient.setPolicy({ minClearance: 'LOW', allowedKinds: ['physician', 'researcher', 'insurer'], allow: [], deny: [], emergencyAllowed: false }, lowRecord!.id);
    const emergencyRefusal = await refusal(emergencyDoc.breakGlass(lowRecord!.id, 'patient unconscious in the emergency department'), 'break-glass where the policy forbids it');
    say('emergency', `the emergency physician broke the glass on ${emergencyRecord.id} (30 min, flagged) and read it through the treating physician's delegation; refused where the policy forbids it (${emergencyRefusal.code}: ${emergencyRefusal.message}); a physician without the role: ${noRoleRefusal.code}`);

    // ---- 7. key rotation
    const before = await patient.record(privateRecord!.id);
    const rotated = await patient.rotateKey(privateRecord!.id);
    const oldGrants = await patient.grants({ emrId: privateRecord!.id });
    const oldGrantsEnded = oldGrants.length > 0 && oldGrants.every((g) => !g.live);
    check(rotated.record.previousId === before.id && rotated.record.metadata?.cid !== before.metadata?.cid, 'the new version must link to the old one with a new CID');
    check(oldGrantsEnded, 'every grant on the old version must have ended');
    check(rotated.treatingGrant?.kind === 'TREATING', 'the treating grant must be re-issued for the new version');
    // the treating physician's delegation serves emergencies on the new version too
    const glass = await emergencyDoc.breakGlass(rotated.record.id, 'patient unconscious again, rotated record needed', 15);
    const emergencyAfterRotation = (await emergencyDoc.read(rotated.record.id, { grantId: glass.id })).length > 0;
    check(emergencyAfterRotation, 'break-glass must work on the rotated version');
    const reread = await physicianB.requestAccess(rotated.record.id, 'follow-up').then((q) => q.status);
    say('rotate', `the patient rotated the key: version ${rotated.record.version} (${rotated.record.id}) with a new DEK, capsule and CID, linked to ${before.id}; the ${oldGrants.length} grants on the old version ended; treating grant re-issued (${rotated.treatingGrant?.kind}), so break-glass works on the new version too; a new request for the new version is ${reread}`);

    // ---- 8. audit and credits
    const trail: AuditEntryInfo[] = await patient.auditTrail({ patientId: patient.id });
    const byType = countBy(trail.map((e) => e.objectType));
    const auditBundle = (await patient.auditEvents({ patientId: patient.id })) as unknown as Bundle;
    const events = (auditBundle.entry ?? []).map((e) => e.resource as Resource & { purposeOfEvent?: { coding?: { code?: string }[] }[] });
    const breakGlassEvents = events.filter((e) => e.purposeOfEvent?.some((p) => p.coding?.some((c) => c.code === 'BTG'))).length;
    for (const t of ['record', 'request', 'grant', 'operation']) check((byType[t] ?? 0) > 0, `the audit trail must show ${t} entries`);
    check(breakGlassEvents > 0, 'the FHIR AuditEvents must flag the break-glass access (purposeOfEvent BTG)');
    const credits = await patient.credits();
    check(credits.participant > 0, 'the patient must have earned credits for sharing');
    say('audit', `the patient's trail: ${trail.length} ledger entries (${Object.entries(byType).map(([t, n]) => `${n} ${t}`).join(', ')}); as FHIR: ${events.length} AuditEvents, ${breakGlassEvents} flagged BTG; credits: patient ${credits.participant}, ${config.organisation} ${credits.organisation}`);

    // ---- 9. privacy: nothing identifying in the ledger or the blockstore
    await node.stop();
    node = undefined;
    const privacy = await scanForIdentifiers(dataDir, bundle);
    check(privacy.hits.length === 0, `identifying strings found in the node's files: ${privacy.hits.slice(0, 5).join('; ')}`);
    say('privacy', `searched ${privacy.filesScanned} files of the ledger and the blockstore for ${privacy.needles} identifying strings of the patient (names, birth date, address, identifiers, telecom): none found`);

    return {
      dataDir,
      patientId: patient.id,
      records,
      privateRecordId: privateRecord!.id,
      lowRecordId: lowRecord!.id,
      researcherVisible: found.length,
      researcherRefusal,
      insurerDenied: denied.status === 'DENIED',
      decrypted: { resources: entries.length, identical },
      researcherReadLow,
      afterRevocation,
      emergency: { readOk, refusal: emergencyRefusal, noRoleRefusal },
      rotation: {
        oldId: before.id,
        newId: rotated.record.id,
        oldCid: before.metadata!.cid,
        newCid: rotated.record.metadata!.cid,
        oldGrantsEnded,
        treatingReissued: rotated.treatingGrant?.kind === 'TREATING',
        emergencyAfterRotation,
      },
      audit: { entries: trail.length, byType, auditEvents: events.length, breakGlassEvents },
      credits,
      privacy,
    };
  } finally {
    await node?.stop();
    if (options.keep !== true) await fsp.rm(dir, { recursive: true, force: true });
  }
}

function countBy(values: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

/**
 * The Patient resource's identifying strings (names, birth date, address, identifiers, telecom; ≥ 5 characters),
 * searched for in every file under the node's ledger and storage directories. The end-to-end test runs the
 * thorough Safe Harbor search of test/node/privacy.test.ts as well.
 */
const isAlnum = (b: number | undefined): boolean => b !== undefined && ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a));

/**
 * Whether `needle` occurs in `bytes` not run together with letters or digits on either side. A 5-digit postal code
 * is found inside a JSON string or a FHIR address, but not inside the hex of a signature or an id, where any digit
 * run turns up by chance among enough of them.
 */
export function occursAsToken(bytes: Buffer, needle: Buffer): boolean {
  for (let at = bytes.indexOf(needle); at >= 0; at = bytes.indexOf(needle, at + 1)) {
    if (!isAlnum(bytes[at - 1]) && !isAlnum(bytes[at + needle.length])) return true;
  }
  return false;
}

async function scanForIdentifiers(dataDir: string, bundle: Bundle): Promise<{ needles: number; filesScanned: number; hits: string[] }> {
  const p = bundle.entry?.find((e) => e.resource?.resourceType === 'Patient')?.resource as Patient | undefined;
  const strings = new Set<string>();
  const add = (s: string | undefined) => {
    if (s !== undefined && s.length >= 5) strings.add(s);
  };
  for (const n of p?.name ?? []) [...(n.given ?? []), n.family].forEach(add);
  add(p?.birthDate);
  for (const a of p?.address ?? []) [...(a.line ?? []), a.city, a.postalCode].forEach(add);
  for (const i of p?.identifier ?? []) add(i.value);
  for (const t of p?.telecom ?? []) add(t.value);
  const needles = [...strings].map((s) => Buffer.from(s, 'utf8'));
  const hits: string[] = [];
  let filesScanned = 0;
  async function walk(d: string): Promise<void> {
    for (const e of await fsp.readdir(d, { withFileTypes: true })) {
      const path = join(d, e.name);
      if (e.isDirectory()) await walk(path);
      else if (e.isFile()) {
        filesScanned++;
        const bytes = await fsp.readFile(path);
        for (const n of needles) if (occursAsToken(bytes, n)) hits.push(`${n.toString('utf8')} in ${path.slice(dataDir.length + 1)}`);
      }
    }
  }
  for (const sub of ['ledger', 'storage']) await walk(join(dataDir, sub));
  return { needles: needles.length, filesScanned, hits };
}
