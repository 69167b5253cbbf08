// The paper's scenario end to end (src/demo/scenario.ts, also `npm run demo`): a real node (dev network, Helia, three
// proxies, HTTP), the participants' clients through the SDK. The scenario checks every step itself and throws on
// any deviation; here its report is checked again, field by field, so a regression names what changed.
import { jest } from '@jest/globals';
import { runSharingScenario } from '../../src/demo/scenario.js';
import type { ScenarioReport } from '../../src/demo/scenario.js';
import { SAMPLES } from '../fhir/samples.js';

jest.setTimeout(300_000);

let report: ScenarioReport;
const steps: string[] = [];

beforeAll(async () => {
  report = await runSharingScenario({ samplesDir: SAMPLES, narrate: (step) => steps.push(step) });
});

it('narrates every step of the scenario in order', () => {
  expect(steps).toEqual(['node', 'people', 'upload', 'consent', 'research', 'deny', 'approve', 'read', 'revoke', 'emergency', 'rotate', 'audit', 'privacy']);
});

it('the upload yields PRIVATE and LOW EMRs; the researcher sees only LOW summaries and is refused PRIVATE', () => {
  const levels = new Set(report.records.map((r) => r.summary.securityLevel));
  expect([...levels]).toEqual(expect.arrayContaining(['PRIVATE', 'LOW']));
  expect(report.researcherVisible).toBe(report.records.filter((r) => r.summary.securityLevel === 'LOW').length);
  expect(['FORBIDDEN', 'NOT_FOUND']).toContain(report.researcherRefusal.code);
  expect(report.insurerDenied).toBe(true);
  expect(report.researcherReadLow).toBe(true);
});

it('the approved physician decrypts exactly the original resources; after revocation the open is refused', () => {
  expect(report.decrypted.resources).toBeGreaterThan(0);
  expect(report.decrypted.identical).toBe(true);
  expect(report.afterRevocation.code).toBe('FORBIDDEN');
  expect(report.afterRevocation.message).toMatch(/REVOKED/);
});

it('break-glass works where the policy allows it and is refused where it does not, or without the role', () => {
  expect(report.emergency.readOk).toBe(true);
  expect(report.emergency.refusal).toEqual({ code: 'FORBIDDEN', message: expect.stringMatching(/EMERGENCY_NOT_ALLOWED/) });
  expect(report.emergency.noRoleRefusal).toEqual({ code: 'FORBIDDEN', message: expect.stringMatching(/NOT_EMERGENCY_PHYSICIAN|emergency/) });
});

it('key rotation makes a linked version with a new CID and ends the old grants', () => {
  const r = report.rotation;
  expect(r.newId).not.toBe(r.oldId);
  expect(r.newCid).not.toBe(r.oldCid);
  expect(r.oldGrantsEnded).toBe(true);
  expect(r.treatingReissued).toBe(true);
  expect(r.emergencyAfterRotation).toBe(true);
});

it('the audit trail shows requests, grants, accesses and versions, as FHIR AuditEvents with break-glass flagged; credits were earned', () => {
  for (const t of ['record', 'request', 'grant', 'operation']) expect(report.audit.byType[t]).toBeGreaterThan(0);
  expect(report.audit.auditEvents).toBeGreaterThan(0);
  expect(report.audit.breakGlassEvents).toBeGreaterThan(0);
  expect(report.credits.participant).toBeGreaterThan(0);
});

it('nothing identifying is in the ledger or the blockstore', () => {
  expect(report.privacy.needles).toBeGreaterThan(5);
  expect(report.privacy.filesScanned).toBeGreaterThan(10);
  expect(report.privacy.hits).toEqual([]);
});
