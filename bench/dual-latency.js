// Latency (p50/p99) and throughput of the dual store in each mode against the bare old store, on
// memory and SQLite backends. Calls are issued one at a time (a request path), so the figures are
// what a caller waits for; background shadow reads still compete for the same CPU.
//
//   npm run build && node bench/dual-latency.js [--ops 20000] [--rounds 7] [--json] [--no-postgres]
//
// PostgreSQL: CUTOVER_TEST_POSTGRES_URL or postgres://postgres@127.0.0.1:5432/test, in schemas of its own
// that are dropped afterwards.
//
// Plain ESM over ../dist so it runs on Node 20 without a TypeScript loader.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryStore } from '../dist/drivers/memory.js';
import { openStore } from '../dist/drivers/index.js';
import { createDualStore } from '../dist/dual/index.js';

const args = process.argv.slice(2);
const argOf = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const OPS = argOf('--ops', 20000);
const KEYS = 10_000;
const COLLECTION = 'bench';

const MODES = [
  { mode: 'old-only' },
  { mode: 'write-through' },
  { mode: 'write-through', ackAfterPrimary: true },
  { mode: 'shadow' },
  { mode: 'read-validation' },
  { mode: 'progressive', readPercent: 50 },
  { mode: 'canary', canary: ['bench:k1*'] },
  { mode: 'new-primary' },
];

const value = (i) => JSON.stringify({ id: i, name: `user ${i}`, tags: ['a', 'b'], score: i * 1.5, active: i % 2 === 0 });

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function measure(store, op, n) {
  const lat = new Float64Array(n);
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const k = `k${(i * 7919) % KEYS}`;
    const t0 = process.hrtime.bigint();
    if (op === 'get') await store.getMany(COLLECTION, [k]);
    else await store.putMany(COLLECTION, [{ key: k, value: value(i) }]);
    lat[i] = Number(process.hrtime.bigint() - t0) / 1000; // microseconds
    // Let background work (shadow reads) run between calls, as it does between a server's requests.
    // Not timed, but counted in the throughput.
    await new Promise((r) => setImmediate(r));
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const sorted = Array.from(lat).sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), opsPerSec: n / seconds };
}

async function preload(store) {
  const records = Array.from({ length: KEYS }, (_, i) => ({ key: `k${i}`, value: value(i) }));
  for (let i = 0; i < records.length; i += 1000) await store.putMany(COLLECTION, records.slice(i, i + 1000));
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * The machine is shared, so each mode is measured in ROUNDS interleaved pairs (bare old store, then
 * dual store, same op and size); the overhead is the median of the per-pair p50 ratios, which
 * cancels most of the drift a sequential "all bare, then all dual" run would show.
 */
const ROUNDS = argOf('--rounds', 7);

/** The middle half (25th..75th percentile) of the per-pair ratios: how much the overhead moved between pairs. */
function middleHalf(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return [s[Math.floor((s.length - 1) / 4)], s[Math.ceil((3 * (s.length - 1)) / 4)]];
}

async function backend(name, make, ops) {
  const rows = [];
  const { old, neu, cleanup } = await make();
  await preload(old);
  await preload(neu);
  const perRound = (op) => Math.max(50, Math.floor(ops[op] / ROUNDS));
  // Shadow reads against an in-process new store: the old store's server then does exactly the work
  // it does without the dual store, which separates the dual store's own cost on the caller's path
  // from the load a second query adds to a shared server.
  const memoryNew = createMemoryStore();
  const configs = [...MODES, ...(name === 'memory' ? [] : [{ mode: 'shadow', newStore: memoryNew, note: ' (new = memory)' }])];
  for (const flags of configs) {
    const { ackAfterPrimary, newStore, note, ...flagsOnly } = flags;
    const dual = createDualStore({ old, new: newStore ?? neu, flags: flagsOnly, closeStores: false, ackAfterPrimary });
    const label = flags.mode + (flags.readPercent !== undefined ? ` ${flags.readPercent}%` : '') + (ackAfterPrimary ? ' (ackAfterPrimary)' : '') + (note ?? '');
    if (newStore) {
      // Start the in-process copy from the old store's current data, so it compares equal.
      for await (const batch of old.scan(COLLECTION, { batchSize: 1000 })) await newStore.putMany(COLLECTION, batch.records);
    }
    for (const op of ['get', 'put']) {
      const n = perRound(op);
      await measure(old, op, Math.min(1000, n));
      await measure(dual, op, Math.min(1000, n));
      const bare = [];
      const withDual = [];
      for (let r = 0; r < ROUNDS; r++) {
        bare.push(await measure(old, op, n));
        withDual.push(await measure(dual, op, n));
      }
      rows.push({
        backend: name, mode: label, op, opsPerRound: n, rounds: ROUNDS,
        bareP50: median(bare.map((x) => x.p50)), dualP50: median(withDual.map((x) => x.p50)),
        bareP99: median(bare.map((x) => x.p99)), dualP99: median(withDual.map((x) => x.p99)),
        bareOpsPerSec: median(bare.map((x) => x.opsPerSec)), dualOpsPerSec: median(withDual.map((x) => x.opsPerSec)),
        p50Overhead: median(bare.map((b, i) => withDual[i].p50 / b.p50 - 1)),
        p50OverheadMiddleHalf: middleHalf(bare.map((b, i) => withDual[i].p50 / b.p50 - 1)),
      });
    }
    await dual.close();
    if (flags.mode === 'shadow') {
      const name2 = `${name}${note ?? ''}`;
      const text = await dual.metricsText();
      const done = Number(/_count\{backend="new",op="shadow-get"\} (\d+)/.exec(text)?.[1] ?? 0);
      const skipped = [...text.matchAll(/cutover_dual_shadow_skipped_total\{reason="([^"]+)"\} (\d+)/g)].map((m) => `${m[1]} ${m[2]}`);
      notes.push(`${name2} shadow: ${done} shadow reads compared${skipped.length ? `, skipped: ${skipped.join(', ')}` : ''}; discrepancies ${dual.discrepancyReport().total}`);
    }
  }
  await old.close();
  await neu.close();
  await cleanup();
  return rows;
}

const notes = [];
const results = [
  ...(await backend('memory', async () => ({ old: createMemoryStore(), neu: createMemoryStore(), cleanup: () => {} }), { get: OPS, put: OPS })),
  ...(await backend('sqlite', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cutover-bench-dual-'));
    const old = await openStore(`sqlite:${join(dir, 'old.db')}`);
    const neu = await openStore(`sqlite:${join(dir, 'new.db')}`);
    return { old, neu, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
  }, { get: Math.floor(OPS / 2), put: Math.floor(OPS / 4) })),
  // A networked backend, where the dual store's fixed cost is set against a real round trip.
  ...(args.includes('--no-postgres') ? [] : await backend('postgres', async () => {
    const url = process.env.CUTOVER_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
    const tag = `cut_bench_dual_${process.pid}`;
    const old = await openStore(`${url}?schema=${tag}_old`);
    const neu = await openStore(`${url}?schema=${tag}_new`);
    return {
      old, neu,
      cleanup: async () => {
        const pg = (await import('pg')).default;
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS ${tag}_old CASCADE`);
        await client.query(`DROP SCHEMA IF EXISTS ${tag}_new CASCADE`);
        await client.end();
      },
    };
  }, { get: Math.floor(OPS / 5), put: Math.floor(OPS / 40) })),
];

if (args.includes('--json')) {
  process.stdout.write(JSON.stringify(results, null, 2) + '\n');
} else {
  const f = (x) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
  const lines = [
    '| backend | mode | op | bare p50 µs | dual p50 µs | p50 overhead | middle half of pairs | bare p99 µs | dual p99 µs | bare ops/s | dual ops/s |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const pct = (x) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(0)}%`;
  for (const r of results) {
    const [lo, hi] = r.p50OverheadMiddleHalf;
    lines.push(`| ${r.backend} | ${r.mode} | ${r.op} | ${f(r.bareP50)} | ${f(r.dualP50)} | ${pct(r.p50Overhead)} | ${pct(lo)} .. ${pct(hi)} | ${f(r.bareP99)} | ${f(r.dualP99)} | ${Math.round(r.bareOpsPerSec)} | ${Math.round(r.dualOpsPerSec)} |`);
  }
  process.stdout.write(lines.join('\n') + '\n\n' + notes.map((n) => `- ${n}`).join('\n') + '\n');
}
