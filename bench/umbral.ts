// Benchmark: PIE's pure-TypeScript Umbral (src/crypto/umbral) against umbral-pre 0.10's WASM build
// (@nucypher/umbral-pre, GPL, devDependency: used here only as a reference), measured in the same process,
// interleaved: for every operation, rounds alternate ours/WASM (the order flips each round) and the medians
// are reported.
//
//   npm run bench:umbral                      (= tsc -p tsconfig.build.json && node --expose-gc dist/bench/umbral.js)
//   node --expose-gc dist/bench/umbral.js --quick
//   node --expose-gc dist/bench/umbral.js --only=encrypt,reencrypt
//
// Inputs that are public keys are fresh objects for every operation unless the row says "reused", so a
// per-PublicKey-object precomputation cache cannot flatter the main rows; the "(reused PublicKey)" row shows
// the cached case separately.
import os from 'node:os';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import * as ours from '../src/crypto/umbral/index.js';

const require = createRequire(import.meta.url);
const wasm = require('@nucypher/umbral-pre') as typeof import('@nucypher/umbral-pre');

const args = process.argv.slice(2);
const QUICK = args.includes('--quick');
const ONLY = args.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',').filter(Boolean);
const ROUNDS = QUICK ? 3 : 7; // rounds per implementation; medians are reported
const WINDOW_MS = QUICK ? 120 : 350; // timed window per round
const WARMUP_MS = QUICK ? 60 : 150;
const TARGET_RATIO = 3.0;

const gc = (globalThis as { gc?: () => void }).gc;
const rnd = (n: number): Uint8Array => {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(b.subarray(i, Math.min(n, i + 65536)));
  return b;
};

/** One implementation of one operation. `prepare(n)` runs untimed before each window (n = expected iterations). */
interface Impl {
  prepare?: (n: number) => void;
  run: (i: number) => void;
}
interface Op {
  name: string;
  note?: string;
  ours: Impl;
  wasm: Impl;
}

// ---------------------------------------------------------------------------------------------------------
// Fixtures (the same key material on both sides)
// ---------------------------------------------------------------------------------------------------------
const skABytes = wasm.SecretKey.random().toBEBytes();
const skBBytes = wasm.SecretKey.random().toBEBytes();
const skSBytes = wasm.SecretKey.random().toBEBytes();

const O = {
  skA: ours.SecretKey.fromBEBytes(skABytes),
  skB: ours.SecretKey.fromBEBytes(skBBytes),
  signer: new ours.Signer(ours.SecretKey.fromBEBytes(skSBytes)),
};
const Wk = {
  skA: wasm.SecretKey.fromBEBytes(skABytes),
  skB: wasm.SecretKey.fromBEBytes(skBBytes),
  signer: new wasm.Signer(wasm.SecretKey.fromBEBytes(skSBytes)),
};
const oPkA = O.skA.publicKey();
const oPkB = O.skB.publicKey();
const oVk = O.signer.verifyingKey();
const wPkA = Wk.skA.publicKey();
const wPkB = Wk.skB.publicKey();
const wVk = Wk.signer.verifyingKey();

const DEK = rnd(32);
// Capsules/ciphertexts made once by WASM and shared (as bytes) by both sides.
const [wCapsule, ct32] = wasm.encrypt(wPkA, DEK);
const capsuleBytes = wCapsule.toBytes();
const oCapsule = ours.Capsule.fromBytes(capsuleBytes);
const CAPSULE_POOL = Array.from({ length: 32 }, () => {
  const [c, ct] = wasm.encrypt(wPkA, DEK);
  const b = c.toBytes();
  c.free();
  return { b, ct };
});

// A pool of distinct public keys (bytes) to build fresh PublicKey objects from.
const PK_POOL_SIZE = QUICK ? 256 : 1024;
const PK_POOL: Uint8Array[] = Array.from({ length: PK_POOL_SIZE }, () => {
  const sk = wasm.SecretKey.random();
  const pk = sk.publicKey();
  const b = pk.toCompressedBytes();
  pk.free();
  sk.free();
  return b;
});

// kfrags (both flags set: the most verification work) made by WASM; cfrags from them.
const wKfrags23 = wasm.generateKFrags(Wk.skA, wPkB, Wk.signer, 2, 3, true, true);
const wKfrags35 = wasm.generateKFrags(Wk.skA, wPkB, Wk.signer, 3, 5, true, true);
const kfragBytes = wKfrags23[0]!.toBytes();
const oVKfrag = ours.KeyFrag.fromBytes(kfragBytes).verify(oVk, oPkA, oPkB);
const wVKfrag = wKfrags23[0]!;
const cfrag23Bytes = wKfrags23.map((k) => wasm.reencrypt(wCapsule, k).toBytes());
const cfrag35Bytes = wKfrags35.map((k) => wasm.reencrypt(wCapsule, k).toBytes());
const oCfrags23 = cfrag23Bytes.map((b) => ours.CapsuleFrag.fromBytes(b).verify(oCapsule, oVk, oPkA, oPkB));
const oCfrags35 = cfrag35Bytes.map((b) => ours.CapsuleFrag.fromBytes(b).verify(oCapsule, oVk, oPkA, oPkB));
const wCfrags23 = cfrag23Bytes.map((b) => wasm.CapsuleFrag.fromBytes(b).verify(wCapsule, wVk, wPkA, wPkB));
const wCfrags35 = cfrag35Bytes.map((b) => wasm.CapsuleFrag.fromBytes(b).verify(wCapsule, wVk, wPkA, wPkB));

// Sanity: both sides decrypt the shared fixtures (a broken build must not produce a pretty table).
{
  const a = ours.decryptReencrypted(O.skB, oPkA, oCapsule, [oCfrags23[0]!, oCfrags23[1]!], ct32);
  const b = wasm.decryptReencrypted(Wk.skB, wPkA, wCapsule, [wCfrags23[0]!, wCfrags23[1]!], ct32);
  const c = ours.decryptReencrypted(O.skB, oPkA, oCapsule, [oCfrags35[0]!, oCfrags35[2]!, oCfrags35[4]!], ct32);
  if (Buffer.compare(Buffer.from(a), Buffer.from(DEK)) !== 0 || Buffer.compare(Buffer.from(b), Buffer.from(DEK)) !== 0 || Buffer.compare(Buffer.from(c), Buffer.from(DEK)) !== 0) {
    throw new Error('fixture sanity check failed: decryptReencrypted did not return the DEK');
  }
}

/**
 * Fresh objects for the next window, built untimed. A plain pool cycles if a window runs longer than expected;
 * a `consumable` pool (WASM's verify() consumes its receiver) builds extra objects on the fly instead.
 */
function freshPool<T>(make: (i: number) => T, dispose?: (t: T) => void, consumable = false) {
  let items: T[] = [];
  const extra: T[] = [];
  return {
    prepare(n: number): void {
      if (dispose) for (const t of [...items, ...extra]) dispose(t);
      extra.length = 0;
      const count = consumable ? Math.ceil(n * 2) + 64 : Math.max(16, Math.min(PK_POOL_SIZE, Math.ceil(n * 1.5)));
      items = Array.from({ length: count }, (_, i) => make(i));
    },
    get(i: number): T {
      if (i < items.length) return items[i]!;
      if (!consumable) return items[i % items.length]!;
      const t = make(i);
      extra.push(t);
      return t;
    },
  };
}
const freeQuietly = (o: { free(): void }): void => {
  try {
    o.free();
  } catch {
    /* already consumed (moved into WASM) */
  }
};

// ---------------------------------------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------------------------------------
const oFreshPk = freshPool((i) => ours.PublicKey.fromBytes(PK_POOL[i % PK_POOL_SIZE]!));
const wFreshPk = freshPool(
  (i) => wasm.PublicKey.fromCompressedBytes(PK_POOL[i % PK_POOL_SIZE]!),
  (p) => p.free(),
);
const oFreshPkB = freshPool((i) => ours.PublicKey.fromBytes(PK_POOL[(i + 7) % PK_POOL_SIZE]!));
const wFreshPkB = freshPool(
  (i) => wasm.PublicKey.fromCompressedBytes(PK_POOL[(i + 7) % PK_POOL_SIZE]!),
  (p) => p.free(),
);

let sink = 0; // keeps results observable
const ops: Op[] = [
  {
    name: 'SecretKey.random + publicKey',
    ours: { run: () => (sink ^= ours.SecretKey.random().publicKey().toBytes()[1]!) },
    wasm: {
      run: () => {
        const sk = wasm.SecretKey.random();
        const pk = sk.publicKey();
        sink ^= pk.toCompressedBytes()[1]!;
        pk.free();
        sk.free();
      },
    },
  },
  {
    name: 'encrypt 32 B (fresh PublicKey)',
    note: 'a new PublicKey object per op',
    ours: {
      prepare: (n) => oFreshPk.prepare(n),
      run: (i) => {
        const [, ct] = ours.encrypt(oFreshPk.get(i), DEK);
        sink ^= ct[0]!;
      },
    },
    wasm: {
      prepare: (n) => wFreshPk.prepare(n),
      run: (i) => {
        const [c, ct] = wasm.encrypt(wFreshPk.get(i), DEK);
        sink ^= ct[0]!;
        c.free();
      },
    },
  },
  {
    name: 'encrypt 32 B (REUSED PublicKey)',
    note: 'the same PublicKey object every op (per-key caches allowed)',
    ours: {
      run: () => {
        const [, ct] = ours.encrypt(oPkA, DEK);
        sink ^= ct[0]!;
      },
    },
    wasm: {
      run: () => {
        const [c, ct] = wasm.encrypt(wPkA, DEK);
        sink ^= ct[0]!;
        c.free();
      },
    },
  },
  {
    name: 'decryptOriginal (32 B)',
    ours: { run: () => (sink ^= ours.decryptOriginal(O.skA, oCapsule, ct32)[0]!) },
    wasm: { run: () => (sink ^= wasm.decryptOriginal(Wk.skA, wCapsule, ct32)[0]!) },
  },
  {
    name: 'generateKFrags 2-of-3',
    note: 'fresh receiving PublicKey per op; both flags set',
    ours: {
      prepare: (n) => oFreshPkB.prepare(n),
      run: (i) => (sink ^= ours.generateKFrags(O.skA, oFreshPkB.get(i), O.signer, 2, 3, true, true).length),
    },
    wasm: {
      prepare: (n) => wFreshPkB.prepare(n),
      run: (i) => {
        const ks = wasm.generateKFrags(Wk.skA, wFreshPkB.get(i), Wk.signer, 2, 3, true, true);
        sink ^= ks.length;
        for (const k of ks) k.free();
      },
    },
  },
  {
    name: 'generateKFrags 3-of-5',
    note: 'fresh receiving PublicKey per op; both flags set',
    ours: {
      prepare: (n) => oFreshPkB.prepare(n),
      run: (i) => (sink ^= ours.generateKFrags(O.skA, oFreshPkB.get(i), O.signer, 3, 5, true, true).length),
    },
    wasm: {
      prepare: (n) => wFreshPkB.prepare(n),
      run: (i) => {
        const ks = wasm.generateKFrags(Wk.skA, wFreshPkB.get(i), Wk.signer, 3, 5, true, true);
        sink ^= ks.length;
        for (const k of ks) k.free();
      },
    },
  },
  (() => {
    const oK = freshPool(() => ours.KeyFrag.fromBytes(kfragBytes), undefined, true);
    const wK = freshPool(() => wasm.KeyFrag.fromBytes(kfragBytes), freeQuietly, true);
    return {
      name: 'KeyFrag.verify (both keys signed)',
      note: 'fresh parsed KeyFrag per op (parse untimed)',
      ours: { prepare: (n) => oK.prepare(n), run: (i) => (sink ^= oK.get(i).verify(oVk, oPkA, oPkB).toBytes()[0]!) },
      // WASM's verify consumes the KeyFrag, so every op needs its own object (built untimed).
      wasm: {
        prepare: (n) => wK.prepare(n),
        run: (i) => {
          const v = wK.get(i).verify(wVk, wPkA, wPkB);
          sink ^= 1;
          v.free();
        },
      },
    } satisfies Op;
  })(),
  (() => {
    const oC = freshPool((i) => ours.Capsule.fromBytes(CAPSULE_POOL[i % CAPSULE_POOL.length]!.b));
    const wC = freshPool(
      (i) => wasm.Capsule.fromBytes(CAPSULE_POOL[i % CAPSULE_POOL.length]!.b),
      (c) => c.free(),
    );
    return {
      name: 'reencrypt',
      ours: { prepare: (n) => oC.prepare(n), run: (i) => (sink ^= ours.reencrypt(oC.get(i), oVKfrag).toBytes()[0]!) },
      wasm: {
        prepare: (n) => wC.prepare(n),
        run: (i) => {
          const cf = wasm.reencrypt(wC.get(i), wVKfrag);
          sink ^= 1;
          cf.free();
        },
      },
    } satisfies Op;
  })(),
  (() => {
    const oF = freshPool((i) => ours.CapsuleFrag.fromBytes(cfrag23Bytes[i % 3]!), undefined, true);
    const wF = freshPool((i) => wasm.CapsuleFrag.fromBytes(cfrag23Bytes[i % 3]!), freeQuietly, true);
    return {
      name: 'CapsuleFrag.verify',
      note: 'fresh parsed CapsuleFrag per op (parse untimed)',
      ours: { prepare: (n) => oF.prepare(n), run: (i) => (sink ^= oF.get(i).verify(oCapsule, oVk, oPkA, oPkB).toBytes()[0]!) },
      wasm: {
        prepare: (n) => wF.prepare(n),
        run: (i) => {
          const v = wF.get(i).verify(wCapsule, wVk, wPkA, wPkB);
          sink ^= 1;
          v.free();
        },
      },
    } satisfies Op;
  })(),
  {
    name: 'decryptReencrypted (2 cfrags)',
    ours: { run: () => (sink ^= ours.decryptReencrypted(O.skB, oPkA, oCapsule, [oCfrags23[0]!, oCfrags23[2]!], ct32)[0]!) },
    wasm: { run: () => (sink ^= wasm.decryptReencrypted(Wk.skB, wPkA, wCapsule, [wCfrags23[0]!, wCfrags23[2]!], ct32)[0]!) },
  },
  {
    name: 'decryptReencrypted (3 cfrags)',
    ours: {
      run: () => (sink ^= ours.decryptReencrypted(O.skB, oPkA, oCapsule, [oCfrags35[0]!, oCfrags35[2]!, oCfrags35[4]!], ct32)[0]!),
    },
    wasm: {
      run: () =>
        (sink ^= wasm.decryptReencrypted(Wk.skB, wPkA, wCapsule, [wCfrags35[0]!, wCfrags35[2]!, wCfrags35[4]!], ct32)[0]!),
    },
  },
  {
    name: 'Capsule.fromBytes (checks proof)',
    ours: { run: (i) => (sink ^= ours.Capsule.fromBytes(CAPSULE_POOL[i % CAPSULE_POOL.length]!.b).toBytes()[0]!) },
    wasm: {
      run: (i) => {
        const c = wasm.Capsule.fromBytes(CAPSULE_POOL[i % CAPSULE_POOL.length]!.b);
        sink ^= 1;
        c.free();
      },
    },
  },
  {
    name: 'CapsuleFrag.fromBytes',
    ours: { run: (i) => (sink ^= ours.CapsuleFrag.fromBytes(cfrag23Bytes[i % 3]!).toBytes()[0]!) },
    wasm: {
      run: (i) => {
        const c = wasm.CapsuleFrag.fromBytes(cfrag23Bytes[i % 3]!);
        sink ^= 1;
        c.free();
      },
    },
  },
];

// ---------------------------------------------------------------------------------------------------------
// Runner
// ---------------------------------------------------------------------------------------------------------
/** Runs impl for ~ms milliseconds; returns ops/s. */
function timed(impl: Impl, ms: number, expectedOps: number): number {
  impl.prepare?.(expectedOps);
  gc?.();
  let n = 0;
  const start = performance.now();
  const end = start + ms;
  let now = start;
  do {
    impl.run(n++);
    now = performance.now();
  } while (now < end);
  return (n * 1000) / (now - start);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

interface Row {
  op: string;
  oursOps: number;
  wasmOps: number;
  ratio: number; // ours time / WASM time = WASM ops/s / ours ops/s
  oursSpread: [number, number];
  wasmSpread: [number, number];
  note?: string;
}

function measure(op: Op): Row {
  // warm-up (JIT, lazy tables) — both sides
  let oGuess = timed(op.ours, WARMUP_MS, 64);
  let wGuess = timed(op.wasm, WARMUP_MS, 64);
  const o: number[] = [];
  const w: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const oursFirst = r % 2 === 0;
    const runO = () => o.push(timed(op.ours, WINDOW_MS, (oGuess * WINDOW_MS) / 1000));
    const runW = () => w.push(timed(op.wasm, WINDOW_MS, (wGuess * WINDOW_MS) / 1000));
    if (oursFirst) {
      runO();
      runW();
    } else {
      runW();
      runO();
    }
    oGuess = o[o.length - 1]!;
    wGuess = w[w.length - 1]!;
  }
  const oursOps = median(o);
  const wasmOps = median(w);
  const row: Row = {
    op: op.name,
    oursOps,
    wasmOps,
    ratio: wasmOps / oursOps,
    oursSpread: [Math.min(...o), Math.max(...o)],
    wasmSpread: [Math.min(...w), Math.max(...w)],
  };
  if (op.note) row.note = op.note;
  return row;
}

const fmt = (x: number): string => (x >= 100 ? x.toFixed(0) : x.toFixed(1));

function main(): void {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const machine = {
    cpu,
    cores: os.cpus().length,
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    mode: QUICK ? 'quick' : 'full',
    rounds: ROUNDS,
    windowMs: WINDOW_MS,
    gc: gc ? 'between windows' : 'not exposed (run with --expose-gc)',
  };
  console.log(`Umbral benchmark — PIE pure TS vs @nucypher/umbral-pre 0.10.0 (WASM), interleaved, median of ${ROUNDS} rounds × ${WINDOW_MS} ms`);
  console.log(`machine: ${cpu}, ${machine.cores} cores, Node ${process.version}, ${machine.platform}; gc ${machine.gc}`);
  console.log('');

  const selected = ONLY ? ops.filter((op) => ONLY.some((s) => op.name.toLowerCase().includes(s.toLowerCase()))) : ops;
  const rows: Row[] = [];
  const t0 = performance.now();
  const W0 = 34;
  const header = `${'op'.padEnd(W0)} ${'ours ops/s'.padStart(11)} ${'WASM ops/s'.padStart(11)} ${'ours/WASM time'.padStart(15)}  ${'ok≤' + TARGET_RATIO.toFixed(1)}`;
  console.log(header);
  console.log('-'.repeat(header.length + 2));
  for (const op of selected) {
    const row = measure(op);
    rows.push(row);
    console.log(
      `${row.op.padEnd(W0)} ${fmt(row.oursOps).padStart(11)} ${fmt(row.wasmOps).padStart(11)} ${row.ratio.toFixed(2).padStart(15)}  ${row.ratio <= TARGET_RATIO ? 'yes' : 'NO'}`,
    );
  }
  const elapsed = (performance.now() - t0) / 1000;
  console.log('');
  for (const r of rows) if (r.note) console.log(`  ${r.op}: ${r.note}`);
  console.log(`  ratio = ours time per op / WASM time per op (= WASM ops/s ÷ ours ops/s); target ≤ ${TARGET_RATIO.toFixed(1)}`);
  const worst = rows.reduce((a, b) => (b.ratio > a.ratio ? b : a), rows[0]!);
  const failing = rows.filter((r) => r.ratio > TARGET_RATIO).map((r) => r.op);
  console.log(`  worst ratio: ${worst ? `${worst.ratio.toFixed(2)} (${worst.op})` : 'n/a'}; rows over target: ${failing.length ? failing.join(', ') : 'none'}`);
  console.log(`  measured in ${elapsed.toFixed(1)} s (sink ${sink & 1})`);
  console.log(
    JSON.stringify({
      bench: 'umbral',
      machine,
      targetRatio: TARGET_RATIO,
      allWithinTarget: failing.length === 0,
      rows: rows.map((r) => ({
        op: r.op,
        oursOpsPerSec: Math.round(r.oursOps * 10) / 10,
        wasmOpsPerSec: Math.round(r.wasmOps * 10) / 10,
        ratio: Math.round(r.ratio * 100) / 100,
        oursRange: r.oursSpread.map((x) => Math.round(x)),
        wasmRange: r.wasmSpread.map((x) => Math.round(x)),
        ...(r.note ? { note: r.note } : {}),
      })),
    }),
  );
}

main();
