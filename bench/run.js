// cutover benchmarks: every figure is one whole child process (`cutover migrate`/`verify`, `psql`,
// `pgloader`) timed by GNU time (`/usr/bin/time -v`): wall time and the kernel's peak RSS.
//
//   npm run bench -- [--suite copy|postgres|verify|all] [--records 100000] [--batch-size 5000]
//                    [--sweep 1000,5000,10000] [--repeat 1] [--wait-load 1.5] [--record] [--profile]
//
// --suite        which suite(s) to run (default all)
// --records      records in the data set (default 100000); data is generated once under bench/.data/
// --batch-size   cutover --batch-size for every copy (default 5000)
// --sweep        copy suite: also time JSONL -> SQLite at each of these batch sizes
// --repeat       run each measured command N times, contenders taking turns, and keep each one's median by wall time (default 1)
// --wait-load L  before starting, poll `uptime` every 30 s (up to 20 min) until the 1-min load < L
// --record       write the printed table into BENCHMARKS.md (section per suite and size)
// --profile      run the cutover processes under `node --cpu-prof` (profiles in bench/.data/<n>/out/prof/;
//                summarise with `node bench/profile-summary.js DIR`)
// --pgloader-heap MB  pgloader --dynamic-space-size (default 4096); the stock run is timed too
// --timeout S    kill any one measured command after S seconds (default 1800)
//
// Needs: node 20, psql, pgloader (installed with apt-get if missing, postgres suite), /usr/bin/time,
// and PostgreSQL at $CUTOVER_BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test).
import { execSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { REPO_DIR, averageValueBytes } from './lib/data.js';
import { runCopy } from './suites/copy.js';
import { runPostgres } from './suites/postgres.js';
import { runVerify } from './suites/verify.js';

const SUITES = { copy: runCopy, postgres: runPostgres, verify: runVerify };

function parseArgs(argv) {
  const o = { suite: 'all', records: 100_000, batchSize: 5000, sweep: null, repeat: 1, waitLoad: null, record: false, profile: false, pgloaderHeap: 4096, timeoutS: 1800 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const int = () => {
      const v = Number(next().replaceAll('_', ''));
      if (!Number.isSafeInteger(v) || v <= 0) throw new Error(`${a} needs a positive whole number`);
      return v;
    };
    if (a === '--suite') o.suite = next();
    else if (a === '--records') o.records = int();
    else if (a === '--batch-size') o.batchSize = int();
    else if (a === '--sweep') o.sweep = next().split(',').map(Number);
    else if (a === '--repeat') o.repeat = int();
    else if (a === '--wait-load') o.waitLoad = Number(next());
    else if (a === '--record') o.record = true;
    else if (a === '--profile') o.profile = true;
    else if (a === '--pgloader-heap') o.pgloaderHeap = int();
    else if (a === '--timeout') o.timeoutS = int();
    else if (a === '--help' || a === '-h') {
      process.stdout.write(readFileSync(new URL(import.meta.url), 'utf8').split('\n').filter((l) => l.startsWith('//')).map((l) => l.slice(3)).join('\n') + '\n');
      process.exit(0);
    } else throw new Error(`unknown option ${a} (see --help)`);
  }
  const names = o.suite === 'all' ? Object.keys(SUITES) : o.suite.split(',');
  for (const n of names) if (!SUITES[n]) throw new Error(`--suite ${n} is unknown; use ${Object.keys(SUITES).join(', ')} or all`);
  o.suites = names;
  return o;
}

const uptime = () => execSync('uptime', { encoding: 'utf8' }).trim();
const load1 = () => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
const log = (m) => process.stderr.write(`[bench] ${m}\n`);

async function waitForLoad(limit) {
  const deadline = Date.now() + 20 * 60_000;
  while (load1() >= limit && Date.now() < deadline) {
    log(`waiting for the 1-min load to drop below ${limit}: ${uptime()}`);
    await new Promise((r) => setTimeout(r, 30_000));
  }
  const l = load1();
  log(l < limit ? `load ok: ${uptime()}` : `gave up waiting after 20 min: ${uptime()}`);
}

const fmt = (n, digits = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a');

function table(rows) {
  const head = ['run', 'records', 'wall s', 'records/s', 'peak RSS MB', 'CPU s (user+sys)', 'records/CPU-s', 'note'];
  const body = rows.map((r) => [r.name, fmt(r.records), fmt(r.wallS, 2), fmt(r.rate), fmt(r.peakRssMB), `${fmt(r.cpuS, 1)} (${fmt(r.userS, 1)}+${fmt(r.sysS, 1)})`, fmt(r.records / r.cpuS), r.note ?? '']);
  return [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 || i === head.length - 1 ? ' --- ' : ' ---: ')).join('|')}|`, ...body.map((c) => `| ${c.join(' | ')} |`)].join('\n');
}

function targetTable(targets) {
  const head = ['target', 'measured', 'goal', 'measured / goal', 'met'];
  const body = targets.map((t) => {
    const unit = t.unit ?? '';
    const digits = unit === 'x' ? 2 : 0;
    // For "lower is better" goals the ratio is goal / measured, so > 1 always means met.
    const ratio = t.higher ? t.measured / t.goal : t.goal / t.measured;
    return [t.what, fmt(t.measured, digits) + unit, fmt(t.goal, digits) + unit, `${fmt(ratio, 2)}`, ratio >= 1 ? 'yes' : '**no**'];
  });
  return [`| ${head.join(' | ')} |`, '| --- | ---: | ---: | ---: | --- |', ...body.map((c) => `| ${c.join(' | ')} |`)].join('\n');
}

function recordSection(suite, o, text) {
  const path = join(REPO_DIR, 'BENCHMARKS.md');
  const begin = `<!-- bench:${suite}:${o.records} -->`;
  const end = `<!-- /bench:${suite}:${o.records} -->`;
  let doc = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n';
  const block = `${begin}\n${text}\n${end}`;
  const i = doc.indexOf(begin);
  const j = doc.indexOf(end);
  if (i >= 0 && j > i) doc = doc.slice(0, i) + block + doc.slice(j + end.length);
  else {
    // New sections go before the dual-store part, which another document fills.
    const k = doc.indexOf('\n## Dual store');
    doc = k >= 0 ? `${doc.slice(0, k)}\n${block}\n${doc.slice(k)}` : `${doc.trimEnd()}\n\n${block}\n`;
  }
  writeFileSync(path, doc);
  log(`recorded in BENCHMARKS.md (${suite}, ${o.records} records)`);
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.waitLoad) await waitForLoad(o.waitLoad);
  const command = `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim();
  for (const suite of o.suites) {
    const before = uptime();
    const started = new Date().toISOString();
    const ctx = { records: o.records, batchSize: o.batchSize, sweep: o.sweep, repeat: o.repeat, profile: o.profile, pgloaderHeap: o.pgloaderHeap, timeoutS: o.timeoutS, log };
    log(`suite ${suite}, ${o.records} records: ${before}`);
    const { rows, targets, notes = [] } = await SUITES[suite](ctx, log);
    const after = uptime();
    const text = [
      `### ${suite}: ${fmt(o.records)} records`,
      '',
      `- command: \`${command}\``,
      `- date: ${started}; \`nproc\` = ${availableParallelism()}; node ${process.version}; values ~${averageValueBytes()} bytes of JSON`,
      `- load before: \`${before}\``,
      `- load after: \`${after}\``,
      `- each figure: one whole child process under \`/usr/bin/time -v\` (wall clock; peak RSS = "Maximum resident set size" of that process; CPU = user + sys of that process, not the database server's)${o.repeat > 1 ? `, median of ${o.repeat} runs by wall time, the contenders of a ratio taking turns round by round` : ''}`,
      ...notes.map((n) => `- ${n}`),
      '',
      table(rows),
      '',
      targetTable(targets),
    ].join('\n');
    process.stdout.write(`\n${text}\n\n`);
    if (o.record) recordSection(suite, o, text);
  }
}

main().catch((err) => {
  process.stderr.write(`[bench] failed: ${err.stack ?? err}\n`);
  process.exitCode = 1;
});
