/**
 * Key order everywhere in cutover is UTF-8 byte order: what PostgreSQL `COLLATE "C"`, SQLite
 * BINARY and MySQL `utf8mb4_bin` use. JavaScript's `<` compares UTF-16 code units, which puts
 * astral characters (surrogate pairs, 0xD800-0xDFFF) *before* U+E000..U+FFFF; UTF-8 puts them after.
 * Comparing code units and swapping those two ranges gives byte order without encoding anything.
 */
export function compareKeys(a: string, b: string): number {
  if (a === b) return 0;
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x !== y) {
      if (x >= 0xd800 && y >= 0xd800) {
        x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
        y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
      }
      return x < y ? -1 : 1;
    }
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

export function sortKeys<T>(items: T[], keyOf: (item: T) => string): T[] {
  return items.sort((p, q) => compareKeys(keyOf(p), keyOf(q)));
}
