/**
 * The PIE node's configuration. Sources, later wins: built-in defaults < a JSON config file (path in PIE_CONFIG,
 * relative to the working directory) < environment variables. One declarative table (FIELDS) holds every setting's
 * config key, environment variable, type, bounds and default; loadNodeConfig validates everything at start and
 * throws ALL problems at once as a ConfigError, each issue naming where the bad value came from.
 *
 * Rules worth knowing:
 *  - the file has NodeConfig's nested shape (`{ "ledger": { "mode": "fabric", "endpoint": … } }`), every key
 *    optional; unknown keys are errors. Relative paths in the file are resolved against the file's directory,
 *    relative paths in the environment against the working directory.
 *  - an empty environment variable counts as unset.
 *  - numbers: JSON integers in the file, decimal integer strings in the environment ("1e3", "12abc", " 1" are refused).
 *  - ledger settings of the mode not in use are ignored, except that giving a fabric setting while the mode is
 *    still the default ("devnet") is an error: it almost always means PIE_LEDGER / ledger.mode was forgotten.
 *  - `production` comes from NODE_ENV only.
 */
import { constants as fsConstants, promises as fsp } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import { dirname, resolve } from 'node:path';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { CodedError } from '../errors.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export type LedgerMode = 'devnet' | 'fabric';

export interface DevnetLedgerConfig {
  mode: 'devnet';
  batchTimeoutMs: number;
  maxMessageCount: number;
  port: number;
}

export interface FabricLedgerConfig {
  mode: 'fabric';
  /** gateway peer, `host:port` */
  endpoint: string;
  tlsCaCertPath?: string;
  tlsServerName?: string;
  channel: string;
  chaincode: string;
  mspId: string;
  certPath: string;
  keyPath: string;
}

export interface NodeConfig {
  dataDir: string;
  host: string;
  port: number;
  organisation: string;
  /** the `aud` every bearer token must carry */
  audience: string;
  production: boolean;
  logLevel: LogLevel;
  ledger: DevnetLedgerConfig | FabricLedgerConfig;
  storage: { peers: string[]; listenPort?: number };
  /** FHIR Bundles (files) of known Organizations / Practitioners */
  fhirDirectory: string[];
  limits: {
    maxRequestBytes: number;
    maxBlobBytes: number;
    maxQueryDepth: number;
    maxAliases: number;
    maxQueryCost: number;
    maxPageSize: number;
    draftTtlSeconds: number;
    /** GraphQL over WebSocket (subscriptions): active subscriptions per connection */
    wsMaxSubscriptions: number;
    /** GraphQL over WebSocket: largest message a client may send (bytes) */
    wsMaxMessageBytes: number;
    /** GraphQL over WebSocket: ping interval; a connection without a pong within it is dropped (ms, 0 = no pings) */
    wsKeepAliveMs: number;
  };
  auth: { maxTokenLifetimeSeconds: number; clockSkewSeconds: number };
  search: {
    /** answer `emrs` from the node's record index, fed from the ledger's blocks (off: every search evaluates the chaincode) */
    readModel: boolean;
    /** how long a search waits for the index to reach this node's own last commit before asking the chaincode */
    readModelWaitMs: number;
  };
  /** master key file: custodial accounts' keys and the proxies' keys are sealed under it */
  custodyKeyFile: string;
  /** this node's re-encryption proxies (src/proxy) */
  proxy: {
    /** how many proxies the node runs (`<organisation>.proxy.1` …), each with its own key pair */
    count: number;
    /** how old a `reencrypt` operation record may be when the proxies release its capsule fragments */
    operationTtlSeconds: number;
  };
  shutdownTimeoutMs: number;
}

/** Every problem found in the configuration, e.g. `PIE_PORT: must be an integer in 0..65535, got "abc"`. */
export class ConfigError extends CodedError<'INVALID_CONFIG'> {
  override readonly name = 'ConfigError';
  readonly issues: string[];
  constructor(issues: readonly string[], options?: { cause?: unknown }) {
    const n = issues.length;
    super('INVALID_CONFIG', `invalid configuration (${n} problem${n === 1 ? '' : 's'}):\n  - ${issues.join('\n  - ')}`, options);
    this.issues = [...issues];
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Kinds: how one setting is read from an environment string or a JSON value. They throw Invalid with the reason.

class Invalid extends Error {}

interface Kind<T> {
  /** for the README and messages, e.g. 'an integer in 0..65535' */
  readonly expected: string;
  /** `base`: the directory relative paths are resolved against */
  fromEnv(raw: string, base: string): T;
  fromFile(raw: unknown, base: string): T;
  /** a check that needs the file system, run only for settings in effect */
  check?(value: T): Promise<void>;
}

/** A value for a message: JSON, shortened. */
function show(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 100 ? `${s.slice(0, 97)}...` : s;
}

function int(min: number, max: number): Kind<number> {
  const expected = `an integer in ${min}..${max}`;
  const within = (n: number, raw: unknown): number => {
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new Invalid(`must be ${expected}, got ${show(raw)}`);
    return n;
  };
  return {
    expected,
    fromEnv: (s) => within(/^-?[0-9]+$/.test(s) ? Number(s) : NaN, s),
    fromFile: (v) => within(typeof v === 'number' ? v : NaN, v),
  };
}

/** true or false: the words in the environment, a JSON boolean in the file. */
function bool(): Kind<boolean> {
  const expected = 'true or false';
  return {
    expected,
    fromEnv: (s) => {
      if (s !== 'true' && s !== 'false') throw new Invalid(`must be ${expected}, got ${show(s)}`);
      return s === 'true';
    },
    fromFile: (v) => {
      if (typeof v !== 'boolean') throw new Invalid(`must be ${expected} (a JSON boolean), got ${show(v)}`);
      return v;
    },
  };
}

function oneOf<const T extends string>(values: readonly T[]): Kind<T> {
  const expected = `one of ${values.map((v) => JSON.stringify(v)).join(', ')}`;
  const parse = (v: unknown): T => {
    if (!values.includes(v as T)) throw new Invalid(`must be ${expected}, got ${show(v)}`);
    return v as T;
  };
  return { expected, fromEnv: parse, fromFile: parse };
}

/** A string kind: the same rules for the environment and the file (where it must be a JSON string). */
function text(expected: string, parse: (s: string, base: string) => string): Kind<string> {
  return {
    expected,
    fromEnv: parse,
    fromFile: (v, base) => {
      if (typeof v !== 'string') throw new Invalid(`must be ${expected}, got ${show(v)}`);
      return parse(v, base);
    },
  };
}

function matching(pattern: RegExp, expected = `a string matching ${pattern.source}`): Kind<string> {
  return text(expected, (s) => {
    if (!pattern.test(s)) throw new Invalid(`must be ${expected}, got ${show(s)}`);
    return s;
  });
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function hostname(expected = 'a host name or IP address'): Kind<string> {
  return text(expected, (s) => {
    if (isIP(s) === 0 && !HOSTNAME.test(s)) throw new Invalid(`must be ${expected}, got ${show(s)}`);
    return s;
  });
}

/** `host:port` (IPv6 in brackets), port 1..65535. */
function hostPort(): Kind<string> {
  const expected = 'host:port (IPv6 as [addr]:port, port 1..65535)';
  return text(expected, (s) => {
    const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):([0-9]{1,5})$/.exec(s);
    const host = m?.[1] ?? m?.[2];
    const ok =
      m !== null &&
      host !== undefined &&
      (m[1] !== undefined ? isIP(host) === 6 : isIP(host) === 4 || HOSTNAME.test(host)) &&
      Number(m[3]) >= 1 &&
      Number(m[3]) <= 65535;
    if (!ok) throw new Invalid(`must be ${expected}, got ${show(s)}`);
    return s;
  });
}

/** A file system path, made absolute. */
function path(): Kind<string> {
  return text('a path', (s, base) => {
    if (s.includes('\0')) throw new Invalid(`must be a path, got ${show(s)}`);
    return resolve(base, s);
  });
}

/** A path to a regular file that exists and is readable now. */
function readableFile(): Kind<string> {
  return {
    ...path(),
    expected: 'a path to a readable file',
    async check(p) {
      try {
        if (!(await fsp.stat(p)).isFile()) throw new Invalid(`${p} is not a regular file`);
        await fsp.access(p, fsConstants.R_OK);
      } catch (e) {
        if (e instanceof Invalid) throw e;
        throw new Invalid(`cannot read ${p}: ${errnoText(e)}`);
      }
    },
  };
}

/** Readable files: a comma-separated list in the environment, an array of strings in the file. */
function readableFiles(): Kind<string[]> {
  const one = readableFile();
  const expected = 'paths to readable files (comma-separated in the environment)';
  return {
    expected,
    fromEnv: (s, base) => s.split(',').map((p) => p.trim()).filter((p) => p !== '').map((p) => one.fromEnv(p, base)),
    fromFile: (v, base) => {
      if (!Array.isArray(v) || !v.every((p) => typeof p === 'string')) throw new Invalid(`must be an array of strings (${expected}), got ${show(v)}`);
      return v.map((p) => one.fromFile(p, base));
    },
    async check(paths) {
      for (const p of paths) await one.check!(p);
    },
  };
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** Why a storage peer multiaddr is unacceptable, or undefined: exactly /ip4/127.x.x.x|/ip6/::1, /tcp/<port>, /p2p/<id>. */
function peerProblem(addr: string): string | undefined {
  let parts;
  try {
    parts = multiaddr(addr).getComponents();
  } catch (e) {
    return `not a multiaddr (${(e as Error).message})`;
  }
  const [ip, tcp, p2p, ...rest] = parts;
  const family = ip?.name === 'ip4' ? 'ipv4' : ip?.name === 'ip6' ? 'ipv6' : undefined;
  if (family === undefined || ip?.value === undefined || !LOOPBACK.check(ip.value, family)) {
    return 'must start with a loopback address (/ip4/127.x.x.x or /ip6/::1)';
  }
  if (tcp?.name !== 'tcp' || tcp.value === '0' || p2p?.name !== 'p2p' || rest.length > 0) {
    return 'must have the form /ip4/127.0.0.1/tcp/<port 1..65535>/p2p/<peer id>';
  }
  try {
    peerIdFromString(p2p.value ?? '');
  } catch {
    return `${show(p2p.value)} is not a peer id`;
  }
  return undefined;
}

/** Storage peers: a comma-separated list in the environment, an array of strings in the file. */
function peers(): Kind<string[]> {
  const expected = 'loopback multiaddrs /ip4/127.0.0.1/tcp/<port>/p2p/<peer id> (or /ip6/::1/…)';
  const parse = (list: string[]): string[] => {
    const problems: string[] = [];
    list.forEach((a, i) => {
      const problem = list.indexOf(a) < i ? 'listed twice' : peerProblem(a);
      if (problem !== undefined) problems.push(`entry ${i} ${show(a)}: ${problem}`);
    });
    if (problems.length > 0) throw new Invalid(problems.join('; '));
    return list;
  };
  return {
    expected,
    fromEnv: (s) => parse(s.split(',').map((a) => a.trim()).filter((a) => a !== '')),
    fromFile: (v) => {
      if (!Array.isArray(v) || !v.every((a) => typeof a === 'string')) {
        throw new Invalid(`must be an array of strings (${expected}), got ${show(v)}`);
      }
      return parse(v);
    },
  };
}

/** NODE_ENV: only "production" means production; any value is accepted. */
const nodeEnv: Kind<boolean> = {
  expected: '"production" or anything else',
  fromEnv: (s) => s === 'production',
  fromFile: () => {
    throw new Invalid('is set by NODE_ENV only');
  },
};

// ---------------------------------------------------------------------------------------------------------------
// The table: one row per NodeConfig setting, in resolution order (a derived default follows what it derives from).

interface Field {
  /** dotted path in NodeConfig and in the config file */
  readonly key: string;
  readonly env: string;
  readonly kind: Kind<unknown>;
  readonly doc: string;
  /** a fixed default, or one computed from settings earlier in the table (undefined when those are invalid) */
  readonly default?: unknown;
  readonly derive?: (ctx: { cwd: string; get(key: string): unknown }) => unknown;
  /** how the README shows a derived default */
  readonly defaultDoc?: string;
  /** only part of the config in this ledger mode */
  readonly ledger?: LedgerMode;
  /** no default: must be given (in its ledger mode) */
  readonly required?: true;
  /** environment only, not accepted in the config file */
  readonly envOnly?: true;
}

/** A default computed from another setting. */
function from<T>(dep: string, f: (v: T) => unknown): NonNullable<Field['derive']> {
  return ({ get }) => {
    const v = get(dep);
    return v === undefined ? undefined : f(v as T);
  };
}

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const FIELDS = [
  { key: 'dataDir', env: 'PIE_DATA_DIR', kind: path(), derive: ({ cwd }) => resolve(cwd, '.pie/node'), defaultDoc: '<cwd>/.pie/node', doc: 'data directory (absolute after resolution)' },
  { key: 'host', env: 'PIE_HOST', kind: hostname(), default: '127.0.0.1', doc: 'GraphQL server listen address' },
  { key: 'port', env: 'PIE_PORT', kind: int(0, 65535), default: 4000, doc: 'GraphQL server port; 0 = any free port' },
  { key: 'organisation', env: 'PIE_ORG', kind: matching(NAME), default: 'Hospital1MSP', doc: "this node's organisation" },
  { key: 'audience', env: 'PIE_AUDIENCE', kind: matching(/^[\x21-\x7e]{1,256}$/, '1..256 printable ASCII characters, no spaces'), derive: from<string>('organisation', (org) => `pie://${org}`), defaultDoc: 'pie://<organisation>', doc: 'the `aud` every bearer token must carry' },
  { key: 'production', env: 'NODE_ENV', kind: nodeEnv, default: false, envOnly: true, doc: 'production mode when "production"' },
  { key: 'logLevel', env: 'PIE_LOG_LEVEL', kind: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), default: 'info', doc: 'log level' },

  { key: 'ledger.mode', env: 'PIE_LEDGER', kind: oneOf(['devnet', 'fabric']), default: 'devnet', doc: 'ledger: the in-process devnet or a Fabric gateway' },
  { key: 'ledger.batchTimeoutMs', env: 'PIE_DEVNET_BATCH_TIMEOUT_MS', kind: int(0, 10_000), default: 0, ledger: 'devnet', doc: 'devnet orderer batch timeout (ms); 0 cuts a block as soon as the committer is free, batching what arrived meanwhile' },
  { key: 'ledger.maxMessageCount', env: 'PIE_DEVNET_MAX_MESSAGE_COUNT', kind: int(1, 10_000), default: 500, ledger: 'devnet', doc: 'devnet orderer transactions per block' },
  { key: 'ledger.port', env: 'PIE_DEVNET_PORT', kind: int(0, 65535), default: 0, ledger: 'devnet', doc: 'devnet gateway port; 0 = any free port' },
  { key: 'ledger.endpoint', env: 'PIE_FABRIC_ENDPOINT', kind: hostPort(), required: true, ledger: 'fabric', doc: 'Fabric gateway peer, host:port' },
  { key: 'ledger.tlsCaCertPath', env: 'PIE_FABRIC_TLS_CA', kind: readableFile(), ledger: 'fabric', doc: "PEM CA certificate of the peer's TLS (absent: plaintext)" },
  { key: 'ledger.tlsServerName', env: 'PIE_FABRIC_TLS_SERVER_NAME', kind: hostname(), ledger: 'fabric', doc: 'TLS server name override' },
  { key: 'ledger.channel', env: 'PIE_FABRIC_CHANNEL', kind: matching(/^[a-z][a-z0-9.-]{0,248}$/), default: 'mychannel', ledger: 'fabric', doc: 'Fabric channel' },
  { key: 'ledger.chaincode', env: 'PIE_FABRIC_CHAINCODE', kind: matching(/^[A-Za-z0-9]+(?:[-_][A-Za-z0-9]+)*$/), default: 'pie', ledger: 'fabric', doc: 'chaincode name' },
  { key: 'ledger.mspId', env: 'PIE_FABRIC_MSP_ID', kind: matching(NAME), derive: from<string>('organisation', (org) => org), defaultDoc: '<organisation>', ledger: 'fabric', doc: "the client identity's MSP id" },
  { key: 'ledger.certPath', env: 'PIE_FABRIC_CERT', kind: readableFile(), required: true, ledger: 'fabric', doc: "PEM certificate of the node's client identity" },
  { key: 'ledger.keyPath', env: 'PIE_FABRIC_KEY', kind: readableFile(), required: true, ledger: 'fabric', doc: "PEM private key of the node's client identity" },

  { key: 'storage.peers', env: 'PIE_STORAGE_PEERS', kind: peers(), default: [], doc: 'storage peers, comma-separated loopback multiaddrs with /tcp/ and /p2p/' },
  { key: 'storage.listenPort', env: 'PIE_STORAGE_PORT', kind: int(0, 65535), doc: 'when set, the Helia node listens on loopback TCP at this port (0 = any)' },

  { key: 'fhirDirectory', env: 'PIE_FHIR_DIRECTORY', kind: readableFiles(), default: [], doc: 'FHIR Bundles of Organizations and Practitioners that conditional references (Practitioner?identifier=…) resolve against' },

  { key: 'limits.maxRequestBytes', env: 'PIE_MAX_REQUEST_BYTES', kind: int(KiB, GiB), default: 16 * MiB + 64 * KiB, doc: 'largest GraphQL JSON body (FHIR bundles are limited to 16 MiB)' },
  { key: 'limits.maxBlobBytes', env: 'PIE_MAX_BLOB_BYTES', kind: int(1, 1024 * GiB), default: 2 * GiB, doc: 'largest uploaded blob' },
  { key: 'limits.maxQueryDepth', env: 'PIE_MAX_QUERY_DEPTH', kind: int(1, 100), default: 12, doc: 'GraphQL query depth limit' },
  { key: 'limits.maxAliases', env: 'PIE_MAX_ALIASES', kind: int(0, 1000), default: 15, doc: 'GraphQL alias limit' },
  { key: 'limits.maxQueryCost', env: 'PIE_MAX_QUERY_COST', kind: int(1, 1_000_000), default: 20_000, doc: 'GraphQL query cost limit (graphql-armor: objects 2, scalars 1, ×1.5 per level; a 5-level record page with authors ≈ 7,500)' },
  { key: 'limits.maxPageSize', env: 'PIE_MAX_PAGE_SIZE', kind: int(1, 100), default: 100, doc: 'largest page of a paginated field' },
  { key: 'limits.draftTtlSeconds', env: 'PIE_DRAFT_TTL_SECONDS', kind: int(1, 86_400), default: 600, doc: 'how long an upload prepared for signing in the author’s client (prepareFhirIngest, prepareCreateEmr) waits for its commit' },
  { key: 'limits.wsMaxSubscriptions', env: 'PIE_WS_MAX_SUBSCRIPTIONS', kind: int(1, 100), default: 10, doc: 'GraphQL over WebSocket (/graphql, graphql-transport-ws): active subscriptions per connection' },
  { key: 'limits.wsMaxMessageBytes', env: 'PIE_WS_MAX_MESSAGE_BYTES', kind: int(KiB, 16 * MiB), default: 64 * KiB, doc: 'GraphQL over WebSocket: largest message a client may send (a larger one closes the connection, 1009)' },
  { key: 'limits.wsKeepAliveMs', env: 'PIE_WS_KEEP_ALIVE_MS', kind: int(0, 300_000), default: 12_000, doc: 'GraphQL over WebSocket: ping interval; a connection that does not answer within it is dropped (ms; 0 = no pings)' },

  { key: 'auth.maxTokenLifetimeSeconds', env: 'PIE_MAX_TOKEN_LIFETIME_SECONDS', kind: int(60, 3600), default: 600, doc: 'longest accepted bearer token lifetime (exp - iat)' },
  { key: 'auth.clockSkewSeconds', env: 'PIE_CLOCK_SKEW_SECONDS', kind: int(0, 300), default: 30, doc: 'tolerated clock skew for token times' },

  { key: 'search.readModel', env: 'PIE_SEARCH_READ_MODEL', kind: bool(), default: true, doc: "the node's read model, built from the ledger's blocks, answers emrs searches and the ledger reads of the sharing flows (false: every search and read evaluates the chaincode)" },
  { key: 'search.readModelWaitMs', env: 'PIE_SEARCH_READ_MODEL_WAIT_MS', kind: int(0, 60_000), default: 2_000, doc: "how long a search or read waits for the read model to reach this node's own last commit before it asks the chaincode instead (ms)" },

  { key: 'custodyKeyFile', env: 'PIE_CUSTODY_KEY_FILE', kind: path(), derive: from<string>('dataDir', (dir) => resolve(dir, 'custody/master.key')), defaultDoc: '<dataDir>/custody/master.key', doc: 'custody master key file' },
  { key: 'proxy.count', env: 'PIE_PROXY_COUNT', kind: int(1, 16), default: 1, doc: "re-encryption proxies this node runs (<organisation>.proxy.1 …): key pairs generated on first start under <dataDir>/proxy/, sealed under the custody master key, registered on the ledger at start; lowering it stops serving the proxies above it" },
  { key: 'proxy.operationTtlSeconds', env: 'PIE_PROXY_OPERATION_TTL_SECONDS', kind: int(1, 3600), default: 300, doc: 'how old a reencrypt operation record may be when the proxies release capsule fragments for it (each operation is served once)' },
  { key: 'shutdownTimeoutMs', env: 'PIE_SHUTDOWN_TIMEOUT_MS', kind: int(0, 600_000), default: 10_000, doc: 'graceful shutdown deadline (ms)' },
] as const satisfies readonly Field[];

// Compile time: the table names every NodeConfig setting and nothing else.
type Leaf = string | number | boolean | readonly unknown[];
type Paths<T, P extends string = ''> = T extends Leaf
  ? P
  : { [K in keyof T & string]-?: Paths<NonNullable<T[K]>, P extends '' ? K : `${P}.${K}`> }[keyof T & string];
type FieldKey = (typeof FIELDS)[number]['key'];
({}) as { missing: Exclude<Paths<NodeConfig>, FieldKey>; extra: Exclude<FieldKey, Paths<NodeConfig>> } satisfies { missing: never; extra: never };

const TABLE: readonly Field[] = FIELDS;
const CONFIG_FILE_VAR = 'PIE_CONFIG';
const FILE_KEYS = new Set(TABLE.filter((f) => !f.envOnly).map((f) => f.key));
const FILE_GROUPS = new Set([...FILE_KEYS].filter((k) => k.includes('.')).map((k) => k.slice(0, k.lastIndexOf('.'))));

export interface EnvVar {
  readonly name: string;
  /** the NodeConfig / config file key it sets (null for PIE_CONFIG) */
  readonly key: string | null;
  readonly expected: string;
  /** the default as the README shows it, null when there is none */
  readonly default: string | null;
  readonly description: string;
}

function showDefault(f: Field): string | null {
  if (f.defaultDoc !== undefined) return f.defaultDoc;
  if (f.default === undefined) return f.required ? null : '(unset)';
  return Array.isArray(f.default) ? (f.default.length === 0 ? '(none)' : f.default.join(',')) : String(f.default);
}

/** Every environment variable the node reads, for the README. */
export const ENV_VARS: readonly EnvVar[] = Object.freeze([
  { name: CONFIG_FILE_VAR, key: null, expected: 'a path (relative to the working directory)', default: '(none)', description: 'JSON config file with the nested shape of NodeConfig; environment variables override it' },
  ...TABLE.map((f) => ({
    name: f.env,
    key: f.key,
    expected: f.kind.expected,
    default: showDefault(f),
    description: f.ledger === undefined ? f.doc : `${f.doc} (ledger mode "${f.ledger}"${f.required ? ', required' : ''})`,
  })),
]);

// ---------------------------------------------------------------------------------------------------------------
// Loading

interface Setting {
  value: unknown;
  origin: 'default' | 'file' | 'env';
  /** where the value came from, prefixed to its issues */
  label: string;
}

interface ConfigFile {
  label: string;
  dir: string;
  values: Map<string, unknown>;
}

/**
 * Loads and validates the configuration. Throws a ConfigError listing every problem; the result is deeply frozen.
 */
export async function loadNodeConfig(
  opts: { env?: Record<string, string | undefined>; cwd?: string } = {},
): Promise<NodeConfig> {
  const env = opts.env ?? process.env;
  const cwd = resolve(opts.cwd ?? process.cwd());
  const issues: string[] = [];
  const envValue = (name: string): string | undefined => (env[name] === '' ? undefined : env[name]);

  const configPath = envValue(CONFIG_FILE_VAR);
  const file = configPath === undefined ? undefined : await readConfigFile(resolve(cwd, configPath), issues);

  const settings = new Map<string, Setting>();
  /** settings given with an invalid value: no "required" issue and no derived defaults for them */
  const invalid = new Set<string>();
  const attempt = (f: Field, origin: Setting['origin'], label: string, parse: () => unknown): Setting | undefined => {
    try {
      return { value: parse(), origin, label };
    } catch (e) {
      if (!(e instanceof Invalid)) throw e;
      issues.push(`${label}: ${e.message}`);
      invalid.add(f.key);
      return undefined;
    }
  };

  for (const f of TABLE) {
    // The file's value is validated even when the environment overrides it: all of the file's problems show.
    const fromFile =
      file?.values.has(f.key) ?
        attempt(f, 'file', `${file.label}: ${f.key}`, () => f.kind.fromFile(file.values.get(f.key), file.dir))
      : undefined;
    const raw = envValue(f.env);
    const fromEnv = raw === undefined ? undefined : attempt(f, 'env', f.env, () => f.kind.fromEnv(raw, cwd));
    let setting: Setting | undefined;
    if (raw !== undefined) setting = fromEnv;
    else if (file?.values.has(f.key)) setting = fromFile;
    else {
      const value = f.derive ? f.derive({ cwd, get: (k) => settings.get(k)?.value }) : f.default;
      if (value !== undefined) setting = { value, origin: 'default', label: `default ${f.key}` };
    }
    if (setting !== undefined) settings.set(f.key, setting);
  }

  checkLedgerMode(settings, invalid, file?.label, issues);

  // File system checks, in parallel, for the settings in effect; issues keep table order.
  const checks = await Promise.all(
    TABLE.map(async (f) => {
      const s = settings.get(f.key);
      if (s === undefined || f.kind.check === undefined) return undefined;
      try {
        await f.kind.check(s.value);
        return undefined;
      } catch (e) {
        if (!(e instanceof Invalid)) throw e;
        return `${s.label}: ${e.message}`;
      }
    }),
  );
  issues.push(...checks.filter((m) => m !== undefined));

  if (issues.length > 0) throw new ConfigError(issues);
  const config: Record<string, unknown> = {};
  for (const [key, { value }] of settings) setPath(config, key, value);
  return deepFreeze(config) as unknown as NodeConfig;
}

/** Drops the settings of the ledger mode not in use and reports missing required ones. */
function checkLedgerMode(settings: Map<string, Setting>, invalid: Set<string>, fileLabel: string | undefined, issues: string[]): void {
  const mode = settings.get('ledger.mode');
  for (const f of TABLE) {
    if (f.ledger === undefined) continue;
    const s = settings.get(f.key);
    if (mode === undefined) {
      settings.delete(f.key); // the mode itself is invalid (already reported)
    } else if (f.ledger !== mode.value) {
      if (s !== undefined && s.origin !== 'default' && mode.origin === 'default') {
        issues.push(`${s.label}: only applies when ledger.mode is "${f.ledger}", but ledger.mode is "${String(mode.value)}" by default (set PIE_LEDGER or ledger.mode)`);
      }
      settings.delete(f.key);
    } else if (f.required && s === undefined && !invalid.has(f.key)) {
      issues.push(
        mode.origin === 'file' ?
          `${fileLabel}: ${f.key}: required when ledger.mode is "${f.ledger}" (or set ${f.env})`
        : `${f.env}: required when PIE_LEDGER is "${f.ledger}" (or set ${f.key} in the config file)`,
      );
    }
  }
}

/** Reads the JSON config file into dotted keys; unreadable files, bad JSON and unknown keys become issues. */
async function readConfigFile(path: string, issues: string[]): Promise<ConfigFile | undefined> {
  const label = `config file ${path}`;
  let text: string;
  try {
    text = await fsp.readFile(path, 'utf8');
  } catch (e) {
    issues.push(`${CONFIG_FILE_VAR}: cannot read config file ${path}: ${errnoText(e)}`);
    return undefined;
  }
  let json: unknown;
  try {
    json = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    issues.push(`${label}: not valid JSON: ${(e as Error).message}`);
    return undefined;
  }
  if (!isPlainObject(json)) {
    issues.push(`${label}: must be a JSON object, got ${Array.isArray(json) ? 'an array' : show(json)}`);
    return undefined;
  }
  const values = new Map<string, unknown>();
  const walk = (obj: Record<string, unknown>, prefix: string): void => {
    for (const [k, v] of Object.entries(obj)) {
      const key = prefix === '' ? k : `${prefix}.${k}`;
      if (k.includes('.')) issues.push(`${label}: ${key}: unknown key (nest objects instead of dotted keys)`);
      else if (FILE_KEYS.has(key)) values.set(key, v);
      else if (!FILE_GROUPS.has(key)) issues.push(`${label}: ${key}: unknown key${unknownKeyHint(key)}`);
      else if (isPlainObject(v)) walk(v, key);
      else issues.push(`${label}: ${key}: must be an object, got ${show(v)}`);
    }
  };
  walk(json, '');
  return { label, dir: dirname(path), values };
}

/** " (did you mean …?)" for a near-miss of a known key at the same level. */
function unknownKeyHint(key: string): string {
  const envOnly = TABLE.find((f) => f.envOnly && f.key === key);
  if (envOnly) return ` (${key} is set by ${envOnly.env} only)`;
  const cut = key.lastIndexOf('.');
  const prefix = key.slice(0, cut + 1);
  const name = key.slice(cut + 1).toLowerCase();
  let best: string | undefined;
  let bestDistance = 3; // suggest only within 2 edits
  for (const known of [...FILE_KEYS, ...FILE_GROUPS]) {
    if (!known.startsWith(prefix) || known.slice(prefix.length).includes('.')) continue;
    const d = editDistance(name, known.slice(prefix.length).toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [known, d];
  }
  return best === undefined ? '' : ` (did you mean "${best}"?)`;
}

function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    row = next;
  }
  return row[b.length]!;
}

function errnoText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  return (
    code === 'ENOENT' ? 'no such file'
    : code === 'EACCES' || code === 'EPERM' ? 'permission denied'
    : code === 'EISDIR' ? 'is a directory'
    : (e as Error).message
  );
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function setPath(target: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  const last = parts.pop()!;
  let obj = target;
  for (const p of parts) obj = (obj[p] ??= {}) as Record<string, unknown>;
  obj[last] = value;
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null) {
    for (const child of Object.values(v)) deepFreeze(child);
    Object.freeze(v);
  }
  return v;
}

/** A log-safe summary of the configuration: settings and paths, never secrets or key contents. */
export function describeConfig(config: NodeConfig): Record<string, unknown> {
  const { ledger } = config;
  return {
    dataDir: config.dataDir,
    host: config.host,
    port: config.port,
    organisation: config.organisation,
    audience: config.audience,
    production: config.production,
    logLevel: config.logLevel,
    ledger:
      ledger.mode === 'devnet' ?
        { mode: ledger.mode, batchTimeoutMs: ledger.batchTimeoutMs, maxMessageCount: ledger.maxMessageCount, port: ledger.port }
      : {
          mode: ledger.mode,
          endpoint: ledger.endpoint,
          tls: ledger.tlsCaCertPath !== undefined,
          tlsServerName: ledger.tlsServerName,
          channel: ledger.channel,
          chaincode: ledger.chaincode,
          mspId: ledger.mspId,
          certPath: ledger.certPath,
          keyPath: ledger.keyPath,
        },
    storage: { peers: [...config.storage.peers], listenPort: config.storage.listenPort },
    fhirDirectory: [...config.fhirDirectory],
    limits: { ...config.limits },
    auth: { ...config.auth },
    search: { ...config.search },
    custodyKeyFile: config.custodyKeyFile,
    proxy: { ...config.proxy },
    shutdownTimeoutMs: config.shutdownTimeoutMs,
  };
}
