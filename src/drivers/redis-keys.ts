/**
 * How the Redis backend names keys and encodes values, apart from the connection logic.
 *
 * Two layouts:
 * - cutover's own (`redis://host/0?prefix=cutover:`): a record is the string key
 *   `<prefix><collection>:<key>`. JSON text is stored raw (so any other client reads plain JSON);
 *   bytes get a one-byte 0x00 tag in front. JSON text never starts with 0x00 (only space, tab, CR
 *   and LF may precede a value), so the tag cannot be confused with JSON. Bookkeeping keys have no
 *   ":" after the prefix's next word, so they never collide with a record:
 *   `<prefix>_collections` (set of collection names), `<prefix>_keys/<collection>` (set of record
 *   keys, for exact counts; "/" cannot occur in a collection name), `<prefix>_checkpoints` (hash).
 * - an application's keyspace (`redis://host/0?match=user:*`): one collection; the record key is the
 *   Redis key without the pattern's literal prefix; a value that is UTF-8 JSON text is JSON, anything
 *   else is bytes, as stored, with no tag.
 */
import { ConfigurationError } from '../core/errors.js';
import { collectionNameProblem } from '../core/record.js';
import { parseStoreUrl, redactUrl } from '../core/url.js';

export const BYTES_TAG = 0x00;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export interface RedisLayout {
  host: string;
  port: number;
  username: string | undefined;
  password: string | undefined;
  db: number;
  tls: boolean;
  /** Prefix of cutover's own keys (records, registry, checkpoints). */
  prefix: string;
  /** Set when reading an application's keyspace. */
  match: null | {
    pattern: string;
    /** The pattern up to its first glob character, unescaped: removed from keys to make record keys. */
    literal: string;
    collection: string;
    /** Only `<literal>*` can be written back: any record key then matches the pattern. */
    writable: boolean;
  };
}

/** Backslash-escapes Redis glob characters so that a prefix matches only itself in SCAN MATCH. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/** The literal start of a glob pattern and whether the rest is a single trailing "*". */
export function literalPrefix(pattern: string): { literal: string; rest: string } {
  let literal = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) {
      literal += pattern[++i];
    } else if (c === '*' || c === '?' || c === '[') {
      return { literal, rest: pattern.slice(i) };
    } else {
      literal += c;
    }
  }
  return { literal, rest: '' };
}

/** `user:` → `user`, `app:user:` → `app.user`; a name the collection rules accept. */
export function collectionFromPattern(literal: string): string {
  const name = literal.replace(/[^A-Za-z0-9_.-]+/g, '.').replace(/^[.-]+|[.-]+$/g, '').slice(0, 63);
  return name && collectionNameProblem(name) === null ? name : 'keys';
}

export function parseRedisUrl(url: string, defaultPrefix: string): RedisLayout {
  const u = parseStoreUrl(url);
  const dbText = decodeURIComponent(u.pathname.replace(/^\//, '')) || '0';
  if (!/^\d{1,5}$/.test(dbText)) {
    throw new ConfigurationError(`[redis] "${dbText}" in ${redactUrl(url)} is not a database number; write it as the path, e.g. redis://127.0.0.1:6379/0`);
  }
  const params = u.searchParams;
  const pattern = params.get('match');
  let match: RedisLayout['match'] = null;
  if (pattern !== null) {
    if (!pattern) throw new ConfigurationError(`[redis] ?match= in ${redactUrl(url)} is empty; give a key pattern such as ?match=user:*`);
    const { literal, rest } = literalPrefix(pattern);
    const collection = params.get('collection') ?? collectionFromPattern(literal);
    const problem = collectionNameProblem(collection);
    if (problem) throw new ConfigurationError(`[redis] ?collection= in ${redactUrl(url)}: ${problem}`);
    match = { pattern, literal, collection, writable: rest === '*' };
  }
  return {
    host: u.hostname || '127.0.0.1',
    port: Number(u.port || 6379),
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db: Number(dbText),
    tls: u.protocol === 'rediss:',
    prefix: params.get('prefix') ?? defaultPrefix,
    match,
  };
}

/** UTF-8 text, or null when the bytes are not valid UTF-8 (no replacement characters, BOM kept). */
export function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return utf8.decode(bytes);
  } catch {
    return null;
  }
}

export function isJsonText(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** Own layout: JSON raw, bytes behind the tag. */
export function encodeTagged(value: string | Uint8Array): Buffer {
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  const out = Buffer.allocUnsafe(value.byteLength + 1);
  out[0] = BYTES_TAG;
  out.set(value, 1);
  return out;
}

/**
 * Reads a stored value. Tagged: bytes. Otherwise UTF-8 text is JSON (in an application's keyspace
 * only if it parses as JSON); anything else is bytes exactly as stored.
 */
export function decodeStored(raw: Buffer, tagged: boolean): string | Uint8Array {
  if (tagged && raw.length > 0 && raw[0] === BYTES_TAG) return Buffer.from(raw.subarray(1));
  const text = decodeUtf8(raw);
  if (text !== null && (tagged || isJsonText(text))) return text;
  return Buffer.from(raw);
}
