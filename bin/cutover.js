#!/usr/bin/env node
import { setFlagsFromString } from 'node:v8';

// Collect garbage before the heap passes three times the live data. V8's default growth, sized for this
// machine's memory, let a copy's heap fill with 300-400 MB of garbage between full collections; this
// keeps a million-record copy near 200 MB of RSS for about 10% more CPU (see BENCHMARKS.md).
setFlagsFromString('--heap-growing-percent=200');

const { main } = await import('../dist/cli/main.js');
main(process.argv).then((code) => {
  process.exitCode = code;
});
