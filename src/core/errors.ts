/**
 * A few typed errors that carry data. Every message is one sentence that says where and what to do;
 * the original error stays on `cause`.
 */
export class CutoverError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * Not a failure: a pipelined batch gave way because the batch before it failed its first attempt
 * (see src/engine/pipeline.ts). Backends roll back and throw it unchanged; the engine writes the batch
 * again once the previous one has settled.
 */
export class PipelineYield extends CutoverError {
  constructor() {
    super('E_PIPELINE_YIELD', '[cutover] a batch gave way to the batch before it, which failed its first attempt; it is written again after that one');
  }
}

/** Bad options, URLs or files given by the user: fixing the input fixes it. */
export class ConfigurationError extends CutoverError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_CONFIG', `[cutover] ${message}`, options);
  }
}

/** A backend could not be reached; usually transient. */
export class ConnectionError extends CutoverError {
  readonly backend: string;
  constructor(backend: string, message: string, options?: { cause?: unknown }) {
    super('E_CONNECTION', `[cutover] [${backend}] ${message}`, options);
    this.backend = backend;
  }
}

export interface RejectInfo {
  collection: string;
  key: string | null;
  /** Where the record came from: a file and line, a table, a Redis key. */
  location: string;
  reason: string;
}

/** One record cannot be moved as it is. The engine sends it to the rejects file and goes on. */
export class RecordRejected extends CutoverError {
  readonly info: RejectInfo;
  constructor(info: RejectInfo, options?: { cause?: unknown }) {
    super(
      'E_RECORD',
      `[cutover] record ${info.key === null ? '(no key)' : JSON.stringify(info.key)} in collection "${info.collection}" at ${info.location} was rejected: ${info.reason}`,
      options,
    );
    this.info = info;
  }
}

/** An operation on a backend failed; says which backend, operation, collection and key. */
export class StoreError extends CutoverError {
  readonly backend: string;
  readonly collection: string | undefined;
  readonly key: string | undefined;
  readonly transient: boolean;
  constructor(
    backend: string,
    operation: string,
    detail: { collection?: string; key?: string; transient?: boolean; hint?: string },
    cause: unknown,
  ) {
    const where = detail.collection ? ` for collection "${detail.collection}"` : '';
    const near = detail.key !== undefined ? ` near key ${JSON.stringify(detail.key)}` : '';
    const why = cause instanceof Error ? cause.message : String(cause);
    const hint = detail.hint ? ` (${detail.hint})` : '';
    super('E_STORE', `[cutover] [${backend}] ${operation} failed${where}${near}: ${why}${hint}`, { cause });
    this.backend = backend;
    this.collection = detail.collection;
    this.key = detail.key;
    this.transient = detail.transient ?? isTransient(cause);
  }
}

const TRANSIENT_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTCONN',
  'SQLITE_BUSY', 'SQLITE_LOCKED',
  // PostgreSQL: connection exceptions, admin shutdown, crash recovery, serialization, deadlock, too many connections
  '57P01', '57P02', '57P03', '40001', '40P01', '53300', '08000', '08003', '08006', '08001', '08004',
  // MySQL / MariaDB
  'PROTOCOL_CONNECTION_LOST', 'ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT', 'ER_CON_COUNT_ERROR', 'ER_SERVER_SHUTDOWN',
  // a custom marker any layer can set
  'E_TRANSIENT',
]);

const TRANSIENT_MESSAGES = [
  /connection terminated/i, /server closed the connection/i, /connection (is )?closed/i, /socket hang up/i,
  /the database system is (starting up|shutting down|in recovery mode)/i, /terminating connection/i,
  /Connection is closed/i, /read ECONNRESET/i, /timeout exceeded when trying to connect/i,
];

/** Whether retrying the same operation later may succeed. */
export function isTransient(err: unknown): boolean {
  if (err instanceof StoreError) return err.transient;
  if (err instanceof ConnectionError) return true;
  if (err instanceof RecordRejected || err instanceof ConfigurationError) return false;
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && TRANSIENT_CODES.has(code)) return true;
  if (TRANSIENT_MESSAGES.some((re) => re.test(err.message))) return true;
  const cause = (err as { cause?: unknown }).cause;
  return cause !== undefined && cause !== err ? isTransient(cause) : false;
}

/** One line for a human: the message, without a stack. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
