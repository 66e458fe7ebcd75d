import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { backoffDelay, defineEndpoint } from './endpoint.js';
import { InvalidEndpointError } from './errors.js';

const schemas = { input: z.object({ n: z.number() }), output: z.object({ ok: z.boolean() }) };

describe('defineEndpoint', () => {
  it('applies the documented defaults', () => {
    const endpoint = defineEndpoint({ name: 'ping', ...schemas });
    expect(endpoint).toMatchObject({
      name: 'ping',
      retentionMs: 24 * 60 * 60 * 1000,
      timeoutMs: null,
      maxAttempts: 3,
      concurrency: 4,
      backoff: { initialMs: 1000, factor: 2, maxMs: 300_000 },
    });
    expect(Object.isFrozen(endpoint)).toBe(true);
  });

  it.each([
    '',
    'Ping',
    '1ping',
    'a/b',
    'a.b',
    'a b',
    '../x',
    'x'.repeat(64),
    'openapi.json',
  ])('rejects the name %j, which could not be a queue name and URL segment', (name) => {
    expect(() => defineEndpoint({ name, ...schemas })).toThrow(InvalidEndpointError);
  });

  it.each([
    { maxAttempts: 0 },
    { maxAttempts: 1.5 },
    { concurrency: 0 },
    { retentionMs: -1 },
    { timeoutMs: 0 },
    { backoff: { factor: 0 } },
    { backoff: { initialMs: Number.NaN } },
  ])('rejects invalid options %j', (options) => {
    expect(() => defineEndpoint({ name: 'ping', ...schemas, ...options })).toThrow(InvalidEndpointError);
  });

  it('takes a unique key function, and refuses a unique option that is not { key: function }', () => {
    expect(defineEndpoint({ name: 'ping', ...schemas }).unique).toBeNull();
    const key = (input: { n: number }) => `n-${input.n}`;
    const endpoint = defineEndpoint({ name: 'ping', ...schemas, unique: { key } });
    expect(endpoint.unique?.key({ n: 2 }, { owner: null })).toBe('n-2');
    for (const unique of [{}, { key: 'n' }, null, 'n']) {
      expect(() => defineEndpoint({ name: 'ping', ...schemas, unique: unique as never })).toThrow(
        /unique must be/,
      );
    }
  });

  it('rejects values that are not zod schemas', () => {
    expect(() => defineEndpoint({ name: 'ping', input: {} as never, output: schemas.output })).toThrow(
      /zod schemas/,
    );
  });
});

describe('backoffDelay', () => {
  const backoff = { initialMs: 1000, factor: 2, maxMs: 5000, jitter: 0.2 };
  it('grows exponentially from the first retry and stops at the bound', () => {
    const middle = () => 0.5;
    expect(backoffDelay(backoff, 2, middle)).toBe(1000);
    expect(backoffDelay(backoff, 3, middle)).toBe(2000);
    expect(backoffDelay(backoff, 4, middle)).toBe(4000);
    expect(backoffDelay(backoff, 10, middle)).toBe(5000);
  });
  it('jitters by ±20 % by default, by the configured fraction otherwise', () => {
    expect(backoffDelay(backoff, 2, () => 0)).toBe(800);
    expect(backoffDelay(backoff, 2, () => 1)).toBe(1200);
    expect(backoffDelay({ ...backoff, jitter: 1 }, 2, () => 0)).toBe(0);
    expect(backoffDelay({ ...backoff, jitter: 0 }, 2, () => 1)).toBe(1000);
  });
});

describe('scheduling options of an endpoint', () => {
  const schemas = { input: z.object({}), output: z.object({}) };
  it('defaults: priority 0, no dispatch bound, no custom retry policy, jitter 0.2', () => {
    const endpoint = defineEndpoint({ name: 'sched', ...schemas });
    expect(endpoint).toMatchObject({
      priority: 0,
      dispatchAhead: null,
      retry: null,
      backoff: { jitter: 0.2 },
    });
  });
  it.each([
    { priority: 1001 },
    { priority: 1.5 },
    { dispatchAhead: 0 },
    { backoff: { jitter: 1.5 } },
    { retry: 'soon' as never },
  ])('refuses %j with InvalidEndpointError', (options) => {
    expect(() => defineEndpoint({ name: 'sched', ...schemas, ...options })).toThrow(InvalidEndpointError);
  });
});
