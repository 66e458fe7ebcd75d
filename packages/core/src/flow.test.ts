import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineEndpoint } from './endpoint.js';
import { type DispatchLimits, type FlowCandidate, type FlowState, NO_LIMITS, planDispatch } from './flow.js';
import { newJob } from './submit.js';

const NOW = 1_700_000_000_000;

function jobs(key: string, count: number, from = 0, extra: Partial<FlowCandidate> = {}): FlowCandidate[] {
  return Array.from({ length: count }, (_, index) => ({
    id: `${key}-${String(from + index).padStart(4, '0')}`,
    key,
    priority: 0,
    runAt: NOW - 1_000 + from + index,
    holdsSlot: false,
    ...extra,
  }));
}

function plan(state: Partial<Omit<FlowState, 'limits'>> & { limits?: Partial<DispatchLimits> }) {
  return planDispatch({
    candidates: [],
    inflight: new Map(),
    ahead: 0,
    recent: [],
    limit: 100,
    maxAhead: null,
    now: NOW,
    ...state,
    limits: { ...NO_LIMITS, ...state.limits },
  });
}

const ids = (result: { chosen: FlowCandidate[] }) => result.chosen.map((candidate) => candidate.id);

describe('planDispatch', () => {
  it('takes turns between keys: the key with the fewest jobs in flight first, then by priority and runAt', () => {
    const result = plan({
      candidates: [...jobs('big', 1_000), ...jobs('small', 2, 5_000)],
      inflight: new Map([['big', 1]]),
      limit: 5,
    });
    expect(ids(result)).toEqual(['small-5000', 'big-0000', 'small-5001', 'big-0001', 'big-0002']);
  });

  it('keeps to the per-key and global concurrency, counting the jobs in flight', () => {
    const candidates = [...jobs('a', 5), ...jobs('b', 5), ...jobs('c', 5)];
    const perKey = plan({
      candidates,
      inflight: new Map([['a', 2]]),
      limits: { concurrencyPerKey: 2 },
    });
    expect(ids(perKey).filter((id) => id.startsWith('a'))).toEqual([]);
    expect(ids(perKey)).toHaveLength(4);
    const global = plan({ candidates, inflight: new Map([['a', 1]]), limits: { concurrency: 3 } });
    expect(ids(global)).toEqual(['b-0000', 'c-0000']);
  });

  it('jobs already counted (lost message, expired lease) go first and need no concurrency room, only rate', () => {
    const orphan = jobs('a', 1, 9_000, { holdsSlot: true });
    const result = plan({
      candidates: [...jobs('a', 3), ...orphan],
      inflight: new Map([['a', 1]]),
      limits: { concurrency: 1 },
    });
    expect(ids(result)).toEqual(['a-9000']);
    const limited = plan({
      candidates: orphan,
      recent: [{ key: 'a', at: NOW - 10 }],
      limits: { rate: { limit: 1, intervalMs: 1_000 } },
    });
    expect(ids(limited)).toEqual([]);
    expect(limited.rateWaitMs).toBe(990);
  });

  it('a sliding window per endpoint and per key; waking when the oldest hand-out that blocks leaves it', () => {
    const candidates = [...jobs('a', 3), ...jobs('b', 3)];
    const recent = [
      { key: 'a', at: NOW - 900 },
      { key: 'a', at: NOW - 1_000 }, // out of the window: older than intervalMs
    ];
    const global = plan({ candidates, recent, limits: { rate: { limit: 3, intervalMs: 1_000 } } });
    expect(ids(global)).toHaveLength(2);
    expect(global.rateWaitMs).toBe(100);
    const perKey = plan({ candidates, recent, limits: { ratePerKey: { limit: 2, intervalMs: 1_000 } } });
    expect(ids(perKey).filter((id) => id.startsWith('a'))).toHaveLength(1);
    expect(ids(perKey).filter((id) => id.startsWith('b'))).toHaveLength(2);
    expect(perKey.rateWaitMs).toBe(100);
    expect(plan({ candidates, limits: { rate: { limit: 10, intervalMs: 1_000 } } }).rateWaitMs).toBeNull();
  });

  it('keeps to maxAhead and to the batch limit', () => {
    const candidates = jobs('a', 10);
    expect(ids(plan({ candidates, maxAhead: 3, ahead: 1 }))).toHaveLength(2);
    expect(ids(plan({ candidates, limit: 4 }))).toHaveLength(4);
  });
});

describe('endpoint limits', () => {
  const schemas = { input: z.object({ tenant: z.string() }), output: z.object({}) };

  it('are checked when the endpoint is defined', () => {
    expect(defineEndpoint({ name: 'free', ...schemas }).limits).toBeNull();
    const limited = defineEndpoint({
      name: 'limited',
      ...schemas,
      limits: { key: (input) => input.tenant, concurrencyPerKey: 2, rate: { limit: 5, intervalMs: 1_000 } },
    });
    expect(limited.limits).toMatchObject({
      concurrency: null,
      concurrencyPerKey: 2,
      rate: { limit: 5, intervalMs: 1_000 },
      ratePerKey: null,
    });
    const bad = [
      { concurrency: 0 },
      { concurrencyPerKey: 1 },
      { ratePerKey: { limit: 1, intervalMs: 10 } },
      { rate: { limit: 1 } },
      { rate: { limit: 1.5, intervalMs: 10 } },
      { key: 'tenant' },
    ];
    for (const limits of bad) {
      expect(() => defineEndpoint({ name: 'bad', ...schemas, limits: limits as never })).toThrow(
        expect.objectContaining({ name: 'InvalidEndpointError' }),
      );
    }
  });

  it("store each job's key, computed from the parsed input and the owner at submit", async () => {
    const limited = defineEndpoint({
      name: 'limited',
      ...schemas,
      limits: { key: (input, { owner }) => `${owner}/${input.tenant}`, concurrencyPerKey: 1 },
    });
    expect((await newJob(limited, { tenant: 't1' }, {}, 'alice')).limitKey).toBe('alice/t1');
    const global = defineEndpoint({ name: 'global', ...schemas, limits: { concurrency: 1 } });
    expect((await newJob(global, { tenant: 't1' }, {}, null)).limitKey).toBe('');
    const free = defineEndpoint({ name: 'free', ...schemas });
    expect((await newJob(free, { tenant: 't1' }, {}, null)).limitKey).toBeUndefined();
    const empty = defineEndpoint({ name: 'empty', ...schemas, limits: { key: () => '' } });
    await expect(newJob(empty, { tenant: 't1' }, {}, null)).rejects.toMatchObject({
      name: 'InvalidInputError',
    });
  });
});
