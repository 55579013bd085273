/**
 * The "ugly data" every backend must carry: keys that sort differently in UTF-16 and UTF-8, hostile
 * path-like keys, and values whose numbers and strings are easy to damage.
 */
import type { StoredRecord } from '../../src/core/record.js';

export const ORDER_KEYS = [
  'a', 'A', 'B', 'b', 'a0', 'a/b', 'a b', 'Z', '0', '9', '~', '\u007f', 'é', 'e\u0301', 'ß', 'ÿ', 'Ā',
  '中', '中文', '\ue000', '\uffef', '\uff5e', '😀', '😀a', '𝄞', '𐀀', '\u{10ffff}', 'zz', 'z😀', 'z\uffff',
];

export const HOSTILE_KEYS = [
  '../../etc/passwd', '../x', '..', '.', '/abs/path', '\\windows\\path', 'C:\\boot.ini', 'c:', 'CON', 'con',
  'NUL', 'aux.txt', 'LPT1', 'COM9', 'Case', 'case', 'CASE', 'a:b', 'a\\b', 'a/b/c', 'trailing.', 'trailing ',
  ' leading', 'new\nline', 'tab\there', '%2e%2e%2f', '%', 'a%2Fb', '*?<>|"', '.hidden', '~user', 'x'.repeat(200),
  'é'.repeat(512), // 1024 UTF-8 bytes: exactly at the limit
];

export const INVALID_KEYS = ['', 'nul\u0000byte', 'lone\ud800surrogate', 'x'.repeat(1025)];

/** JSON texts that must come back as the same data (compared canonically) or be rejected with a reason. */
export const TRICKY_JSON = [
  '12345678901234567890123',
  '{"big":9007199254740993,"neg":-9007199254740993}',
  '0.1000000000000000055511151231257827021181583404541015625',
  '{"price":19.99,"ratio":1.0,"exp":1e-7,"large":1.5e300}',
  '-0',
  '{"s":"quote\\" backslash\\\\ tab\\t nl\\n \\u2028 \\u2029 \\ud83d\\ude00 é 中"}',
  '"\\u00e9 vs e\\u0301"',
  '[1,"two",true,false,null,{"nested":[[[]]]},{}]',
  '{"b":1,"a":2,"c":{"z":true,"y":[3,2,1]}}',
  'null',
  'true',
  '"plain string"',
  '[]',
  '{}',
];

export function deepJson(depth: number): string {
  return '['.repeat(depth) + '1' + ']'.repeat(depth);
}

export function records(keys: string[], value: (key: string, i: number) => string = (k, i) => JSON.stringify({ k, i })): StoredRecord[] {
  return keys.map((key, i) => ({ key, value: value(key, i) }));
}
