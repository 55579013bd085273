import { describe, expect, it } from 'vitest';
import { canonicalJson, sameValue } from '../../src/core/canonical.js';
import { recordDigestHex } from '../../src/core/digest.js';

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
