// Deterministic bench data under bench/.data/<records>/: the same N records (~340-byte JSON values
// shaped like an app's events and sessions) as a JSONL log, a folder of one file per record, and a
// TSV for `psql \copy`. Each form is generated once and reused (a `.done` marker per form).
import { closeSync, existsSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { seededRandom } from '../../dist/demo/generate.js';

export const BENCH_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
export const REPO_DIR = dirname(BENCH_DIR);
export const DATA_ROOT = join(BENCH_DIR, '.data');
export const COLLECTION = 'events';

// The same PRNG as the demo generator (built into dist/ by `npm run bench`).
const rng = seededRandom;

const TYPES = ['step_started', 'step_completed', 'tool_call', 'llm_response', 'error', 'checkpoint_saved'];
const TOOLS = ['search', 'fetch_page', 'run_sql', 'send_email', 'summarize'];
const NOTES = ['ok', 'retry after timeout', 'Grüße aus Köln', 'deploy 🚀 finished', 'rate limited; backing off', 'cache hit'];
const BASE = Date.UTC(2025, 0, 17);

export const keyOf = (i) => `evt-${String(i).padStart(8, '0')}`;

/** The JSON text of record i: an event, or every tenth record a session. */
export function makeValue(i, rand) {
  const at = new Date(BASE + i * 997).toISOString();
  const pick = (xs) => xs[Math.floor(rand() * xs.length)];
  if (i % 10 === 0) {
    return JSON.stringify({
      kind: 'session', id: `sess-${String(i / 10).padStart(7, '0')}`, workflow: `${pick(['build', 'review', 'deploy'])}-${i % 97}`,
      status: pick(['running', 'completed', 'failed', 'paused']), startedAt: at, updatedAt: at, iteration: i % 13,
      tokens: Math.floor(rand() * 1e9), cost: Math.round(rand() * 1e6) / 1e4, note: pick(NOTES),
      variables: { branch: `feature/${i % 5000}`, retries: i % 4, ratio: Math.round(rand() * 1000) / 1000 },
      metadata: { host: `worker-${i % 8}`, pid: 1000 + (i % 5000), region: pick(['eu-west-1', 'us-east-2']) },
    });
  }
  return JSON.stringify({
    kind: 'event', id: `e${i}`, type: pick(TYPES), sessionId: `sess-${String(Math.floor(i / 10)).padStart(7, '0')}`,
    at, trace: (Math.floor(rand() * 2 ** 48).toString(16) + Math.floor(rand() * 2 ** 48).toString(16)).padStart(24, '0'), seq: i % 1000, actor: { kind: 'agent', name: `worker-${i % 8}` },
    payload: { tool: pick(TOOLS), args: { q: `query ${Math.floor(rand() * 1e6)}`, limit: 20 }, ok: rand() > 0.05, latencyMs: Math.floor(rand() * 2000) },
    tags: ['bench', pick(['a', 'b', 'c'])], note: pick(NOTES),
  });
}

function* records(n) {
  const rand = rng(340);
  for (let i = 0; i < n; i++) yield [keyOf(i), makeValue(i, rand)];
}

export function dataDir(n) {
  return join(DATA_ROOT, String(n));
}

function once(dir, form, build) {
  const marker = join(dir, `.${form}.done`);
  if (existsSync(marker)) return false;
  build();
  writeFileSync(marker, new Date().toISOString() + '\n');
  return true;
}

function writeLines(path, n, line) {
  const fd = openSync(path, 'w');
  let buf = '';
  for (const [k, v] of records(n)) {
    buf += line(k, v);
    if (buf.length > 1 << 20) { writeSync(fd, buf); buf = ''; }
  }
  writeSync(fd, buf);
  closeSync(fd);
}

/** `<dir>/jsonl/events.jsonl`; returns the `file:` folder. */
export function ensureJsonl(n) {
  const dir = dataDir(n);
  const root = join(dir, 'jsonl');
  once(dir, 'jsonl', () => {
    mkdirSync(root, { recursive: true });
    writeLines(join(root, `${COLLECTION}.jsonl`), n, (k, v) => `{"key":${JSON.stringify(k)},"value":${v}}\n`);
  });
  return root;
}

/** `<dir>/files/events/<key>.json`, one file per record; returns the `file:` folder. */
export function ensureFiles(n) {
  const dir = dataDir(n);
  const root = join(dir, 'files');
  once(dir, 'files', () => {
    mkdirSync(join(root, COLLECTION), { recursive: true });
    for (const [k, v] of records(n)) writeFileSync(join(root, COLLECTION, `${k}.json`), v);
  });
  return root;
}

/** `<dir>/events.tsv` for `\copy … FROM` in text format (backslashes doubled; JSON has no raw tabs or newlines). */
export function ensureTsv(n) {
  const dir = dataDir(n);
  const path = join(dir, `${COLLECTION}.tsv`);
  once(dir, 'tsv', () => {
    mkdirSync(dir, { recursive: true });
    writeLines(path, n, (k, v) => `${k}\t${v.replaceAll('\\', '\\\\')}\n`);
  });
  return path;
}

/** Average value size in bytes over the first `sample` records (for the report). */
export function averageValueBytes(sample = 10000) {
  let total = 0;
  let n = 0;
  for (const [, v] of records(sample)) { total += Buffer.byteLength(v); n++; }
  return Math.round(total / n);
}
