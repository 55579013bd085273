/**
 * Record digests for verification and deduplication: SHA-256 over the key and the canonical value.
 * Two records digest equal exactly when they hold the same key and the same data, whatever backend
 * formatted the JSON.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical.js';
import type { RecordValue } from './record.js';

const JSON_TAG = Buffer.from([0x00, 0x4a]); // "\0J"
const BYTES_TAG = Buffer.from([0x00, 0x42]); // "\0B"

export function valueDigest(value: RecordValue): Buffer {
  const h = createHash('sha256');
  if (typeof value === 'string') {
    h.update(JSON_TAG);
    h.update(canonicalJson(value), 'utf8');
  } else {
    h.update(BYTES_TAG);
    h.update(value);
  }
  return h.digest();
}

export function recordDigest(key: string, value: RecordValue): Buffer {
  const h = createHash('sha256');
  h.update(key, 'utf8');
  if (typeof value === 'string') {
    h.update(JSON_TAG);
    h.update(canonicalJson(value), 'utf8');
  } else {
    h.update(BYTES_TAG);
    h.update(value);
  }
  return h.digest();
}

export function recordDigestHex(key: string, value: RecordValue): string {
  return recordDigest(key, value).toString('hex');
}
