/**
 * The PostgreSQL backend's own URL parameters (`?schema=`, `?pool=`) and the fixes it suggests for
 * errors a user can act on. Every other URL parameter is left for pg's connection string parser.
 */
import { ConfigurationError } from '../core/errors.js';
import { parseStoreUrl, redactUrl } from '../core/url.js';
import { DRIVER, assertSchemaName } from './postgres-sql.js';

/** Read from the URL's query string; every other parameter goes to pg as its connection string. */
export interface PostgresOptions {
  /** Schema holding the collections' tables and `cutover_checkpoints`; created when missing unless
   * the store is opened with `create: false`. @default "public" */
  schema?: string;
  /** Most connections the pool opens. @default 4 */
  pool?: number;
}

/** Splits cutover's own parameters off the URL. */
export function parsePostgresUrl(url: string): { connectionString: string; options: Required<PostgresOptions> } {
  const parsed = parseStoreUrl(url);
  const schema = parsed.searchParams.get('schema') ?? 'public';
  assertSchemaName(schema);
  const poolText = parsed.searchParams.get('pool');
  const pool = poolText === null ? 4 : Number(poolText);
  if (!Number.isInteger(pool) || pool < 1 || pool > 1000) {
    throw new ConfigurationError(`[${DRIVER}] ?pool=${poolText} in ${redactUrl(url)} must be a whole number from 1 to 1000`);
  }
  if (!parsed.searchParams.has('schema') && poolText === null) return { connectionString: url, options: { schema, pool } };
  parsed.searchParams.delete('schema');
  parsed.searchParams.delete('pool');
  return { connectionString: parsed.href, options: { schema, pool } };
}

/** The fix for failures a user can act on, by error code. */
const HINTS: Record<string, (location: string) => string> = {
  ECONNREFUSED: (at) => `is PostgreSQL running and listening at ${at}?`,
  '3D000': (at) => `create the database or fix its name in ${at}`,
  '28000': (at) => `check the user in ${at}`,
  '28P01': (at) => `check the user and password in ${at}`,
  '42501': () => 'grant the user the privileges it needs on the schema and tables, or connect as another user',
};
/** A one-clause fix for the error, or undefined. */
export function errorHint(err: unknown, location: string): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? HINTS[code]?.(location) : undefined;
}
