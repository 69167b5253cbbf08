/** `pie audit`, `pie credits`, `pie watch`: what happened, what it cost, and what happens next. */
import { promises as fsp } from 'node:fs';
import { dirname, join } from 'node:path';
import WebSocket from 'ws';
import type { SharingEvent } from '../../client/events.js';
import type { AuditEntryInfo } from '../../client/types.js';
import { writeFileAtomic } from '../../crypto/keystore/atomic-file.js';
import { int, str } from '../command.js';
import type { Command } from '../command.js';

const pick = (v: Record<string, unknown> | null, keys: readonly string[]): string =>
  v === null
    ? ''
    : keys
        .filter((k) => v[k] !== undefined && v[k] !== null)
        .map((k) => `${k}=${typeof v[k] === 'object' ? JSON.stringify(v[k]) : String(v[k])}`)
        .join(' ');

const entryLine = (e: AuditEntryInfo): string =>
  [e.timestamp, e.objectType.padEnd(9), e.objectId, e.deleted ? 'deleted' : pick(e.value, ['kind', 'status', 'actorId', 'requesterId', 'granteeId', 'version', 'revokedAt', 'emergency'])]
    .join('  ')
    .trimEnd();

export const audit: Command = {
  name: 'audit',
  usage: '[--emr EMR_ID | --patient PATIENT_ID] [--fhir]',
  summary: 'the audit trail of a record, or of a patient (default: yourself); --fhir: as a FHIR R4 Bundle of AuditEvents',
  options: { emr: { type: 'string' }, patient: { type: 'string' }, fhir: { type: 'boolean' } },
  async run(ctx) {
    const emrId = str(ctx.values, 'emr');
    const { participant } = await ctx.session();
    const patientId = emrId === undefined ? (str(ctx.values, 'patient') ?? participant.id) : str(ctx.values, 'patient');
    const scope = { ...(emrId === undefined ? {} : { emrId }), ...(patientId === undefined ? {} : { patientId }) };
    if (ctx.values.fhir === true) {
      const bundle = await participant.auditEvents(scope);
      ctx.io.stdout.write(`${JSON.stringify(bundle, null, 2)}\n`);
      return;
    }
    const trail = await participant.auditTrail(scope);
    ctx.out.result(trail, trail.length === 0 ? 'no entries' : trail.map(entryLine));
  },
};

export const credits: Command = {
  name: 'credits',
  usage: '',
  summary: 'your credit balance and your organisation’s',
  async run(ctx) {
    const { participant } = await ctx.session();
    const c = await participant.credits();
    ctx.out.result(c, [`participant:  ${c.participant}`, `organisation: ${c.organisation}`]);
  },
};

const eventLine = (e: SharingEvent): string =>
  [
    `block ${e.blockNumber}`,
    e.type,
    ...(e.emergency ? ['EMERGENCY'] : []),
    ...(e.emrId === null ? [] : [`emr ${e.emrId}`]),
    ...(e.requestId === null ? [] : [`request ${e.requestId}`]),
    ...(e.grantId === null ? [] : [`grant ${e.grantId}`]),
    ...(e.operationId === null ? [] : [`operation ${e.operationId}`]),
    ...(e.actorId === null ? [] : [`by ${e.actorId}`]),
  ].join('  ');

export const watch: Command = {
  name: 'watch',
  usage: '[--after CURSOR] [--count N]',
  summary: 'print your sharing events as they come (one JSON document per line with --json); resumes where the last run stopped',
  options: { after: { type: 'string' }, count: { type: 'string' } },
  async run(ctx) {
    const count = int(ctx.values, 'count');
    const { participant, profilePath } = await ctx.session();
    const cursorFile = join(dirname(profilePath), `${participant.id}.watch-cursor`);
    const after =
      str(ctx.values, 'after') ??
      (await fsp.readFile(cursorFile, 'utf8').then(
        (t) => t.trim() || undefined,
        () => undefined,
      ));
    const signal = ctx.io.signal;
    if (signal?.aborted === true) return;
    const stream = participant.events({ ...(after === undefined ? {} : { after }), webSocketImpl: WebSocket });
    const stop = (): void => void stream.return?.(undefined);
    signal?.addEventListener('abort', stop, { once: true });
    let seen = 0;
    try {
      for await (const event of stream) {
        ctx.out.item(event, eventLine(event));
        await writeFileAtomic(cursorFile, `${event.cursor}\n`, { mode: 0o600 });
        if (count !== undefined && ++seen >= count) break;
      }
    } finally {
      signal?.removeEventListener('abort', stop);
    }
  },
};
