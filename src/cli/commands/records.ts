/** `pie records`, `pie read`, `pie rotate`: finding, opening and re-keying records. */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { RecordFilter } from '../../client/participant.js';
import type { EmrRecordInfo } from '../../client/types.js';
import { idArg, int, str } from '../command.js';
import type { Command } from '../command.js';
import { UsageError, writeAll } from '../io.js';
import type { CliIo } from '../io.js';

export const recordLine = (r: EmrRecordInfo): string =>
  [r.id, `v${r.version}`, r.summary.category, r.summary.securityLevel, String(r.summary.year), `patient ${r.patientId}`, `author ${r.authorId}`, r.metadata?.mediaType ?? ''].join('  ').trimEnd();

export const records: Command = {
  name: 'records',
  usage: '[--patient ID] [--author ID] [--category C] [--level L] [--year N] [--code SYSTEM|CODE] [--limit N]',
  summary: 'records you may see (a patient: the patient’s own), all pages up to --limit (default 1000)',
  options: {
    patient: { type: 'string' },
    author: { type: 'string' },
    category: { type: 'string' },
    level: { type: 'string' },
    year: { type: 'string' },
    code: { type: 'string' },
    limit: { type: 'string' },
  },
  async run(ctx) {
    const v = ctx.values;
    const filter: RecordFilter = {};
    if (str(v, 'patient') !== undefined) filter.patientId = str(v, 'patient');
    if (str(v, 'author') !== undefined) filter.authorId = str(v, 'author');
    if (str(v, 'category') !== undefined) filter.category = str(v, 'category', true).toUpperCase().replace(/-/g, '_');
    if (str(v, 'level') !== undefined) filter.securityLevel = str(v, 'level', true).toUpperCase();
    if (str(v, 'code') !== undefined) filter.code = str(v, 'code');
    const year = int(v, 'year', 1900, 9999);
    if (year !== undefined) filter.year = year;
    const { participant } = await ctx.session();
    const list = await participant.records(filter, { limit: int(v, 'limit') ?? 1000 });
    ctx.out.result(list, list.length === 0 ? 'no records' : list.map(recordLine));
  },
};

/**
 * Progress on stderr: a line rewritten in place on a terminal, else a line per tenth reached and one at the end (only
 * that one when everything arrives at once).
 */
export function progress(io: Pick<CliIo, 'stderr'>): (bytes: number, total: number) => void {
  if (io.stderr.isTTY === true) {
    return (b, total) => {
      io.stderr.write(`\r${b} / ${total} bytes`);
      if (b >= total) io.stderr.write('\n');
    };
  }
  let lastTenth = -1;
  let done = false;
  return (b, total) => {
    if (done) return;
    const tenth = total > 0 ? Math.min(10, Math.floor((b * 10) / total)) : 10;
    if (b >= total) done = true;
    else if (tenth <= lastTenth) return;
    lastTenth = tenth;
    io.stderr.write(`${b} / ${total} bytes\n`);
  };
}

export const read: Command = {
  name: 'read',
  usage: '<emrId> [--grant GRANT_ID] [--out FILE] [--progress]',
  summary: 'open a record (your own, or through a grant), decrypt it here and check it against the ledger; to FILE or stdout',
  args: ['emrId'],
  options: { grant: { type: 'string' }, out: { type: 'string' }, progress: { type: 'boolean' } },
  async run(ctx) {
    const emrId = idArg(ctx, 0, 'emrId');
    const out = str(ctx.values, 'out');
    if (ctx.out.json && out === undefined) throw new UsageError('--json needs --out FILE (the content itself would be mixed into the JSON)');
    const grantId = str(ctx.values, 'grant');
    const showProgress = ctx.values.progress === true || ctx.io.stderr.isTTY === true;
    const { participant } = await ctx.session();
    const opened = await participant.open(emrId, { ...(grantId === undefined ? {} : { grantId }), ...(showProgress ? { onProgress: progress(ctx.io) } : {}) });
    if (opened.rejectedCfrags > 0) ctx.out.note(`warning: ${opened.rejectedCfrags} capsule fragment(s) failed verification and were set aside`);
    let bytes = 0;
    if (out === undefined) {
      // streamed as it authenticates: if the final check fails, the exit code (8) says to discard what was written
      for await (const chunk of opened.plaintext) {
        bytes += chunk.length;
        await writeAll(ctx.io.stdout, chunk);
      }
      return;
    }
    // written beside FILE and renamed over it only once the content is verified
    const partial = join(dirname(out), `.${basename(out)}.${randomBytes(6).toString('hex')}.partial`);
    const file = await fsp.open(partial, 'wx', 0o600);
    try {
      for await (const chunk of opened.plaintext) {
        bytes += chunk.length;
        await file.write(chunk);
      }
      await file.close();
      await fsp.rename(partial, out);
    } catch (e) {
      await file.close().catch(() => undefined);
      await fsp.unlink(partial).catch(() => undefined);
      throw e;
    }
    const r = opened.record;
    ctx.out.result(
      { emrId: r.id, version: r.version, operationId: opened.operationId, grantId: opened.grantId, mediaType: opened.mediaType, contentHash: opened.contentHash, bytes, out },
      `wrote ${bytes} bytes to ${out} (${opened.mediaType}; SHA-256 checked against the ledger; access recorded as operation ${opened.operationId})`,
    );
  },
};

export const rotate: Command = {
  name: 'rotate',
  usage: '<emrId>',
  summary: 'as the patient: re-encrypt a record under a fresh key as its next version (old grants end; the treating grant is re-issued)',
  args: ['emrId'],
  async run(ctx) {
    const emrId = idArg(ctx, 0, 'emrId');
    const { participant } = await ctx.session();
    const rotated = await participant.rotateKey(emrId);
    const r = rotated.record;
    const g = rotated.treatingGrant;
    ctx.out.result(rotated, [
      `rotated ${emrId} → ${r.id} (version ${r.version}, new CID ${r.metadata?.cid ?? '?'}); grants on the old version have ended`,
      ...(g === null ? [] : [`treating grant re-issued: ${g.id} to ${g.granteeId}, until ${g.notAfter}`]),
    ]);
  },
};
