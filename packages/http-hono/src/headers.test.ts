import { describe, expect, it } from 'vitest';
import { ifNoneMatchMatches, parseIdempotencyKey, parseIfNoneMatch, parsePreferWait } from './headers.js';

describe('parsePreferWait', () => {
  it('reads wait=N among other preferences', () => {
    expect(parsePreferWait('wait=10')).toBe(10);
    expect(parsePreferWait('respond-async, wait=5')).toBe(5);
    expect(parsePreferWait('WAIT = 7')).toBe(7);
    expect(parsePreferWait('wait="3"')).toBe(3);
    expect(parsePreferWait('return=minimal; foo="a,b", wait=4')).toBe(4);
    expect(parsePreferWait('wait=0')).toBe(0);
  });

  it('takes the first wait only (RFC 7240 §2)', () => {
    expect(parsePreferWait('wait=2, wait=9')).toBe(2);
  });

  it('ignores absent or invalid values', () => {
    expect(parsePreferWait(null)).toBeNull();
    expect(parsePreferWait(undefined)).toBeNull();
    expect(parsePreferWait('')).toBeNull();
    expect(parsePreferWait('respond-async')).toBeNull();
    expect(parsePreferWait('wait')).toBeNull();
    expect(parsePreferWait('wait=-1')).toBeNull();
    expect(parsePreferWait('wait=1.5')).toBeNull();
    expect(parsePreferWait('wait=abc')).toBeNull();
    expect(parsePreferWait('waiting=3')).toBeNull();
  });
});

describe('parseIdempotencyKey', () => {
  it('reads a Structured Field string (RFC 8941), its escapes and surrounding spaces', () => {
    expect(parseIdempotencyKey('"8e03978e-40d5-43e8"')).toBe('8e03978e-40d5-43e8');
    expect(parseIdempotencyKey('  "abc"  ')).toBe('abc');
    expect(parseIdempotencyKey('"a\\"b\\\\c"')).toBe('a"b\\c');
    expect(parseIdempotencyKey('","')).toBe(',');
    expect(parseIdempotencyKey(null)).toBeNull();
    expect(parseIdempotencyKey(undefined)).toBeNull();
  });

  it('rejects tokens, lists, parameters, empty keys and malformed strings with a 422 naming the header', () => {
    for (const value of [
      ',',
      '',
      ' ',
      '""',
      'abc-123',
      'abc',
      '"abc", "def"',
      '"abc",',
      '"abc";p=1',
      '"abc',
      '"abc"x',
      '"a\\nb"',
      'a b',
      'a"b',
      '"a\u00e9"',
      '"a\tb"',
      '?1',
      '42',
    ]) {
      expect(() => parseIdempotencyKey(value), value).toThrow(
        expect.objectContaining({ status: 422, code: 'invalid_input' }),
      );
    }
  });
});

describe('parseIfNoneMatch', () => {
  it('reads *, one tag or a list, weak or strong (the W/ is dropped: weak comparison)', () => {
    expect(parseIfNoneMatch('*')).toBe('*');
    expect(parseIfNoneMatch(' * ')).toBe('*');
    expect(parseIfNoneMatch('"abc"')).toEqual(['"abc"']);
    expect(parseIfNoneMatch('W/"abc"')).toEqual(['"abc"']);
    expect(parseIfNoneMatch('"a", W/"b",\t"c,d" ,, ""')).toEqual(['"a"', '"b"', '"c,d"', '""']);
  });

  it('ignores an absent, empty or unreadable header (null: answered unconditionally)', () => {
    for (const header of [
      null,
      undefined,
      '',
      ' , ',
      'abc',
      '"abc',
      'w/"abc"',
      '"a" "b"',
      '"a"x',
      '"a b"',
      '*, "a"',
    ]) {
      expect(parseIfNoneMatch(header)).toBeNull();
    }
  });
});

describe('ifNoneMatchMatches', () => {
  it('compares opaque tags, whichever side is weak; * matches any tag', () => {
    expect(ifNoneMatchMatches(['"1-a"'], '"1-a"')).toBe(true);
    expect(ifNoneMatchMatches(['"1-a"'], 'W/"1-a"')).toBe(true);
    expect(ifNoneMatchMatches(parseIfNoneMatch('W/"1-a"')!, '"1-a"')).toBe(true);
    expect(ifNoneMatchMatches(['"0-b"', '"1-a"'], '"1-a"')).toBe(true);
    expect(ifNoneMatchMatches(['"1-b"'], '"1-a"')).toBe(false);
    expect(ifNoneMatchMatches(['"1-A"'], '"1-a"')).toBe(false);
    expect(ifNoneMatchMatches('*', '"1-a"')).toBe(true);
  });
});
