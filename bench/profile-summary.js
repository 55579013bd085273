// Summarises the .cpuprofile files `node --cpu-prof` wrote (bench/run.js --profile): self time by
// function and by file, the largest first. Plain node, no dependencies:
//
//   node bench/profile-summary.js bench/.data/1000000/out/prof/jsonl [--top 25]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const args = process.argv.slice(2);
const top = args.includes('--top') ? Number(args[args.indexOf('--top') + 1]) : 25;
const target = args.find((a, i) => !a.startsWith('--') && args[i - 1] !== '--top');
if (!target) {
  process.stderr.write('usage: node bench/profile-summary.js DIR_OR_FILE [--top N]\n');
  process.exit(2);
}
const files = statSync(target).isDirectory()
  ? readdirSync(target).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(target, f))
  : [target];

const byFn = new Map();
const byFile = new Map();
let total = 0;
const short = (url) => {
  if (!url) return '(native/vm)';
  const u = url.replace(/^file:\/\//, '');
  const i = u.indexOf('/node_modules/');
  if (i >= 0) return u.slice(i + 1);
  return u.startsWith('/') ? relative(process.cwd(), u) : u;
};
for (const f of files) {
  const p = JSON.parse(readFileSync(f, 'utf8'));
  const nodes = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map();
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
  for (const [id, us] of self) {
    const cf = nodes.get(id).callFrame;
    const file = short(cf.url);
    const fn = `${cf.functionName || '(anonymous)'}  ${file}${cf.url ? `:${cf.lineNumber + 1}` : ''}`;
    byFn.set(fn, (byFn.get(fn) ?? 0) + us);
    byFile.set(file, (byFile.get(file) ?? 0) + us);
    total += us;
  }
}
const print = (title, m) => {
  process.stdout.write(`\n${title}\n`);
  for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(`${(us / 1000).toFixed(0).padStart(8)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}\n`);
  }
};
process.stdout.write(`${files.length} profile(s), ${(total / 1e6).toFixed(2)} s sampled (main thread)\n`);
print('self time by function', byFn);
print('self time by file', byFile);
