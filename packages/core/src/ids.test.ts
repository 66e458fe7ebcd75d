import { describe, expect, it } from 'vitest';
import { InvalidInputError } from './errors.js';
import {
  decodeCursor,
  encodeCursor,
  hashInput,
  isJobId,
  newJobId,
  stableStringify,
  walkInput,
} from './ids.js';

describe('job ids', () => {
  it('are random UUIDs that isJobId accepts', () => {
    const ids = new Set(Array.from({ length: 1000 }, newJobId));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(isJobId(id)).toBe(true);
  });
  it.each(['', 'abc', '../../etc/passwd', `${newJobId()}x`, newJobId().toUpperCase()])('rejects %j', (id) => {
    expect(isJobId(id)).toBe(false);
  });
});

describe('hashInput', () => {
  it('ignores key order and tells different values apart', async () => {
    expect(stableStringify({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[1,{"x":1,"y":2}]},"b":1}',
    );
    expect(await hashInput({ a: 1, b: 2 })).toBe(await hashInput({ b: 2, a: 1 }));
    expect(await hashInput({ a: 1 })).not.toBe(await hashInput({ a: 2 }));
    expect(await hashInput(undefined)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses an input nested too deeply to walk with a typed 422, not a RangeError', async () => {
    const deep = JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`) as unknown;
    const error = await hashInput(deep).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error).toMatchObject({ status: 422, issues: [{ path: [], code: 'too_deep' }] });
  });
});

describe('walkInput', () => {
  it('turns a stack overflow into InvalidInputError and lets any other error through', () => {
    const overflow = (n: number): number => overflow(n + 1) + 1;
    expect(() => walkInput(() => overflow(0))).toThrow(InvalidInputError);
    const other = new TypeError('not mine');
    expect(() =>
      walkInput(() => {
        throw other;
      }),
    ).toThrow(other);
    expect(walkInput(() => 42)).toBe(42);
  });
});

describe('cursors', () => {
  it('round-trip a position', () => {
    const position = { createdAt: new Date('2026-01-02T03:04:05.678Z'), id: newJobId() };
    const cursor = encodeCursor(position);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor)).toEqual(position);
  });
  it('take the times every store can read: 1970 to the end of 9999', () => {
    for (const time of [0, Date.UTC(9999, 11, 31, 23, 59, 59, 999)]) {
      const position = { createdAt: new Date(time), id: newJobId() };
      expect(decodeCursor(encodeCursor(position))).toEqual(position);
    }
  });
  it.each([
    '',
    'not-a-cursor',
    btoa('[1,"x"]'),
    btoa('{"a":1}'),
    '%%%',
    encodeCursor({ createdAt: new Date(0), id: newJobId() }).replace(/./, 'x'),
    btoa(JSON.stringify([8.64e15 + 1, newJobId()])),
    btoa(JSON.stringify([8.64e15, newJobId()])),
    btoa(JSON.stringify([Date.UTC(10000, 0, 1), newJobId()])),
    btoa(JSON.stringify([-1, newJobId()])),
    btoa(JSON.stringify([1.5, newJobId()])),
  ])('reject %j with a typed error', (cursor) => {
    expect(() => decodeCursor(cursor)).toThrow(InvalidInputError);
  });
});
