#!/usr/bin/env node
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

// Collect garbage before the heap passes three times the live data. V8's default growth, sized for this
// machine's memory, let a copy's heap fill with 300-400 MB of garbage between full collections; this
// keeps a million-record copy near 200 MB of RSS for about 10% more CPU (see BENCHMARKS.md).
setFlagsFromString('--heap-growing-percent=200');

// The growth setting applies from the first full collection on, and V8 guesses that one's limit from
// early survival rates: in half of the measured million-record copies the heap filled with ~150 MB of
// garbage before it (305 MB RSS instead of 180). So the first time the heap passes 128 MB, one full
// collection is run by hand; from then on the growth setting holds it. Only once: collecting by hand
// at every pass cost a JSONL -> SQLite copy 5% more CPU. `gc` comes from a fresh
// context and is not made global.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');
const firstCollection = setInterval(() => {
  if (getHeapStatistics().used_heap_size < 128e6) return;
  clearInterval(firstCollection);
  gc();
}, 200);
firstCollection.unref();

const { main } = await import('../dist/cli/main.js');
main(process.argv).then((code) => {
  process.exitCode = code;
});
