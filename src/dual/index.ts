/** The dual-mode store and what comes with it: flags, routing, discrepancies, metrics, Keyv adapter. */
export { createDualStore, DualStore, type DualStoreOptions, type Divergence, type RepairResult } from './dual-store.js';
export { MODES, DEFAULT_FLAGS, parseFlags, flagsSchema, isDualWrite, type DualMode, type DualFlags, type DualFlagsInput, type Side } from './modes.js';
export { Router, keyBucket, percentToBasisPoints, globToRegExp, type Route } from './router.js';
export { staticFlags, StaticFlags, FlagHolder, isFlagSource, type FlagSource, type FlagSourceOptions, type FlagsListener } from './flags.js';
export { watchFlagsFile, FileFlags, readFlagsFile, writeFlagsFile, type FileFlagsOptions } from './flags-file.js';
export { watchSqliteFlags, SqliteFlags, readSqliteFlags, writeSqliteFlags, DEFAULT_STATE_PATH, type SqliteFlagsOptions } from './flags-sqlite.js';
export {
  DiscrepancyRecorder, readPersistedDiscrepancies, type DiscrepancyReport, type DiscrepancyExample, type DiscrepancyInput,
  type DiscrepancyRecorderOptions,
} from './discrepancy-recorder.js';
export { DualMetrics, type DualMetricsOptions } from './metrics.js';
export { compareRecords, structuralDiff, type DiffEntry, type DiscrepancyKind } from './value-compare.js';
export { KeyvDualAdapter, type KeyvDualAdapterOptions } from './keyv-adapter.js';
