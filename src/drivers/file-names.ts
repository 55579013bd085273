/**
 * Record key <-> file name, for the folder layout of the `file:` backend.
 *
 * The scheme (every output is plain lowercase ASCII, so it means the same on every filesystem):
 * - `a-z`, `0-9` and `- _ . , ( ) @ = + ~ ! ' [ ]` and space stand for themselves;
 * - an ASCII capital is `^` and the small letter (`Alice` -> `^alice`), so keys that differ only in
 *   case get names that differ in more than case (case-insensitive macOS/Windows volumes);
 * - every other character is `%xx` per UTF-8 byte, lowercase hex (`/` -> `%2f`, `é` -> `%c3%a9`).
 *   Escaping all non-ASCII also keeps names safe from Unicode normalisation (HFS+, APFS);
 * - a `.` or space that starts a name, or a `.`/space that ends it, is escaped too, so no name is
 *   `.`/`..`, hidden, or trimmed by Windows; a name whose stem is a Windows device name (CON, NUL,
 *   COM1, aux.txt, ...) gets its first letter escaped.
 * The record file is `<name>.json` (JSON text) or `<name>.bin` (bytes). An escaped name longer than
 * 200 characters is cut into 200-character pieces: every piece but the last is a sub-folder named
 * `<piece>~`, the last is the file; decoding joins the pieces (without the `~`) and unescapes.
 * So a 1024-byte key (at most 3072 escaped characters) never needs a name over 255 bytes.
 *
 * Decoding is lenient, so files an application named by hand read back with the obvious key:
 * `Alice Smith.json` is "Alice Smith", `user-42.json` is "user-42". Names that start with `.` are
 * never records (temp files, .DS_Store).
 */

export const SEGMENT_CHARS = 200;
export const JSON_EXT = '.json';
export const BYTES_EXT = '.bin';

const SAFE = new Uint8Array(128);
for (const c of "abcdefghijklmnopqrstuvwxyz0123456789-_.,()@=+~!'[] ") SAFE[c.charCodeAt(0)] = 1;
const RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9]|conin\$|conout\$)(\.|$)/i;
const utf8 = new TextEncoder();

function hex(byte: number): string {
  return '%' + byte.toString(16).padStart(2, '0');
}

function escapeChar(ch: string): string {
  let out = '';
  for (const b of utf8.encode(ch)) out += hex(b);
  return out;
}

/** The relative path pieces for a key: sub-folder names (each ending in `~`) then the file stem. */
export function encodeKey(key: string): string[] {
  const pieces: string[] = [];
  let cur = '';
  for (const ch of key) {
    const c = ch.charCodeAt(0);
    let tok: string;
    if (ch.length === 1 && c < 128 && SAFE[c]) tok = ch;
    else if (c >= 65 && c <= 90) tok = '^' + String.fromCharCode(c + 32);
    else tok = escapeChar(ch);
    if (cur.length + tok.length > SEGMENT_CHARS) {
      pieces.push(cur + '~');
      cur = '';
    }
    // A piece never starts with "." or space: hidden, or "..", or awkward on Windows.
    if (cur === '' && (tok === '.' || tok === ' ')) tok = hex(c);
    cur += tok;
  }
  const last = cur.charCodeAt(cur.length - 1);
  if (last === 46 || last === 32) cur = cur.slice(0, -1) + hex(last);
  if (RESERVED.test(cur)) cur = hex(cur.charCodeAt(0)) + cur.slice(1);
  pieces.push(cur);
  return pieces;
}

/** The path of a key's record file relative to the collection folder, always with "/". */
export function keyPath(key: string, ext: string): string {
  return encodeKey(key).join('/') + ext;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * The key for a stem (sub-folder pieces already joined, without `~` and extension). Lenient: text
 * that is not one of our escapes stands for itself, and escapes that do not form UTF-8 leave the
 * name as written.
 */
export function decodeName(name: string): string {
  if (!name.includes('%') && !name.includes('^')) return name;
  const bytes: number[] = [];
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 37 && /^[0-9a-fA-F]{2}$/.test(name.slice(i + 1, i + 3))) {
      bytes.push(parseInt(name.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c === 94 && i + 1 < name.length && name.charCodeAt(i + 1) >= 97 && name.charCodeAt(i + 1) <= 122) {
      bytes.push(name.charCodeAt(i + 1) - 32);
      i += 1;
    } else {
      const cp = name.codePointAt(i)!;
      for (const b of utf8.encode(String.fromCodePoint(cp))) bytes.push(b);
      if (cp > 0xffff) i += 1;
    }
  }
  try {
    return decoder.decode(Uint8Array.from(bytes));
  } catch {
    return name;
  }
}

/** Splits a record file's relative path into key and extension, or null when it is no record file. */
export function parseRecordPath(rel: string): { key: string; ext: string } | null {
  const ext = rel.endsWith(JSON_EXT) ? JSON_EXT : rel.endsWith(BYTES_EXT) ? BYTES_EXT : null;
  if (!ext) return null;
  const parts = rel.slice(0, -ext.length).split('/');
  const stem = parts.map((p, i) => (i < parts.length - 1 ? p.slice(0, -1) : p)).join('');
  if (stem === '') return null;
  return { key: decodeName(stem), ext };
}

/**
 * The name an application would have given the key's file by hand (`Alice Smith.json`), when that
 * differs from ours and reads back as the key; lookups and overwrites look there too.
 */
export function plainPath(key: string, ext: string): string | null {
  if (key.startsWith('.') || key.includes('/') || key.includes('\\') || Buffer.byteLength(key) + ext.length > 255) return null;
  const rel = key + ext;
  if (rel === keyPath(key, ext) || decodeName(key) !== key) return null;
  return rel;
}
