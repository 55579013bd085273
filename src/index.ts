/**
 * cutover as a library: every CLI command is a function here that returns a result object.
 */
export type { Store, Capabilities, ScanBatch, ScanOptions, PutOptions, PutResult, TargetCheckpoint, OpenOptions, StoreFactory, CollectionStats } from './core/store.js';
export type { StoredRecord, RecordValue } from './core/record.js';
export { keyProblem, encodeValue, decodeValue, toJsonText, valueSize, MAX_KEY_BYTES } from './core/record.js';
export { compareKeys } from './core/key-order.js';
export { canonicalJson, sameValue } from './core/canonical.js';
export { recordDigest, recordDigestHex, valueDigest } from './core/digest.js';
export { CutoverError, ConfigurationError, ConnectionError, RecordRejected, StoreError, isTransient } from './core/errors.js';
export type { RejectInfo } from './core/errors.js';
export { openStore, registerDriver, knownSchemes } from './drivers/index.js';
export { migrate, optionsOfMigration } from './engine/migrate.js';
export type { MigrateOptions, MigrationResult, UnitResult } from './engine/migrate.js';
export type { MigrationEvent } from './engine/events.js';
export { status } from './state/status.js';
export type { MigrationStatusView, StatusOptions } from './state/status.js';
export { pause } from './state/pause.js';
export { demo } from './demo/demo.js';
export type { DemoOptions, DemoResult } from './demo/demo.js';
export { verify } from './verify/verify.js';
export type { VerifyOptions, VerifyResult, VerifyMode, CollectionResult } from './verify/verify.js';
export * from './dual/index.js';
export { route } from './cli/route.js';
export type { RouteOptions, RouteResult } from './cli/route.js';
