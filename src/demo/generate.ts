/**
 * A realistic file store shaped like the design documents' data (spec 95's sessions, events,
 * checkpoints and dead-letter queue): sessions as one JSON file each, events and the DLQ as JSONL
 * logs, checkpoints as one JSON object map. Values carry unicode text, integers beyond 2^53 and long
 * decimals; a few records are deliberately broken, and the generator says which, so the demo can
 * check that exactly those were rejected and every other record landed.
 */
import { mkdirSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';

export interface GeneratedStore {
  root: string;
  /** Distinct good keys per collection: what must land in the target. */
  expected: Record<string, number>;
  /** Planted bad records per collection: what must be in the rejects file. */
  planted: Record<string, { what: string; location: string }[]>;
  total: number;
}

const TEXTS = [
  'Grüße aus Köln', '日本語のテキストを含むメッセージ', 'deploy 🚀 finished ✨', 'שלום עולם', 'Ελληνικά κείμενα',
  'emoji family 👨‍👩‍👧‍👦', 'combining e\u0301 vs é', 'tab\tand "quotes" and \\ backslash', 'Ünïcödé ✓', '𝕄𝕒𝕥𝕙 𝔽𝕣𝕒𝕜𝕥𝕦𝕣',
];
const STATUSES = ['running', 'completed', 'failed', 'paused'];
const EVENT_TYPES = ['step_started', 'step_completed', 'tool_call', 'llm_response', 'error', 'checkpoint_saved'];

/** A tiny deterministic PRNG (mulberry32): the same seed gives the same sequence (demo data, tests). */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function generateDemoStore(root: string, records: number): GeneratedStore {
  const rand = seededRandom(95);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const n = Math.max(100, records);
  const counts = {
    sessions: Math.round(n * 0.1),
    events: Math.round(n * 0.85),
    checkpoints: Math.round(n * 0.025),
    dlq: 0,
  };
  counts.dlq = n - counts.sessions - counts.events - counts.checkpoints;
  mkdirSync(join(root, 'sessions'), { recursive: true });
  const planted: GeneratedStore['planted'] = { sessions: [], events: [], checkpoints: [], dlq: [] };
  const base = Date.UTC(2025, 0, 17);
  const iso = (ms: number) => new Date(ms).toISOString();
  // Big integers are written into the JSON text directly: JSON.stringify would round them.
  const big = (i: number) => `${9007199254740993n + BigInt(i) * 1000003n}`;

  // sessions: one JSON file per session, the way a file store keeps them.
  for (let i = 0; i < counts.sessions; i++) {
    const id = `sess-${String(i).padStart(6, '0')}`;
    const started = base + i * 1000;
    const text =
      `{"id":"${id}","workflow":"${pick(['build', 'review', 'deploy', 'migrate'])}-${i % 97}","status":"${pick(STATUSES)}",` +
      `"startedAt":"${iso(started)}","updatedAt":"${iso(started + 60_000)}","iteration":${i % 13},` +
      `"tokens":${big(i)},"cost":0.1000000000000000055511151231257827,"note":${JSON.stringify(pick(TEXTS))},` +
      `"variables":{"branch":"feature/${i}","retries":${i % 4},"ratio":1.0,"tiny":1e-7},"metadata":{"host":"worker-${i % 8}","pid":${1000 + (i % 5000)}}}`;
    writeFileSync(join(root, 'sessions', `${id}.json`), text + '\n');
  }
  writeFileSync(join(root, 'sessions', 'sess-broken.json'), '{"id":"sess-broken","status":"running",');
  planted.sessions!.push({ what: 'malformed JSON', location: 'sessions/sess-broken.json' });
  writeFileSync(join(root, 'sessions', 'sess-latin1.json'), Buffer.concat([Buffer.from('{"note":"caf'), Buffer.from([0xe9]), Buffer.from('"}')]));
  planted.sessions!.push({ what: 'invalid UTF-8 (a Latin-1 é)', location: 'sessions/sess-latin1.json' });
  writeFileSync(join(root, 'sessions', 'sess-empty.json'), '');
  planted.sessions!.push({ what: 'empty file', location: 'sessions/sess-empty.json' });

  // events: an append-only JSONL log; a few keys are written twice (later lines win).
  const events = openSync(join(root, 'events.jsonl'), 'w');
  let chunk = '';
  let eventKeys = counts.events;
  const flush = (force = false) => {
    if (force || chunk.length > 1 << 20) {
      writeSync(events, chunk);
      chunk = '';
    }
  };
  for (let i = 0; i < counts.events; i++) {
    const key = `evt-${String(i).padStart(8, '0')}`;
    chunk +=
      `{"key":"${key}","value":{"sessionId":"sess-${String(i % Math.max(1, counts.sessions)).padStart(6, '0')}","type":"${pick(EVENT_TYPES)}",` +
      `"timestamp":"${iso(base + i * 37)}","seq":${big(i)},"payload":{"message":${JSON.stringify(pick(TEXTS))},"durationMs":${Math.floor(rand() * 5000)},` +
      `"score":${(rand() * 100).toFixed(6)},"tags":["t${i % 7}","t${i % 11}"]}}}\n`;
    if (i % 50_000 === 49_999) {
      // A correction of an earlier event: same key again, later wins; not a new record.
      chunk += `{"key":"evt-${String(i - 10).padStart(8, '0')}","value":{"corrected":true,"seq":${big(i)}}}\n`;
    }
    flush();
  }
  chunk += `{"key":"../../etc/passwd","value":{"note":"a hostile-looking key is just a key: stored as data, never as a path"}}\n`;
  eventKeys++;
  chunk += `{"key":"evt-bad-json","value":{oops}}\n`;
  planted.events!.push({ what: 'malformed JSON line', location: 'events.jsonl' });
  chunk += `this line is not JSON at all\n`;
  planted.events!.push({ what: 'a line that is not JSON', location: 'events.jsonl' });
  chunk += `{"key":"evt-nul\\u0000key","value":1}\n`;
  planted.events!.push({ what: 'key with a NUL character', location: 'events.jsonl' });
  chunk += `{"key":"evt-truncated","value":{"sessionId":"sess-0000`;
  planted.events!.push({ what: 'truncated last line (the writer crashed mid-line)', location: 'events.jsonl' });
  flush(true);
  closeSync(events);

  // checkpoints: a single JSON object map, as small apps keep settings or state.
  let map = '{';
  for (let i = 0; i < counts.checkpoints; i++) {
    if (i > 0) map += ',\n';
    map += `"ckpt-${String(i).padStart(6, '0')}":{"sessionId":"sess-${String(i).padStart(6, '0')}","step":${i % 20},"savedAt":"${iso(base + i * 5000)}","state":{"cursor":${big(i)},"done":${i % 2 === 0}}}`;
  }
  writeFileSync(join(root, 'checkpoints.json'), map + '}\n');

  // dlq: a JSONL dead-letter queue with two damaged lines.
  let dlq = '';
  for (let i = 0; i < counts.dlq; i++) {
    dlq += `{"key":"dlq-${String(i).padStart(6, '0')}","value":{"error":${JSON.stringify(`timeout after ${i % 30}s: ${pick(TEXTS)}`)},"attempts":${1 + (i % 5)},"failedAt":"${iso(base + i * 1000)}","item":{"id":${big(i)},"amount":"12.3400"}}}\n`;
  }
  const dlqBuf = Buffer.concat([
    Buffer.from(dlq),
    Buffer.from('{"value":{"error":"a line without a key"}}\n'),
    Buffer.from('{"key":"dlq-latin1","value":{"error":"caf'), Buffer.from([0xe9]), Buffer.from('"}}\n'),
  ]);
  planted.dlq!.push({ what: 'line without a key', location: 'dlq.jsonl' });
  planted.dlq!.push({ what: 'invalid UTF-8 in a line', location: 'dlq.jsonl' });
  writeFileSync(join(root, 'dlq.jsonl'), dlqBuf);

  const expected = { sessions: counts.sessions, events: eventKeys, checkpoints: counts.checkpoints, dlq: counts.dlq };
  const total = Object.values(expected).reduce((a, b) => a + b, 0) + Object.values(planted).reduce((a, p) => a + p.length, 0);
  return { root, expected, planted, total };
}
