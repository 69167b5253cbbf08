// Privacy, end to end through a running node: after the sample patients' bundles are ingested, nothing that
// identifies them (names, identifiers, addresses, telecom, birth dates, narrative…) is anywhere a non-authorised
// reader could look — the node's data directory (ledger blocks, Helia blocks and datastore, custody files,
// bootstrap.json), the answers a researcher or an insurer gets from the API, or the node's log — while the patients
// themselves can still decrypt their records and find their own names in them.
//
// What is searched for: the strings the Safe Harbor collector of the FHIR tests picks up (test/fhir/phi-strings.ts:
// identifier values — MRN, SSN, driver's licence, passport —, every part of names, address lines, cities, postal
// codes, telecom, birth dates and their year-month, narrative divs, displays and texts, notes, ids, fullUrls and
// references, mother's maiden name…) of at least MIN_LENGTH characters, minus EXCLUDED, plus the geolocation
// coordinates of addresses (numbers, which that collector does not see).
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { Bundle, Patient } from '@medplum/fhirtypes';
import { PieApiError } from '../../src/client/index.js';
import { decryptEmr, openDekWithSecretKey } from '../../src/crypto/envelope/index.js';
import { sensitiveStrings } from '../fhir/phi-strings.js';
import { PATIENT_FILES, readSample } from '../fhir/samples.js';
import { registerCustodial, registerWithKeys, startTestNode } from './harness.js';
import type { KeyHolder, TestNode } from './harness.js';

/**
 * Strings shorter than this are not searched for. The collected ones of 3–4 characters are "Ms.", "Mr.", "IPV",
 * "MMR", "DTaP", "Tdap", "VDRL", "None": titles and clinical vocabulary, none about the person, and a given 4-byte
 * string turns up by chance in the few MB of ciphertext under storage/ with a probability of about 1e-3 per run.
 * Every Synthea name carries digits and is longer; from 5 bytes on, chance hits are below 1e-5 per string.
 */
const MIN_LENGTH = 5;

/**
 * Collected strings that are not about the person and may legitimately appear in the node's files, answers or log.
 * None is needed today: besides codes, resource types, Table 5 categories and levels (which the collector already
 * drops, see phi-strings.ts), no collected string of MIN_LENGTH or more appears anywhere it is searched — not even
 * common words such as "Other", "Positive" or "White" (a CodeableConcept text), nor clinical displays (the ledger
 * holds only system|code pairs, so a display in it would be a leak too). Add a string here only with a reason.
 */
const EXCLUDED: ReadonlySet<string> = new Set<string>([]);

/**
 * Shorter needles than this must stand alone (no ASCII letter or digit right before or after them) to count: the
 * node's files are full of hex (ids, hashes, signatures), base64 (capsules, certificates) and decimal numbers, where
 * a 5-digit postal code or a short word turns up by chance now and then (a sample's postal code was found inside the
 * hex contentHash of a ledger record). Longer needles, which cannot occur by chance, count anywhere.
 */
const STAND_ALONE_BELOW = 10;

// ------------------------------------------------------------------------------------------------ the needle search

const isAlnum = (c: number | undefined): boolean => c !== undefined && ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a));

interface Needle {
  readonly bytes: Buffer;
  readonly text: string;
  /** must not touch a letter or digit on the side where it starts (ends) with one */
  readonly boundedStart: boolean;
  readonly boundedEnd: boolean;
}

/**
 * Finds any of many byte strings in a buffer in one pass: every needle is indexed by its first 4 bytes (a 32-bit
 * key), the buffer is walked once with a rolling 4-byte window, and only the windows whose key belongs to some needle
 * (a 64 Ki-bit pre-filter, then a map) are compared in full. Each string is searched as its UTF-8 bytes and, when
 * different, as the body of its JSON string literal (the quotes and newlines of a narrative escaped, as the ledger's
 * JSON, the API's answers and the log hold it).
 */
class Needles {
  readonly #byKey = new Map<number, Needle[]>();
  readonly #filter = new Uint8Array(1 << 13);

  constructor(strings: Iterable<string>) {
    for (const text of strings) {
      for (const form of new Set([text, JSON.stringify(text).slice(1, -1)])) {
        const bytes = Buffer.from(form, 'utf8');
        if (bytes.length < 4) continue;
        const short = bytes.length < STAND_ALONE_BELOW;
        const needle = { bytes, text, boundedStart: short && isAlnum(bytes[0]), boundedEnd: short && isAlnum(bytes[bytes.length - 1]) };
        const key = bytes.readUInt32LE(0);
        const list = this.#byKey.get(key);
        if (list === undefined) this.#byKey.set(key, [needle]);
        else list.push(needle);
        const h = Needles.#hash(key);
        this.#filter[h >>> 3]! |= 1 << (h & 7);
      }
    }
  }

  static #hash(key: number): number {
    return Math.imul(key, 0x9e3779b1) >>> 16;
  }

  /** The strings found in `buf`, each once. */
  findIn(buf: Uint8Array): Set<string> {
    const found = new Set<string>();
    const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    if (b.length < 4) return found;
    let key = b.readUInt32LE(0);
    for (let i = 0; ; ) {
      const h = Needles.#hash(key);
      if ((this.#filter[h >>> 3]! >> (h & 7)) & 1) {
        for (const n of this.#byKey.get(key) ?? []) {
          const end = i + n.bytes.length;
          if (end > b.length || b.compare(n.bytes, 0, n.bytes.length, i, end) !== 0) continue;
          if ((n.boundedStart && isAlnum(b[i - 1])) || (n.boundedEnd && isAlnum(b[end]))) continue;
          found.add(n.text);
        }
      }
      if (++i + 4 > b.length) break;
      key = ((key >>> 8) | (b[i + 3]! << 24)) >>> 0;
    }
    return found;
  }
}

async function* filesUnder(dir: string): AsyncGenerator<string> {
  for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* filesUnder(p);
    else if (e.isFile()) yield p;
  }
}

/** What each bundle's Patient says about the person, to check that the collector did pick it up. */
function patientOf(bundle: Bundle): Patient {
  return bundle.entry!.map((e) => e.resource!).find((r): r is Patient => r.resourceType === 'Patient')!;
}

/** Geolocation (latitude, longitude extensions of addresses): numbers, which the string collector does not see. */
function coordinates(bundle: Bundle): string[] {
  const out: string[] = [];
  JSON.stringify(bundle, (_k, v: unknown) => {
    const o = v as { url?: unknown; valueDecimal?: unknown } | null;
    if (o !== null && typeof o === 'object' && (o.url === 'latitude' || o.url === 'longitude') && typeof o.valueDecimal === 'number') out.push(String(o.valueDecimal));
    return v;
  });
  return out;
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const p of stream as unknown as AsyncIterable<Uint8Array>) parts.push(p);
  return Buffer.concat(parts);
}

// ------------------------------------------------------------------------------------------------------- the setup

const bundles = PATIENT_FILES.map((f) => readSample(f));
const secrets = new Set<string>();
for (const b of bundles) {
  for (const s of sensitiveStrings(b)) if (s.trim().length >= MIN_LENGTH && !EXCLUDED.has(s)) secrets.add(s);
  for (const c of coordinates(b)) secrets.add(c);
}
const needles = new Needles(secrets);
const leaks = (text: string | Uint8Array): string[] => [...needles.findIn(typeof text === 'string' ? Buffer.from(text, 'utf8') : text)].sort();

const INGEST = 'mutation($b: JSONObject!, $p: ID!) { ingestFhir(bundle: $b, patientId: $p) { transactionId records { id } } }';

let t: TestNode | undefined;
const patients: KeyHolder[] = [];
let researcher: KeyHolder;
let insurer: KeyHolder;
let doctor: Awaited<ReturnType<typeof registerCustodial>>;
/** answers the insurer got to requests it was not allowed to make, checked with the search answers */
const refusals: unknown[] = [];

beforeAll(async () => {
  // at `trace` every line the node can write is in the log file (at `info` a working node logs next to nothing)
  const node = await startTestNode({ PIE_LOG_LEVEL: 'trace' });
  t = node;
  doctor = await registerCustodial(node, 'PHYSICIAN');
  researcher = await registerWithKeys(node, 'RESEARCHER', { clearance: 'LOW' });
  insurer = await registerWithKeys(node, 'INSURER');
  for (const bundle of bundles) {
    const patient = await registerWithKeys(node, 'PATIENT');
    patients.push(patient);
    await doctor.client.request(INGEST, { b: bundle, p: patient.id });
  }
  // paths that log or answer with errors, all fed with PHI: a raw bundle as a binary blob (logged as "blob stored");
  // an invalid bundle (a FHIR validation error for the physician, who sent it); a bundle for a participant that is
  // not a patient; and an upload by an insurer, who may not author records
  await doctor.client.uploadBlob(patients[0]!.id, Buffer.from(JSON.stringify(bundles[0]), 'utf8'), 'application/fhir+json');
  const broken = structuredClone(bundles[0]!);
  const obs = broken.entry!.find((e) => e.resource?.resourceType === 'Observation')!.resource as unknown as Record<string, unknown>;
  obs['status'] = 'not-a-status';
  await expect(doctor.client.request(INGEST, { b: broken, p: patients[0]!.id })).rejects.toBeInstanceOf(PieApiError);
  await expect(doctor.client.request(INGEST, { b: bundles[0], p: researcher.id })).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
  const refused = await insurer.client.request(INGEST, { b: bundles[0], p: patients[0]!.id }).catch((e: unknown) => e);
  expect(refused).toMatchObject({ code: 'FORBIDDEN' });
  refusals.push({ message: (refused as PieApiError).message, code: (refused as PieApiError).code, outcome: (refused as PieApiError).operationOutcome });
}, 90_000);

afterAll(async () => {
  if (t === undefined) return;
  await t.stop(); // removes the directory (keeps it with PIE_TEST_KEEP=1)
});

// --------------------------------------------------------------------------------------------------------- the tests

describe('privacy of ingested patients, end to end through the node', () => {
  it('collects what must not leak, and the search finds it (sanity check of the collector and of the search)', () => {
    expect(bundles.length).toBeGreaterThanOrEqual(1);
    for (const b of bundles) {
      const p = patientOf(b);
      const a = p.address![0]!;
      const expected = [p.name![0]!.family, p.name![0]!.given![0], p.birthDate, p.birthDate?.slice(0, 7), a.line![0], a.city, a.postalCode, p.telecom![0]!.value, p.text!.div];
      for (const s of expected.filter((x): x is string => x !== undefined)) expect(secrets).toContain(s);
      expect(expected.filter((x) => x !== undefined).length).toBeGreaterThanOrEqual(8); // one sample patient has no postal code
      for (const id of p.identifier!) expect(secrets).toContain(id.value); // MRN, SSN, driver's licence, passport
      expect(coordinates(b).length).toBeGreaterThanOrEqual(2);
    }
    const p = patientOf(bundles[0]!);
    const ssn = p.identifier!.find((i) => i.system === 'http://hl7.org/fhir/sid/us-ssn')!.value!;
    const city = p.address![0]!.city!;
    const family = p.name![0]!.family!;
    // planted among binary noise: a city (standing alone), an SSN at the very end, a narrative escaped as in JSON
    const planted = Buffer.concat([Buffer.from([0, 255, 7]), Buffer.from(` ${city}.`), Buffer.from(JSON.stringify({ div: p.text!.div })), Buffer.from([1, 2]), Buffer.from(ssn)]);
    expect(leaks(planted)).toEqual(expect.arrayContaining([city, ssn, p.text!.div]));
    expect(leaks(`{"given":"${family}"}`)).toEqual([family]);
    // a short needle inside a longer run of letters or digits does not count (hex ids, base64, numbers)…
    const zip = bundles.map(patientOf).find((x) => x.address?.[0]?.postalCode !== undefined)!.address![0]!.postalCode!;
    expect(leaks(`a9${zip}f3 1${zip}0`)).toEqual([]);
    // …but standing alone, it does
    expect(leaks(`"postalCode":"${zip}"`)).toEqual([zip]);
    expect(leaks('nothing to see here, 2024-01-01 PRIVATE medical-information female 40-44')).toEqual([]);
  });

  it('each patient decrypts the patient’s own records, and the identity record holds the patient’s name', async () => {
    for (const [i, patient] of patients.entries()) {
      type Page = { emrs: { edges: { node: { id: string; summary: { category: string }; metadata: { cid: string } } }[] } };
      // by category: a patient has more than a page of records, and the identity record may be on any page
      const { emrs } = await patient.client.request<Page>('{ emrs(filter: { category: IDENTITY }, first: 10) { edges { node { id summary { category } metadata { cid } } } } }');
      expect(emrs.edges).toHaveLength(1);
      const identity = emrs.edges[0];
      const envelope = await collect(await patient.client.downloadBlob(identity!.node.metadata.cid));
      const parts: Uint8Array[] = [];
      for await (const part of decryptEmr([envelope], (_h, kb) => openDekWithSecretKey(kb, patient.encryptionKey))) parts.push(part);
      const plaintext = Buffer.concat(parts);
      const p = patientOf(bundles[i]!);
      const text = plaintext.toString('utf8');
      expect(text).toContain(p.name![0]!.family!);
      expect(text).toContain(p.name![0]!.given![0]!);
      // the search that finds nothing anywhere else finds the name, city, birth date and SSN here…
      const ssn = p.identifier!.find((x) => x.system === 'http://hl7.org/fhir/sid/us-ssn')!.value!;
      expect(leaks(plaintext)).toEqual(expect.arrayContaining([p.name![0]!.family!, p.address![0]!.city!, p.birthDate!, ssn]));
      // …and nothing in the ciphertext the node stores and serves
      expect(leaks(envelope)).toEqual([]);
    }
  });

  it('no PHI in the answers a researcher (LOW clearance) or an insurer gets', async () => {
    const FIELDS = `edges { node { id patientId summary { category securityLevel codes year resourceTypes labels gender ageBand } metadata { cid } policy { allow } } }
      pageInfo { hasNextPage endCursor }`;
    const PARTICIPANT = 'query($id: ID!) { participant(id: $id) { id kind org clearance signingKey encryptionKey roles status } }';
    type Page = { emrs: { edges: { node: { id: string; metadata: unknown; policy: unknown } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } };
    const filters: Record<string, unknown>[] = [
      ...['LOW', 'MODERATE', 'PRIVATE'].map((securityLevel) => ({ securityLevel })),
      ...patients.map((p) => ({ patientId: p.id })),
      { authorId: doctor.id },
    ];
    for (const reader of [researcher, insurer]) {
      const answers: unknown[] = [...refusals];
      const seen = new Set<string>();
      for (const filter of filters) {
        let after: string | null = null;
        do {
          const page: Page = await reader.client.request<Page>(`query($f: EmrFilter, $after: String) { emrs(filter: $f, first: 100, after: $after) { ${FIELDS} } }`, { f: filter, after });
          answers.push(page);
          for (const e of page.emrs.edges) {
            seen.add(e.node.id);
            expect(e.node.metadata).toBeNull(); // no storage references without a grant
            expect(e.node.policy).toBeNull(); // nor the policy, which is the patient's and the author's
          }
          after = page.emrs.pageInfo.hasNextPage ? page.emrs.pageInfo.endCursor : null;
        } while (after !== null);
      }
      // the LOW records are visible, so there is something to look at
      expect(seen.size).toBeGreaterThan(0);
      // the query without a filter, as a client writes it first (the filters above cover every record it can return);
      // should it fail, its error answer is checked all the same
      answers.push(await reader.client.request(`{ emrs(first: 100) { ${FIELDS} } }`).catch((e: unknown) => ({ error: (e as Error).message })));
      for (const id of [...patients.map((p) => p.id), doctor.id, reader.id]) answers.push(await reader.client.request(PARTICIPANT, { id }));
      expect(leaks(JSON.stringify(answers))).toEqual([]);
    }
  });

  it('no PHI in any file of the data directory, nor in the log (read after a clean shutdown)', async () => {
    // stop first, so that everything the node buffers (LevelDB memtables, open files) is on disk
    await t!.node.stop();
    const dataDir = t!.node.config.dataDir;
    const found: Record<string, string[]> = {};
    let files = 0;
    let bytes = 0;
    for await (const file of filesUnder(dataDir)) {
      const buf = await fsp.readFile(file);
      files++;
      bytes += buf.length;
      const hits = leaks(buf);
      if (hits.length > 0) found[file.slice(dataDir.length + 1)] = hits.slice(0, 10);
    }
    expect(files).toBeGreaterThan(10);
    expect(bytes).toBeGreaterThan(3_000_000); // the encrypted content of the ~1 MB bundles is in there
    expect(found).toEqual({});
    // the walk and the search would see a leak in a nested file
    const city = patientOf(bundles[0]!).address![0]!.city!;
    await fsp.mkdir(join(dataDir, 'storage', 'planted'), { recursive: true });
    await fsp.writeFile(join(dataDir, 'storage', 'planted', 'x.json'), JSON.stringify({ city }));
    const again: string[] = [];
    for await (const file of filesUnder(dataDir)) again.push(...leaks(await fsp.readFile(file)));
    expect(again).toEqual([city]);

    const log = await fsp.readFile(t!.logFile);
    expect(log.toString('utf8')).toMatch(/"msg":"blob stored"/); // the log has lines to look at
    expect(log.toString('utf8')).toMatch(/"msg":"request"/);
    expect(leaks(log)).toEqual([]);
  });
});
