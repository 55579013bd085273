#!/usr/bin/env node
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

// Collect garbage before the heap passes three times the live data. V8's default growth, sized for this
// machine's memory, let a copy's heap fill with 300-400 MB of garbage between full collections; this
// keeps a million-record copy near 200 MB of RSS for about 10% more CPU (see BENCHMARKS.md).
setFlagsFromString('--heap-growing-percent=200');

// The growth setting does not cover the first full collection, whose limit V8 guesses from early
// survival rates: in half of the measured million-record copies the heap filled with ~150 MB of garbage
// before it (305 MB RSS instead of 180). So a full collection is run by hand when the heap passes a
// ceiling that starts at 128 MB and stays 2.5 times above what survives, so that a job whose live data
// really is big is not collected over and over. `gc` comes from a fresh context and is not made global.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');
let ceiling = 128e6;
setInterval(() => {
  if (getHeapStatistics().used_heap_size < ceiling) return;
  gc();
  ceiling = Math.max(ceiling, 2.5 * getHeapStatistics().used_heap_size);
}, 200).unref();

const { main } = await import('../dist/cli/main.js');
main(process.argv).then((code) => {
  process.exitCode = code;
});
