/**
 * createLogger: the JSON line shape, levels, every redacted path, child bindings, and a file destination.
 */
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger, REDACT_CENSOR, REDACT_PATHS, type Logger } from '../../src/node/log.js';

/** A stream that keeps the parsed JSON lines written to it. */
function sink(): { stream: Writable; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { stream, lines };
}

function logger(level: Parameters<typeof createLogger>[0]['level'] = 'trace', name?: string): { log: Logger; lines: Record<string, unknown>[] } {
  const { stream, lines } = sink();
  return { log: createLogger({ level, destination: stream, ...(name === undefined ? {} : { name }) }), lines };
}

test('a line is JSON with an ISO time, the level label, service, pid, hostname and name', () => {
  const { log, lines } = logger('info', 'graphql');
  const before = Date.now();
  log.info({ requestId: 'r-1', durationMs: 12 }, 'request done');
  expect(lines).toHaveLength(1);
  const line = lines[0]!;
  expect(line).toEqual({
    level: 'info',
    time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    service: 'pie',
    pid: process.pid,
    hostname: expect.any(String),
    name: 'graphql',
    requestId: 'r-1',
    durationMs: 12,
    msg: 'request done',
  });
  expect(Date.parse(line.time as string)).toBeGreaterThanOrEqual(before - 1000);
  expect(Object.keys(line).slice(0, 3)).toEqual(['level', 'time', 'service']);
});

test('without a name there is no name field', () => {
  const { log, lines } = logger('info');
  log.info('hello');
  expect('name' in lines[0]!).toBe(false);
});

test('levels filter, silent writes nothing', () => {
  const info = logger('info');
  info.log.debug('hidden');
  info.log.trace('hidden');
  info.log.info('shown');
  info.log.warn('shown');
  info.log.error('shown');
  info.log.fatal('shown');
  expect(info.lines.map((l) => l.level)).toEqual(['info', 'warn', 'error', 'fatal']);

  const silent = logger('silent');
  silent.log.fatal('nothing');
  expect(silent.lines).toHaveLength(0);

  const trace = logger('trace');
  trace.log.trace('t');
  trace.log.debug('d');
  expect(trace.lines.map((l) => l.level)).toEqual(['trace', 'debug']);
});

test('errors are serialised under err', () => {
  const { log, lines } = logger();
  log.error({ err: new Error('boom') }, 'failed');
  expect(lines[0]!.err).toMatchObject({ type: 'Error', message: 'boom', stack: expect.stringContaining('boom') });
});

describe('redaction', () => {
  test('the path list is exactly the required one', () => {
    expect([...REDACT_PATHS].sort()).toEqual(
      [
        'req.headers.authorization',
        'headers.authorization',
        'authorization',
        'token',
        '*.token',
        'secret',
        '*.secret',
        'apiSecret',
        '*.apiSecret',
        'passphrase',
        '*.passphrase',
        'secretKey',
        '*.secretKey',
        'bundle',
        '*.bundle',
        'variables',
        '*.variables',
      ].sort(),
    );
    expect(REDACT_CENSOR).toBe('[redacted]');
  });

  test('every redacted field is censored, the rest is kept', () => {
    const { log, lines } = logger();
    log.info(
      {
        req: { method: 'POST', url: '/graphql', headers: { authorization: 'Bearer eyJhbGciOi', 'content-type': 'application/json' } },
        headers: { authorization: 'Bearer abc', accept: '*/*' },
        authorization: 'Bearer top',
        token: 'tok-top',
        user: { id: 'u1', token: 'tok-nested', secret: 's-nested', apiSecret: 'a-nested', passphrase: 'p-nested', secretKey: 'k-nested' },
        secret: 's-top',
        apiSecret: 'a-top',
        passphrase: 'p-top',
        secretKey: 'k-top',
        bundle: { resourceType: 'Bundle', entry: [{ resource: { name: 'Jane Doe' } }] },
        upload: { bundle: { resourceType: 'Bundle' }, bytes: 10 },
        variables: { patientId: 'p-123', name: 'Jane Doe' },
        gql: { operationName: 'Upload', variables: { ssn: '123-45-6789' } },
      },
      'request',
    );
    const line = lines[0]!;
    const R = '[redacted]';
    expect(line.req).toEqual({ method: 'POST', url: '/graphql', headers: { authorization: R, 'content-type': 'application/json' } });
    expect(line.headers).toEqual({ authorization: R, accept: '*/*' });
    expect(line.authorization).toBe(R);
    expect(line.token).toBe(R);
    expect(line.user).toEqual({ id: 'u1', token: R, secret: R, apiSecret: R, passphrase: R, secretKey: R });
    expect(line.secret).toBe(R);
    expect(line.apiSecret).toBe(R);
    expect(line.passphrase).toBe(R);
    expect(line.secretKey).toBe(R);
    expect(line.bundle).toBe(R);
    expect(line.upload).toEqual({ bundle: R, bytes: 10 });
    expect(line.variables).toBe(R);
    expect(line.gql).toEqual({ operationName: 'Upload', variables: R });
    const text = JSON.stringify(line);
    for (const leaked of ['eyJhbGciOi', 'Bearer', 'tok-', 's-top', 'p-nested', 'Jane Doe', 'p-123', '123-45-6789']) {
      expect(text).not.toContain(leaked);
    }
  });

  test('child bindings are redacted too, and the caller’s objects are untouched', () => {
    const { log, lines } = logger();
    const req = { id: 'r-2', headers: { authorization: 'Bearer child' } };
    log.child({ req }).info({ variables: { a: 1 } }, 'child');
    expect(lines[0]).toMatchObject({ req: { id: 'r-2', headers: { authorization: '[redacted]' } }, variables: '[redacted]' });
    expect(JSON.stringify(lines[0])).not.toContain('Bearer child');
    expect(req.headers.authorization).toBe('Bearer child');
  });
});

test('a file path destination: parent directories are created, lines are written at once and appended', async () => {
  const dir = await fsp.mkdtemp(join(tmpdir(), 'pie-log-'));
  try {
    const path = join(dir, 'logs/nested/pie.log');
    const log = createLogger({ level: 'info', destination: path });
    log.info({ token: 'x' }, 'to a file');
    log.debug('hidden');
    const lines = (await fsp.readFile(path, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual([expect.objectContaining({ level: 'info', service: 'pie', token: '[redacted]', msg: 'to a file' })]);
    createLogger({ level: 'info', destination: path }).warn('appended');
    expect((await fsp.readFile(path, 'utf8')).trim().split('\n')).toHaveLength(2);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});
