/**
 * loadNodeConfig: defaults, precedence (defaults < file < environment), every validation rule, the config file's
 * failure modes and unknown keys, fabric mode with real temp files, and the aggregated ConfigError.
 */
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CodedError } from '../../src/errors.js';
import { ConfigError, describeConfig, ENV_VARS, loadNodeConfig, type NodeConfig } from '../../src/node/config.js';

const PEER = '12D3KooWQ8p2rcVTPGbfWPFZDDPSVCDkJKvQxtjBDRYWbTRa2nBW';
const PEER_ADDR = `/ip4/127.0.0.1/tcp/4101/p2p/${PEER}`;
const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

let base: string;
let cwd: string;
let seq = 0;

beforeAll(async () => {
  base = await fsp.mkdtemp(join(tmpdir(), 'pie-config-'));
});
afterAll(async () => {
  await fsp.rm(base, { recursive: true, force: true });
});
beforeEach(async () => {
  cwd = join(base, `case${seq++}`);
  await fsp.mkdir(cwd);
});

type Env = Record<string, string | undefined>;

const load = (env: Env = {}) => loadNodeConfig({ env, cwd });

/** Writes `json` (an object, or raw text) as the config file at `name` under cwd and returns PIE_CONFIG for it. */
async function configFile(json: unknown, name = 'pie.json'): Promise<Env> {
  const path = join(cwd, name);
  await fsp.mkdir(join(path, '..'), { recursive: true });
  await fsp.writeFile(path, typeof json === 'string' ? json : JSON.stringify(json));
  return { PIE_CONFIG: name };
}

async function touch(name: string, content = '-----BEGIN CERTIFICATE-----\n'): Promise<string> {
  const path = join(cwd, name);
  await fsp.mkdir(join(path, '..'), { recursive: true });
  await fsp.writeFile(path, content);
  return path;
}

/** The issues of the ConfigError `env` (and an optional file) must produce. */
async function issuesOf(env: Env): Promise<string[]> {
  const err = await load(env).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ConfigError)) throw new Error(`expected a ConfigError, got ${String(err)}`);
  return err.issues;
}

async function fabricFiles(): Promise<Env> {
  return {
    PIE_LEDGER: 'fabric',
    PIE_FABRIC_ENDPOINT: 'peer0.org1.example.com:7051',
    PIE_FABRIC_CERT: await touch('msp/cert.pem'),
    PIE_FABRIC_KEY: await touch('msp/key.pem', '-----BEGIN PRIVATE KEY-----\nsecret\n'),
  };
}

describe('defaults', () => {
  test('with no file and no environment', async () => {
    const config = await load();
    expect(config).toEqual<NodeConfig>({
      dataDir: join(cwd, '.pie/node'),
      host: '127.0.0.1',
      port: 4000,
      organisation: 'Hospital1MSP',
      audience: 'pie://Hospital1MSP',
      production: false,
      logLevel: 'info',
      ledger: { mode: 'devnet', batchTimeoutMs: 0, maxMessageCount: 500, port: 0 },
      storage: { peers: [] },
      fhirDirectory: [],
      limits: {
        maxRequestBytes: 16 * MiB + 64 * KiB,
        maxBlobBytes: 2 * GiB,
        maxQueryDepth: 12,
        maxAliases: 15,
        maxQueryCost: 20_000,
        maxPageSize: 100,
        draftTtlSeconds: 600,
        wsMaxSubscriptions: 10,
        wsMaxMessageBytes: 64 * KiB,
        wsKeepAliveMs: 12_000,
      },
      auth: { maxTokenLifetimeSeconds: 600, clockSkewSeconds: 30 },
      search: { readModel: true, readModelWaitMs: 2_000 },
      custodyKeyFile: join(cwd, '.pie/node/custody/master.key'),
      proxy: { count: 1, operationTtlSeconds: 300 },
      shutdownTimeoutMs: 10_000,
    });
    expect('listenPort' in config.storage).toBe(false);
  });

  test('cwd and env default to the process', async () => {
    const config = await loadNodeConfig();
    expect(config.dataDir).toBe(join(process.cwd(), '.pie/node'));
  });

  test('the result is deeply frozen', async () => {
    const config = await load();
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.ledger)).toBe(true);
    expect(Object.isFrozen(config.storage.peers)).toBe(true);
  });

  test('derived defaults follow what they derive from', async () => {
    const config = await load({ PIE_ORG: 'Clinic-2.a_b', PIE_DATA_DIR: 'data', ...(await fabricFiles()) });
    expect(config.audience).toBe('pie://Clinic-2.a_b');
    expect(config.ledger).toMatchObject({ mspId: 'Clinic-2.a_b' });
    expect(config.dataDir).toBe(join(cwd, 'data'));
    expect(config.custodyKeyFile).toBe(join(cwd, 'data/custody/master.key'));
  });

  test('explicit values beat derived defaults', async () => {
    const config = await load({
      PIE_ORG: 'Org1',
      PIE_AUDIENCE: 'https://pie.example/aud',
      PIE_CUSTODY_KEY_FILE: '/keys/custody.key',
      ...(await fabricFiles()),
      PIE_FABRIC_MSP_ID: 'Org1MSP',
    });
    expect(config.audience).toBe('https://pie.example/aud');
    expect(config.custodyKeyFile).toBe('/keys/custody.key');
    expect(config.ledger).toMatchObject({ mspId: 'Org1MSP' });
  });

  test('NODE_ENV=production means production, nothing else does', async () => {
    expect((await load({ NODE_ENV: 'production' })).production).toBe(true);
    expect((await load({ NODE_ENV: 'development' })).production).toBe(false);
    expect((await load({ NODE_ENV: 'Production' })).production).toBe(false);
  });
});

describe('precedence: defaults < file < environment', () => {
  test('each layer overrides the one below', async () => {
    const file = await configFile({
      port: 5000,
      host: 'localhost',
      ledger: { batchTimeoutMs: 50, maxMessageCount: 10 },
      storage: { peers: [PEER_ADDR], listenPort: 4101 },
      limits: { maxQueryDepth: 8, maxPageSize: 50 },
      auth: { clockSkewSeconds: 5 },
    });
    const fromFile = await load(file);
    expect(fromFile.port).toBe(5000);
    expect(fromFile.host).toBe('localhost');
    expect(fromFile.ledger).toEqual({ mode: 'devnet', batchTimeoutMs: 50, maxMessageCount: 10, port: 0 });
    expect(fromFile.storage).toEqual({ peers: [PEER_ADDR], listenPort: 4101 });
    expect(fromFile.limits).toMatchObject({ maxQueryDepth: 8, maxPageSize: 50, maxAliases: 15 });
    expect(fromFile.auth).toEqual({ maxTokenLifetimeSeconds: 600, clockSkewSeconds: 5 });

    const fromEnv = await load({
      ...file,
      PIE_PORT: '0',
      PIE_DEVNET_BATCH_TIMEOUT_MS: '0',
      PIE_STORAGE_PEERS: `/ip6/::1/tcp/4102/p2p/${PEER}`,
      PIE_MAX_QUERY_DEPTH: '3',
    });
    expect(fromEnv.port).toBe(0);
    expect(fromEnv.host).toBe('localhost'); // not in the environment: the file's
    expect(fromEnv.ledger).toEqual({ mode: 'devnet', batchTimeoutMs: 0, maxMessageCount: 10, port: 0 });
    expect(fromEnv.storage).toEqual({ peers: [`/ip6/::1/tcp/4102/p2p/${PEER}`], listenPort: 4101 });
    expect(fromEnv.limits.maxQueryDepth).toBe(3);
  });

  test('an empty environment variable counts as unset', async () => {
    const config = await load({ ...(await configFile({ port: 5000 })), PIE_PORT: '', PIE_ORG: '', PIE_LEDGER: '' });
    expect(config.port).toBe(5000);
    expect(config.organisation).toBe('Hospital1MSP');
    expect(config.ledger.mode).toBe('devnet');
  });

  test('an empty PIE_CONFIG means no file', async () => {
    expect((await load({ PIE_CONFIG: '' })).port).toBe(4000);
  });

  test('derived defaults use the winning value', async () => {
    const file = await configFile({ organisation: 'FileOrg', dataDir: '/srv/pie' });
    const config = await load({ ...file, PIE_ORG: 'EnvOrg' });
    expect(config.audience).toBe('pie://EnvOrg');
    expect(config.custodyKeyFile).toBe('/srv/pie/custody/master.key');
  });

  test('paths: PIE_CONFIG and environment paths from cwd, file paths from the file directory', async () => {
    const file = await configFile({ dataDir: 'data', custodyKeyFile: '../keys/master.key' }, 'etc/pie.json');
    const config = await load(file);
    expect(config.dataDir).toBe(join(cwd, 'etc/data'));
    expect(config.custodyKeyFile).toBe(join(cwd, 'keys/master.key'));
    expect((await load({ ...file, PIE_DATA_DIR: 'other' })).dataDir).toBe(join(cwd, 'other'));
    expect((await load({ ...file, PIE_DATA_DIR: '/abs/dir' })).dataDir).toBe('/abs/dir');
  });
});

describe('validation of environment values', () => {
  // [variable, min, max] for every integer setting
  const integers: [string, number, number][] = [
    ['PIE_PORT', 0, 65535],
    ['PIE_DEVNET_BATCH_TIMEOUT_MS', 0, 10_000],
    ['PIE_DEVNET_MAX_MESSAGE_COUNT', 1, 10_000],
    ['PIE_DEVNET_PORT', 0, 65535],
    ['PIE_STORAGE_PORT', 0, 65535],
    ['PIE_MAX_REQUEST_BYTES', KiB, GiB],
    ['PIE_MAX_BLOB_BYTES', 1, 1024 * GiB],
    ['PIE_MAX_QUERY_DEPTH', 1, 100],
    ['PIE_MAX_ALIASES', 0, 1000],
    ['PIE_MAX_QUERY_COST', 1, 1_000_000],
    ['PIE_MAX_PAGE_SIZE', 1, 100],
    ['PIE_DRAFT_TTL_SECONDS', 1, 86_400],
    ['PIE_WS_MAX_SUBSCRIPTIONS', 1, 100],
    ['PIE_WS_MAX_MESSAGE_BYTES', KiB, 16 * MiB],
    ['PIE_WS_KEEP_ALIVE_MS', 0, 300_000],
    ['PIE_MAX_TOKEN_LIFETIME_SECONDS', 60, 3600],
    ['PIE_CLOCK_SKEW_SECONDS', 0, 300],
    ['PIE_SEARCH_READ_MODEL_WAIT_MS', 0, 60_000],
    ['PIE_PROXY_COUNT', 1, 16],
    ['PIE_PROXY_OPERATION_TTL_SECONDS', 1, 3600],
    ['PIE_SHUTDOWN_TIMEOUT_MS', 0, 600_000],
  ];

  test('every integer setting is in the table with these bounds', () => {
    for (const [name, min, max] of integers) {
      expect(ENV_VARS.find((v) => v.name === name)?.expected).toBe(`an integer in ${min}..${max}`);
    }
  });

  test.each(integers)('%s accepts its bounds and refuses just outside them', async (name, min, max) => {
    await expect(load({ [name]: String(min) })).resolves.toBeDefined();
    await expect(load({ [name]: String(max) })).resolves.toBeDefined();
    expect(await issuesOf({ [name]: String(min - 1) })).toEqual([`${name}: must be an integer in ${min}..${max}, got "${min - 1}"`]);
    expect(await issuesOf({ [name]: String(max + 1) })).toEqual([`${name}: must be an integer in ${min}..${max}, got "${max + 1}"`]);
  });

  test.each(['abc', '1e3', '12abc', '0x10', '4000.5', ' 4000', '4000 ', '+4000', '-', '99999999999999999999'])(
    'PIE_PORT=%j is not a decimal integer in range',
    async (raw) => {
      expect(await issuesOf({ PIE_PORT: raw })).toEqual([`PIE_PORT: must be an integer in 0..65535, got ${JSON.stringify(raw)}`]);
    },
  );

  test('integer values are parsed (leading zeros are decimal)', async () => {
    const config = await load({ PIE_PORT: '08080', PIE_STORAGE_PORT: '0', PIE_MAX_BLOB_BYTES: String(1024 * GiB) });
    expect(config.port).toBe(8080);
    expect(config.storage.listenPort).toBe(0);
    expect(config.limits.maxBlobBytes).toBe(1024 * GiB);
  });

  test('booleans: exactly true or false', async () => {
    expect((await load({ PIE_SEARCH_READ_MODEL: 'false' })).search.readModel).toBe(false);
    expect((await load({ PIE_SEARCH_READ_MODEL: 'true' })).search.readModel).toBe(true);
    for (const raw of ['0', '1', 'yes', 'off', 'TRUE', ' false']) {
      expect(await issuesOf({ PIE_SEARCH_READ_MODEL: raw })).toEqual([`PIE_SEARCH_READ_MODEL: must be true or false, got ${JSON.stringify(raw)}`]);
    }
  });

  test('enumerations', async () => {
    expect((await load({ PIE_LOG_LEVEL: 'silent' })).logLevel).toBe('silent');
    expect(await issuesOf({ PIE_LOG_LEVEL: 'verbose' })).toEqual([
      'PIE_LOG_LEVEL: must be one of "fatal", "error", "warn", "info", "debug", "trace", "silent", got "verbose"',
    ]);
    expect(await issuesOf({ PIE_LEDGER: 'Fabric' })).toEqual(['PIE_LEDGER: must be one of "devnet", "fabric", got "Fabric"']);
  });

  test.each(['Hospital1MSP', 'a', 'A.b-c_d9', 'x'.repeat(64)])('PIE_ORG=%j is accepted', async (org) => {
    expect((await load({ PIE_ORG: org })).organisation).toBe(org);
  });

  test.each(['-org', '.org', 'has space', 'org/1', 'x'.repeat(65), 'ørg'])('PIE_ORG=%j is refused', async (org) => {
    const issues = await issuesOf({ PIE_ORG: org });
    expect(issues).toEqual([expect.stringMatching(/^PIE_ORG: must be a string matching \^\[A-Za-z0-9\]/)]);
  });

  test('an invalid organisation leaves no derived audience behind and no extra issue', async () => {
    expect(await issuesOf({ PIE_ORG: 'bad org' })).toHaveLength(1);
  });

  test('audience', async () => {
    expect((await load({ PIE_AUDIENCE: 'urn:pie:node-1' })).audience).toBe('urn:pie:node-1');
    for (const bad of ['has space', 'x'.repeat(257), 'tab\there']) {
      expect(await issuesOf({ PIE_AUDIENCE: bad })).toEqual([
        `PIE_AUDIENCE: must be 1..256 printable ASCII characters, no spaces, got ${JSON.stringify(bad).slice(0, 97)}${JSON.stringify(bad).length > 100 ? '...' : ''}`,
      ]);
    }
  });

  test.each(['127.0.0.1', '0.0.0.0', '::', '::1', 'localhost', 'pie-node.example.org'])('PIE_HOST=%j is accepted', async (host) => {
    expect((await load({ PIE_HOST: host })).host).toBe(host);
  });

  test.each(['local host', 'http://localhost', '-bad.example', 'a..b', '127.0.0.1:80'])('PIE_HOST=%j is refused', async (host) => {
    expect(await issuesOf({ PIE_HOST: host })).toEqual([`PIE_HOST: must be a host name or IP address, got ${JSON.stringify(host)}`]);
  });

  test('paths may not contain NUL', async () => {
    expect(await issuesOf({ PIE_DATA_DIR: 'a\0b' })).toEqual(['PIE_DATA_DIR: must be a path, got "a\\u0000b"']);
  });

  describe('storage peers', () => {
    test('comma-separated, spaces and empty entries ignored, ip4 127/8 and ip6 ::1', async () => {
      const other = `/ip4/127.1.2.3/tcp/9/p2p/${PEER}`;
      const config = await load({ PIE_STORAGE_PEERS: ` ${PEER_ADDR} ,, ${other},` });
      expect(config.storage.peers).toEqual([PEER_ADDR, other]);
      expect((await load({ PIE_STORAGE_PEERS: ' , ' })).storage.peers).toEqual([]);
    });

    test.each([
      ['/ip4/10.0.0.1/tcp/4101/p2p/' + PEER, 'must start with a loopback address'],
      ['/ip6/::2/tcp/4101/p2p/' + PEER, 'must start with a loopback address'],
      ['/dns4/localhost/tcp/4101/p2p/' + PEER, 'must start with a loopback address'],
      ['/p2p/' + PEER, 'must start with a loopback address'],
      ['/ip4/127.0.0.1/udp/4101/p2p/' + PEER, 'must have the form'],
      ['/ip4/127.0.0.1/tcp/0/p2p/' + PEER, 'must have the form'],
      ['/ip4/127.0.0.1/tcp/4101', 'must have the form'],
      ['/ip4/127.0.0.1/p2p/' + PEER, 'must have the form'],
      ['/ip4/127.0.0.1/tcp/4101/ws/p2p/' + PEER, 'must have the form'],
      ['/ip4/127.0.0.1/tcp/4101/p2p/' + PEER + '/p2p-circuit', 'must have the form'],
      ['/ip4/127.0.0.1/tcp/4101/p2p/QmNotAPeer', 'not'],
      ['127.0.0.1:4101', 'not a multiaddr'],
      ['/ip4/999.0.0.1/tcp/4101/p2p/' + PEER, 'not a multiaddr'],
    ])('%s is refused (%s)', async (addr, reason) => {
      const issues = await issuesOf({ PIE_STORAGE_PEERS: `${PEER_ADDR},${addr}` });
      expect(issues).toHaveLength(1);
      expect(issues[0]).toContain(`PIE_STORAGE_PEERS: entry 1 ${JSON.stringify(addr)}`);
      expect(issues[0]).toContain(reason);
    });

    test('duplicates are refused; every bad entry is named', async () => {
      const issues = await issuesOf({ PIE_STORAGE_PEERS: `${PEER_ADDR},/ip4/10.0.0.1/tcp/1/p2p/${PEER},${PEER_ADDR}` });
      expect(issues).toHaveLength(1);
      expect(issues[0]).toMatch(/entry 1 .*loopback.*; entry 2 .*listed twice/);
    });
  });
});

describe('validation of file values', () => {
  test('types are strict: no strings for numbers, no numbers for strings', async () => {
    const file = await configFile({
      port: '4000',
      host: 42,
      organisation: null,
      logLevel: 'loud',
      ledger: { mode: 'devnet', batchTimeoutMs: 1.5, maxMessageCount: 0, port: -1 },
      storage: { peers: PEER_ADDR, listenPort: true },
      limits: { maxPageSize: 101 },
      dataDir: ['x'],
    });
    const label = `config file ${join(cwd, 'pie.json')}`;
    expect(await issuesOf(file)).toEqual([
      `${label}: dataDir: must be a path, got ["x"]`,
      `${label}: host: must be a host name or IP address, got 42`,
      `${label}: port: must be an integer in 0..65535, got "4000"`,
      `${label}: organisation: must be a string matching ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$, got null`,
      `${label}: logLevel: must be one of "fatal", "error", "warn", "info", "debug", "trace", "silent", got "loud"`,
      `${label}: ledger.batchTimeoutMs: must be an integer in 0..10000, got 1.5`,
      `${label}: ledger.maxMessageCount: must be an integer in 1..10000, got 0`,
      `${label}: ledger.port: must be an integer in 0..65535, got -1`,
      `${label}: storage.peers: must be an array of strings (loopback multiaddrs /ip4/127.0.0.1/tcp/<port>/p2p/<peer id> (or /ip6/::1/…)), got ${JSON.stringify(PEER_ADDR)}`,
      `${label}: storage.listenPort: must be an integer in 0..65535, got true`,
      `${label}: limits.maxPageSize: must be an integer in 1..100, got 101`,
    ]);
  });

  test('the read model switch: a JSON boolean in the file, overridden by the environment', async () => {
    const file = await configFile({ search: { readModel: false, readModelWaitMs: 500 } });
    expect((await load(file)).search).toEqual({ readModel: false, readModelWaitMs: 500 });
    expect((await load({ ...file, PIE_SEARCH_READ_MODEL: 'true' })).search.readModel).toBe(true);
    await configFile({ search: { readModel: 'false' } });
    expect(await issuesOf(file)).toEqual([`config file ${join(cwd, 'pie.json')}: search.readModel: must be true or false (a JSON boolean), got "false"`]);
  });

  test('peers in the file: an array of valid multiaddr strings', async () => {
    const label = `config file ${join(cwd, 'pie.json')}`;
    expect(await issuesOf(await configFile({ storage: { peers: [PEER_ADDR, 7] } }))).toEqual([
      expect.stringContaining(`${label}: storage.peers: must be an array of strings`),
    ]);
    expect(await issuesOf(await configFile({ storage: { peers: ['/ip4/8.8.8.8/tcp/1/p2p/' + PEER] } }))).toEqual([
      expect.stringContaining(`${label}: storage.peers: entry 0 "/ip4/8.8.8.8/tcp/1/p2p/${PEER}": must start with a loopback address`),
    ]);
  });

  test('a bad file value is reported even when the environment overrides it', async () => {
    const file = await configFile({ port: 'x' });
    expect(await issuesOf({ ...file, PIE_PORT: '1' })).toEqual([`config file ${join(cwd, 'pie.json')}: port: must be an integer in 0..65535, got "x"`]);
    expect(await issuesOf({ ...file, PIE_PORT: 'y' })).toEqual([
      `config file ${join(cwd, 'pie.json')}: port: must be an integer in 0..65535, got "x"`,
      'PIE_PORT: must be an integer in 0..65535, got "y"',
    ]);
  });

  test('long values are shortened in messages', async () => {
    const [issue] = await issuesOf({ PIE_HOST: 'x'.repeat(500) });
    expect(issue!.length).toBeLessThan(200);
    expect(issue).toMatch(/\.\.\.$/);
  });
});

describe('the config file', () => {
  test('PIE_CONFIG is resolved against cwd; an absolute path works too', async () => {
    await configFile({ port: 1234 }, 'conf/pie.json');
    expect((await load({ PIE_CONFIG: 'conf/pie.json' })).port).toBe(1234);
    expect((await load({ PIE_CONFIG: join(cwd, 'conf/pie.json') })).port).toBe(1234);
  });

  test('an empty object and a BOM are fine', async () => {
    expect((await load(await configFile('\uFEFF{}'))).port).toBe(4000);
  });

  test('a missing file', async () => {
    expect(await issuesOf({ PIE_CONFIG: 'nope.json' })).toEqual([`PIE_CONFIG: cannot read config file ${join(cwd, 'nope.json')}: no such file`]);
  });

  test('a directory', async () => {
    await fsp.mkdir(join(cwd, 'dir.json'));
    expect(await issuesOf({ PIE_CONFIG: 'dir.json' })).toEqual([`PIE_CONFIG: cannot read config file ${join(cwd, 'dir.json')}: is a directory`]);
  });

  test('an unreadable file', async () => {
    if (process.getuid?.() === 0) return; // root reads everything
    const env = await configFile({});
    await fsp.chmod(join(cwd, 'pie.json'), 0o000);
    expect(await issuesOf(env)).toEqual([`PIE_CONFIG: cannot read config file ${join(cwd, 'pie.json')}: permission denied`]);
  });

  test.each([
    ['not JSON', '{ port: 4000 }', 'not valid JSON: '],
    ['truncated', '{"port": 4000', 'not valid JSON: '],
    ['empty', '', 'not valid JSON: '],
    ['an array', '[]', 'must be a JSON object, got an array'],
    ['a number', '4000', 'must be a JSON object, got 4000'],
    ['null', 'null', 'must be a JSON object, got null'],
  ])('%s is refused', async (_what, text, message) => {
    const issues = await issuesOf(await configFile(text));
    expect(issues).toEqual([expect.stringContaining(`config file ${join(cwd, 'pie.json')}: ${message}`)]);
  });

  test('unknown keys are errors, with a hint for near misses', async () => {
    const file = await configFile({
      prot: 4000,
      colour: 'blue',
      ledger: { mode: 'devnet', batchTimeout: 5, endpoint: 'x:1', tls: {} },
      limits: { maxpagesize: 10 },
      stroage: {},
      production: true,
      'ledger.mode': 'fabric',
    });
    const label = `config file ${join(cwd, 'pie.json')}`;
    const issues = await issuesOf(file);
    expect(issues).toEqual(
      expect.arrayContaining([
        `${label}: prot: unknown key (did you mean "port"?)`,
        `${label}: colour: unknown key`,
        `${label}: ledger.batchTimeout: unknown key (did you mean "ledger.batchTimeoutMs"?)`,
        `${label}: ledger.tls: unknown key`,
        `${label}: limits.maxpagesize: unknown key (did you mean "limits.maxPageSize"?)`,
        `${label}: stroage: unknown key (did you mean "storage"?)`,
        `${label}: production: unknown key (production is set by NODE_ENV only)`,
        `${label}: ledger.mode: unknown key (nest objects instead of dotted keys)`,
      ]),
    );
    // the fabric key in an explicitly devnet file is ignored, not an error
    expect(issues.some((i) => i.includes('ledger.endpoint'))).toBe(false);
    expect(issues).toHaveLength(8);
  });

  test('groups must be objects', async () => {
    const label = `config file ${join(cwd, 'pie.json')}`;
    expect(await issuesOf(await configFile({ ledger: 'fabric', limits: [], auth: null }))).toEqual([
      `${label}: ledger: must be an object, got "fabric"`,
      `${label}: limits: must be an object, got []`,
      `${label}: auth: must be an object, got null`,
    ]);
  });
});

describe('fabric ledger', () => {
  test('from the environment, with defaults', async () => {
    const env = await fabricFiles();
    const config = await load(env);
    expect(config.ledger).toEqual({
      mode: 'fabric',
      endpoint: 'peer0.org1.example.com:7051',
      channel: 'mychannel',
      chaincode: 'pie',
      mspId: 'Hospital1MSP',
      certPath: env.PIE_FABRIC_CERT,
      keyPath: env.PIE_FABRIC_KEY,
    });
  });

  test('from the file, paths relative to the file, everything set', async () => {
    await touch('etc/tls/ca.pem');
    await touch('etc/msp/cert.pem');
    await touch('etc/msp/key.pem');
    const file = await configFile(
      {
        ledger: {
          mode: 'fabric',
          endpoint: '[::1]:7051',
          tlsCaCertPath: 'tls/ca.pem',
          tlsServerName: 'peer0.org1.example.com',
          channel: 'pie-channel.1',
          chaincode: 'pie_cc-2',
          mspId: 'Org1MSP',
          certPath: 'msp/cert.pem',
          keyPath: 'msp/key.pem',
        },
      },
      'etc/pie.json',
    );
    expect((await load(file)).ledger).toEqual({
      mode: 'fabric',
      endpoint: '[::1]:7051',
      tlsCaCertPath: join(cwd, 'etc/tls/ca.pem'),
      tlsServerName: 'peer0.org1.example.com',
      channel: 'pie-channel.1',
      chaincode: 'pie_cc-2',
      mspId: 'Org1MSP',
      certPath: join(cwd, 'etc/msp/cert.pem'),
      keyPath: join(cwd, 'etc/msp/key.pem'),
    });
  });

  test('the environment overrides fabric settings of the file', async () => {
    const env = await fabricFiles();
    const file = await configFile({ ledger: { mode: 'fabric', endpoint: 'a:1', channel: 'c1', certPath: 'x', keyPath: 'y' } });
    const config = await load({ ...file, PIE_FABRIC_ENDPOINT: 'b:2', PIE_FABRIC_CERT: env.PIE_FABRIC_CERT, PIE_FABRIC_KEY: env.PIE_FABRIC_KEY });
    expect(config.ledger).toMatchObject({ endpoint: 'b:2', channel: 'c1', certPath: env.PIE_FABRIC_CERT });
  });

  test('required settings, mode from the environment', async () => {
    expect(await issuesOf({ PIE_LEDGER: 'fabric' })).toEqual([
      'PIE_FABRIC_ENDPOINT: required when PIE_LEDGER is "fabric" (or set ledger.endpoint in the config file)',
      'PIE_FABRIC_CERT: required when PIE_LEDGER is "fabric" (or set ledger.certPath in the config file)',
      'PIE_FABRIC_KEY: required when PIE_LEDGER is "fabric" (or set ledger.keyPath in the config file)',
    ]);
  });

  test('required settings, mode from the file', async () => {
    const file = await configFile({ ledger: { mode: 'fabric', certPath: await touch('c.pem'), keyPath: await touch('k.pem') } });
    expect(await issuesOf(file)).toEqual([
      `config file ${join(cwd, 'pie.json')}: ledger.endpoint: required when ledger.mode is "fabric" (or set PIE_FABRIC_ENDPOINT)`,
    ]);
  });

  test('an invalid required value is reported once, as invalid', async () => {
    expect(await issuesOf({ ...(await fabricFiles()), PIE_FABRIC_ENDPOINT: 'nohostport' })).toEqual([
      'PIE_FABRIC_ENDPOINT: must be host:port (IPv6 as [addr]:port, port 1..65535), got "nohostport"',
    ]);
  });

  test.each(['localhost:7051', '10.0.0.5:1', '[::1]:65535', 'peer0.org1.example.com:7051'])('endpoint %j is accepted', async (endpoint) => {
    expect((await load({ ...(await fabricFiles()), PIE_FABRIC_ENDPOINT: endpoint })).ledger).toMatchObject({ endpoint });
  });

  test.each(['localhost', 'localhost:0', 'localhost:65536', ':7051', '::1:7051', '[localhost]:7051', 'grpc://peer:7051', 'a b:1', 'host:7051x'])(
    'endpoint %j is refused',
    async (endpoint) => {
      expect(await issuesOf({ ...(await fabricFiles()), PIE_FABRIC_ENDPOINT: endpoint })).toEqual([
        `PIE_FABRIC_ENDPOINT: must be host:port (IPv6 as [addr]:port, port 1..65535), got ${JSON.stringify(endpoint)}`,
      ]);
    },
  );

  test('names: channel, chaincode, MSP id, TLS server name', async () => {
    const env = await fabricFiles();
    expect(
      await issuesOf({ ...env, PIE_FABRIC_CHANNEL: 'MyChannel', PIE_FABRIC_CHAINCODE: 'pie--cc', PIE_FABRIC_MSP_ID: 'Org 1', PIE_FABRIC_TLS_SERVER_NAME: 'peer_0' }),
    ).toEqual([
      'PIE_FABRIC_TLS_SERVER_NAME: must be a host name or IP address, got "peer_0"',
      'PIE_FABRIC_CHANNEL: must be a string matching ^[a-z][a-z0-9.-]{0,248}$, got "MyChannel"',
      'PIE_FABRIC_CHAINCODE: must be a string matching ^[A-Za-z0-9]+(?:[-_][A-Za-z0-9]+)*$, got "pie--cc"',
      'PIE_FABRIC_MSP_ID: must be a string matching ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$, got "Org 1"',
    ]);
  });

  test('certificate, key and CA files must exist, be regular files and be readable', async () => {
    const env = await fabricFiles();
    await fsp.mkdir(join(cwd, 'cadir'));
    expect(
      await issuesOf({ ...env, PIE_FABRIC_TLS_CA: 'cadir', PIE_FABRIC_CERT: 'missing/cert.pem', PIE_FABRIC_KEY: join(cwd, 'missing.key') }),
    ).toEqual([
      `PIE_FABRIC_TLS_CA: ${join(cwd, 'cadir')} is not a regular file`,
      `PIE_FABRIC_CERT: cannot read ${join(cwd, 'missing/cert.pem')}: no such file`,
      `PIE_FABRIC_KEY: cannot read ${join(cwd, 'missing.key')}: no such file`,
    ]);
    if (process.getuid?.() !== 0) {
      await fsp.chmod(env.PIE_FABRIC_KEY!, 0o000);
      expect(await issuesOf(env)).toEqual([`PIE_FABRIC_KEY: cannot read ${env.PIE_FABRIC_KEY}: permission denied`]);
    }
  });

  test('file paths are checked only in fabric mode', async () => {
    const file = await configFile({ ledger: { mode: 'devnet', certPath: 'missing.pem', keyPath: 'missing.key' } });
    expect((await load(file)).ledger).toEqual({ mode: 'devnet', batchTimeoutMs: 0, maxMessageCount: 500, port: 0 });
  });

  test('fabric settings while the mode is devnet by default: PIE_LEDGER was forgotten', async () => {
    const env = await fabricFiles();
    delete env.PIE_LEDGER;
    const file = await configFile({ ledger: { channel: 'c' } });
    expect(await issuesOf({ ...env, ...file })).toEqual([
      'PIE_FABRIC_ENDPOINT: only applies when ledger.mode is "fabric", but ledger.mode is "devnet" by default (set PIE_LEDGER or ledger.mode)',
      `config file ${join(cwd, 'pie.json')}: ledger.channel: only applies when ledger.mode is "fabric", but ledger.mode is "devnet" by default (set PIE_LEDGER or ledger.mode)`,
      'PIE_FABRIC_CERT: only applies when ledger.mode is "fabric", but ledger.mode is "devnet" by default (set PIE_LEDGER or ledger.mode)',
      'PIE_FABRIC_KEY: only applies when ledger.mode is "fabric", but ledger.mode is "devnet" by default (set PIE_LEDGER or ledger.mode)',
    ]);
  });

  test('settings of the other mode are ignored when the mode is chosen explicitly', async () => {
    const fabric = await fabricFiles();
    const file = await configFile({ ledger: { mode: 'fabric', endpoint: 'peer:7051', certPath: fabric.PIE_FABRIC_CERT, keyPath: fabric.PIE_FABRIC_KEY } });
    // a local devnet run over a fabric config file
    expect((await load({ ...file, PIE_LEDGER: 'devnet', PIE_DEVNET_PORT: '7000' })).ledger).toEqual({
      mode: 'devnet',
      batchTimeoutMs: 0,
      maxMessageCount: 500,
      port: 7000,
    });
    // devnet settings in fabric mode
    const config = await load({ ...fabric, PIE_DEVNET_PORT: '7000', PIE_DEVNET_BATCH_TIMEOUT_MS: '5' });
    expect(config.ledger.mode).toBe('fabric');
    expect('port' in config.ledger).toBe(false);
  });

  test('an invalid mode hides the mode-specific settings without further issues', async () => {
    expect(await issuesOf({ PIE_LEDGER: 'besu', PIE_FABRIC_ENDPOINT: 'x:1', PIE_DEVNET_PORT: '1' })).toEqual([
      'PIE_LEDGER: must be one of "devnet", "fabric", got "besu"',
    ]);
  });
});

describe('ConfigError', () => {
  test('collects every problem from every source', async () => {
    const file = await configFile({ port: 70000, ledger: { mode: 'fabric', tlsCaCertPath: 'nope.pem' }, typo: 1 });
    const err = await load({ ...file, PIE_ORG: '!', PIE_MAX_PAGE_SIZE: '1000', PIE_STORAGE_PEERS: '/ip4/1.2.3.4/tcp/1' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err).toBeInstanceOf(CodedError);
    const e = err as ConfigError;
    expect(e.code).toBe('INVALID_CONFIG');
    expect(e.name).toBe('ConfigError');
    const label = `config file ${join(cwd, 'pie.json')}`;
    expect(e.issues).toEqual([
      `${label}: typo: unknown key`,
      `${label}: port: must be an integer in 0..65535, got 70000`,
      'PIE_ORG: must be a string matching ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$, got "!"',
      expect.stringMatching(/^PIE_STORAGE_PEERS: entry 0 "\/ip4\/1\.2\.3\.4\/tcp\/1": must start with a loopback address/),
      'PIE_MAX_PAGE_SIZE: must be an integer in 1..100, got "1000"',
      `${label}: ledger.endpoint: required when ledger.mode is "fabric" (or set PIE_FABRIC_ENDPOINT)`,
      `${label}: ledger.certPath: required when ledger.mode is "fabric" (or set PIE_FABRIC_CERT)`,
      `${label}: ledger.keyPath: required when ledger.mode is "fabric" (or set PIE_FABRIC_KEY)`,
      `${label}: ledger.tlsCaCertPath: cannot read ${join(cwd, 'nope.pem')}: no such file`,
    ]);
    expect(e.message).toBe(`invalid configuration (9 problems):\n  - ${e.issues.join('\n  - ')}`);
  });

  test('a single problem', async () => {
    const err = (await load({ PIE_PORT: 'x' }).catch((e: unknown) => e)) as ConfigError;
    expect(err.message).toBe('invalid configuration (1 problem):\n  - PIE_PORT: must be an integer in 0..65535, got "x"');
  });

  test('a file that cannot be read still lets the environment be checked', async () => {
    expect(await issuesOf({ PIE_CONFIG: 'missing.json', PIE_PORT: '-1' })).toEqual([
      `PIE_CONFIG: cannot read config file ${join(cwd, 'missing.json')}: no such file`,
      'PIE_PORT: must be an integer in 0..65535, got "-1"',
    ]);
  });
});

describe('PIE_FHIR_DIRECTORY', () => {
  test('readable files, comma-separated, resolved against cwd; a missing one is an issue', async () => {
    await fsp.writeFile(join(cwd, 'orgs.json'), '{}');
    await fsp.writeFile(join(cwd, 'people.json'), '{}');
    expect((await load({ PIE_FHIR_DIRECTORY: 'orgs.json, people.json' })).fhirDirectory).toEqual([join(cwd, 'orgs.json'), join(cwd, 'people.json')]);
    expect(await issuesOf({ PIE_FHIR_DIRECTORY: 'orgs.json,nothere.json' })).toEqual([expect.stringMatching(/^PIE_FHIR_DIRECTORY: cannot read .*nothere.json/)]);
  });
});

describe('ENV_VARS', () => {
  test('one row per variable, PIE_CONFIG first, documented defaults', () => {
    const names = ENV_VARS.map((v) => v.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names[0]).toBe('PIE_CONFIG');
    expect(names).toEqual(
      expect.arrayContaining(['PIE_DATA_DIR', 'PIE_HOST', 'PIE_PORT', 'PIE_ORG', 'PIE_AUDIENCE', 'NODE_ENV', 'PIE_LOG_LEVEL', 'PIE_LEDGER']),
    );
    expect(names).toHaveLength(41);
    const row = (name: string) => ENV_VARS.find((v) => v.name === name);
    expect(row('PIE_PORT')).toMatchObject({ key: 'port', default: '4000' });
    expect(row('PIE_DATA_DIR')?.default).toBe('<cwd>/.pie/node');
    expect(row('PIE_AUDIENCE')?.default).toBe('pie://<organisation>');
    expect(row('PIE_FABRIC_ENDPOINT')).toMatchObject({ key: 'ledger.endpoint', default: null });
    expect(row('PIE_FABRIC_ENDPOINT')?.description).toContain('ledger mode "fabric", required');
    expect(row('PIE_FABRIC_TLS_CA')?.default).toBe('(unset)');
    expect(row('PIE_STORAGE_PEERS')?.default).toBe('(none)');
    expect(row('PIE_MAX_REQUEST_BYTES')?.default).toBe(String(16 * MiB + 64 * KiB));
    expect(Object.isFrozen(ENV_VARS)).toBe(true);
  });
});

describe('describeConfig', () => {
  test('devnet', async () => {
    const summary = describeConfig(await load({ PIE_STORAGE_PEERS: PEER_ADDR }));
    expect(summary).toMatchObject({
      host: '127.0.0.1',
      port: 4000,
      ledger: { mode: 'devnet', batchTimeoutMs: 0, maxMessageCount: 500, port: 0 },
      storage: { peers: [PEER_ADDR] },
      limits: { maxPageSize: 100 },
    });
    expect(() => JSON.stringify(summary)).not.toThrow();
  });

  test('fabric: paths, never key contents', async () => {
    const env = await fabricFiles();
    const summary = describeConfig(await load({ ...env, PIE_FABRIC_TLS_CA: await touch('ca.pem') }));
    expect(summary.ledger).toEqual({
      mode: 'fabric',
      endpoint: 'peer0.org1.example.com:7051',
      tls: true,
      tlsServerName: undefined,
      channel: 'mychannel',
      chaincode: 'pie',
      mspId: 'Hospital1MSP',
      certPath: env.PIE_FABRIC_CERT,
      keyPath: env.PIE_FABRIC_KEY,
    });
    const text = JSON.stringify(summary);
    expect(text).not.toContain('PRIVATE KEY');
    expect(text).not.toContain('secret');
  });
});
