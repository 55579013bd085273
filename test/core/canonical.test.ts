import { describe, expect, it } from 'vitest';
import { canonicalJson, normaliseNumber, sameValue } from '../../src/core/canonical.js';
import { recordDigestHex } from '../../src/core/digest.js';

/** Deterministic integers below n (xorshift32). */
function randomInts(seed: number): (n: number) => number {
  let x = seed;
  return (n) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return Math.floor(((x >>> 0) / 2 ** 32) * n);
  };
}

describe('canonicalJson', () => {
  it('sorts members by UTF-16 code units and drops whitespace', () => {
    expect(canonicalJson('{ "b" : 1, "a" : [ 1 , 2 ], "é": null, "Z": {} }')).toBe('{"Z":{},"a":[1,2],"b":1,"é":null}');
  });

  it('keeps numbers exact and writes one form per value', () => {
    const cases: [string, string][] = [
      ['1', '1'], ['1.0', '1'], ['1e0', '1'], ['10e-1', '1'], ['100', '100'], ['1e2', '100'], ['1E+2', '100'],
      ['0.5', '0.5'], ['5e-1', '0.5'], ['0.000001', '0.000001'], ['1e-7', '1e-7'], ['1.5e300', '1.5e+300'],
      ['1e21', '1e+21'], ['123456789012345678901', '123456789012345678901'],
      ['9007199254740993', '9007199254740993'], ['-9007199254740993', '-9007199254740993'],
      ['12345678901234567890123', '1.2345678901234567890123e+22'],
      ['0.1000000000000000055511151231257827021181583404541015625', '0.1000000000000000055511151231257827021181583404541015625'],
      ['0', '0'], ['0.0', '0'], ['-0', '-0'], ['-0.0e5', '-0'], ['1e400', '1e+400'], ['-1.50', '-1.5'],
    ];
    for (const [input, want] of cases) expect(canonicalJson(input), input).toBe(want);
  });

  it('matches JSON.stringify for every number a double holds exactly in its shortest form', () => {
    for (const n of [0.1, 1.5, 123.456, 1e-7, 2 ** 52, 1e21, 1e-6, 5e-324, 1.7976931348623157e308, -42.25]) {
      expect(canonicalJson(JSON.stringify(n))).toBe(JSON.stringify(n));
    }
  });

  it('re-escapes strings the way JSON.stringify does and never normalises Unicode', () => {
    expect(canonicalJson('"\\u0041\\/\\ud83d\\ude00"')).toBe('"A/😀"');
    expect(canonicalJson('"\\u00e9"')).not.toBe(canonicalJson('"e\\u0301"'));
    expect(canonicalJson('"\\u2028"')).toBe(JSON.stringify('\u2028'));
    // A raw lone surrogate (a JavaScript string, not decoded UTF-8) is escaped like JSON.stringify does.
    expect(canonicalJson('{"\ud800":"a\udc00"}')).toBe('{"\\ud800":"a\\udc00"}');
  });

  it('writes every number spelling as the exact normal form, with or without the fast path', () => {
    // The reference: the number's parts through normaliseNumber (decimal exponent arithmetic).
    const reference = (t: string) => {
      const m = /^(-?)(0|[1-9][0-9]*)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?$/.exec(t)!;
      return normaliseNumber(m[1] === '-', m[2]!, m[3] ?? '', m[4] ?? '0');
    };
    const rand = randomInts(7);
    const digits = (n: number) => Array.from({ length: n }, () => '0123456789'[rand(10)]).join('');
    for (let k = 0; k < 20_000; k++) {
      const int = rand(4) === 0 ? '0' : String(1 + rand(9)) + digits(rand(25));
      const zeros = '0'.repeat(rand(3) === 0 ? rand(9) : 0);
      const frac = rand(2) === 0 ? '' : '.' + zeros + digits(1 + rand(8)) + '0'.repeat(rand(3));
      const exp = rand(5) === 0 ? `${'eE'[rand(2)]}${['', '+', '-'][rand(3)]}${rand(30)}` : '';
      const t = `${rand(3) === 0 ? '-' : ''}${int}${frac}${exp}`;
      expect(canonicalJson(t), t).toBe(reference(t));
      expect(canonicalJson(`[${t}]`), t).toBe(`[${reference(t)}]`);
    }
    for (const bad of ['01', '1.', '.5', '-', '1.e3', '-01.5', '1e', '00']) expect(() => canonicalJson(bad), bad).toThrow(/position/);
  });

  it('gives JSON.stringify with sorted members for any document whose numbers a double holds', () => {
    // The reference: parse, then write with members sorted by UTF-16 code units.
    const write = (v: unknown): string => {
      if (Array.isArray(v)) return `[${v.map(write).join(',')}]`;
      if (v !== null && typeof v === 'object') {
        const o = v as Record<string, unknown>;
        return `{${Object.keys(o).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map((k) => `${JSON.stringify(k)}:${write(o[k])}`).join(',')}}`;
      }
      return JSON.stringify(v);
    };
    const rand = randomInts(11);
    // JSON text of member names and strings: escapes, astral characters, a lone surrogate, NUL.
    const names = [...'a b ab B é 😀 __proto__ Z9 zz'.split(' '), '', String.raw`e\u0301`, String.raw`\ud83d\ude00`, String.raw`a\"b`, String.raw`x\\y`, String.raw`\u0000`, String.raw`\ud800`];
    const strings = ['plain', 'Grüße 🚀', '', String.raw`\n\t`, String.raw`\u2028`, String.raw`\ud800 lone`, String.raw`a\/b`];
    const sp = () => [' ', '', '\n', '\t '][rand(4)]!;
    const doc = (depth: number): string => {
      const k = rand(depth > 3 ? 3 : 6);
      if (k === 0) return JSON.stringify([0.1, 1.5, 123.456, 1e-7, 42, -7, 1e21, 5e-324][rand(8)]).replace(/^(\d+)$/, (d) => (rand(2) ? d : `${d}.000`));
      if (k === 1) return `"${strings[rand(strings.length)]}"`;
      if (k === 2) return ['true', 'false', 'null'][rand(3)]!;
      if (k === 3) return `[${sp()}${Array.from({ length: rand(4) }, () => doc(depth + 1)).join(`${sp()},${sp()}`)}${sp()}]`;
      // Members in any order, some names twice: the last one wins.
      return `{${sp()}${Array.from({ length: rand(6) }, () => `"${names[rand(names.length)]}"${sp()}:${sp()}${doc(depth + 1)}`).join(`,${sp()}`)}${sp()}}`;
    };
    for (let k = 0; k < 5_000; k++) {
      const t = doc(0);
      expect(canonicalJson(t), t).toBe(write(JSON.parse(t)));
    }
  });

  it('keeps the last of duplicate member names, as JSON.parse does', () => {
    expect(canonicalJson('{"a":1,"a":2}')).toBe('{"a":2}');
  });

  it('rejects malformed JSON with a position', () => {
    for (const bad of ['{', '{"a":}', '[1,]', '01', '"unterminated', 'tru', '1 2', '{"a" 1}', '"\u0001"']) {
      expect(() => canonicalJson(bad), bad).toThrow(/position/);
    }
  });
});

describe('sameValue and digests', () => {
  it('treats key order and number spelling as the same data, real changes as different', () => {
    expect(sameValue('{"a":1,"b":2.0}', '{"b":2,"a":1.00}')).toBe(true);
    expect(sameValue('{"a":9007199254740993}', '{"a":9007199254740992}')).toBe(false);
    expect(sameValue('{"a":"x"}', '{"a":"y"}')).toBe(false);
    expect(sameValue('0', '-0')).toBe(false);
    expect(sameValue(Buffer.from('1'), '1')).toBe(false);
    expect(recordDigestHex('k', '{"a":1,"b":[1.0]}')).toBe(recordDigestHex('k', '{"b":[1],"a":1}'));
    expect(recordDigestHex('k', '1')).not.toBe(recordDigestHex('k2', '1'));
  });
});
