import { type DispatchItem, type DispatchLimits, NO_LIMITS } from '@jobs/core';
import { expect } from 'vitest';
import { delay, makeNewJob, problem } from '../helpers.js';
import {
  type ContractSuite,
  finalOutcome,
  LONG,
  type RepositoryFixture,
  retry,
  SHORT,
  type SubSuite,
  subSuite,
  unwrap,
} from './fixture.js';

/** A rate interval the suite lets pass with `clock.pass` (real time without a controllable clock). */
const INTERVAL = 300;

/**
 * `dispatch` with `limits` (flow limits): keyed jobs are handed out only by such a dispatch; the concurrency caps
 * count jobs from their dispatch until they are final or queued again; the rates count hand-outs per interval;
 * keys take fair turns; concurrent dispatches never exceed a cap together.
 */
export const describeLimitsContract: SubSuite = subSuite('flow limits', (suite) => {
  limitsTests(suite);
});

const caps = (limits: Partial<DispatchLimits>): DispatchLimits => ({ ...NO_LIMITS, ...limits });

async function createKeyed(f: RepositoryFixture, key: string, count: number, priority = 0) {
  const results = await f.repo.create(
    Array.from({ length: count }, () => makeNewJob(f.endpoint, { limitKey: key, priority })),
  );
  return results.map((result) => unwrap(result).job);
}

const idsOf = (items: readonly DispatchItem[]) => items.map((item) => item.id);

function limitsTests({ test, clockTest }: ContractSuite): void {
  test('keyed jobs are handed out only by a dispatch with limits, and such a dispatch takes only them', async (f) => {
    const [orphan] = await createKeyed(f, 'tenant-a', 1);
    expect(idsOf((await f.dispatch({ limits: NO_LIMITS })).items)).toEqual([orphan!.id]);
    expect(await f.claim(orphan!.id, { leaseMs: SHORT })).not.toBeNull();
    const plain = await f.create();
    const [keyed] = await createKeyed(f, 'tenant-a', 1);
    await f.clock.pass(SHORT);

    const general = await f.dispatch({ redispatchAfterMs: 0 }, (items) => items.map(() => false));
    expect(idsOf(general.items)).toEqual([plain.id]);
    const everywhere = await f.dispatch({ endpoints: undefined, limit: 1_000 }, (items) =>
      items.map(() => false),
    );
    expect(idsOf(everywhere.items)).not.toContain(keyed!.id);
    expect(idsOf(everywhere.items)).not.toContain(orphan!.id);

    const limited = await f.dispatch({ limits: NO_LIMITS });
    expect(idsOf(limited.items).sort()).toEqual([keyed!.id, orphan!.id].sort());
    expect(limited).toMatchObject({ dispatched: 2, found: 2 });
    expect((await f.header(keyed!.id))?.dispatchedAt).toBeInstanceOf(Date);
    expect((await f.dispatch({ limits: NO_LIMITS })).found).toBe(0);
    expect(idsOf((await f.dispatch()).items)).toEqual([plain.id]);
  });

  test('concurrency: a job counts from its dispatch until it is final or queued again, not until it starts', async (f) => {
    const limits = caps({ concurrency: 2 });
    const jobs = await createKeyed(f, '', 4);
    const first = await f.dispatch({ limits });
    expect(first).toMatchObject({ dispatched: 2, found: 2 });
    expect((await f.dispatch({ limits })).found).toBe(0);

    const [a, b] = idsOf(first.items);
    const claimed = await f.claim(a!);
    expect((await f.dispatch({ limits })).found).toBe(0);
    // A retry puts the job back in the queue: its slot is free (and it may take it again itself).
    expect(await f.settle(a!, claimed!.leaseToken!, retry(LONG, { error: null }))).toBe(true);
    const afterRetry = await f.dispatch({ limits });
    expect(afterRetry.found).toBe(1);
    const c = afterRetry.items[0]!.id;
    expect([a, b]).not.toContain(c);

    const running = await f.claim(b!);
    expect(await f.settle(b!, running!.leaseToken!, finalOutcome('succeeded', LONG))).toBe(true);
    const afterFinal = await f.dispatch({ limits });
    expect(afterFinal.found).toBe(1);
    expect(jobs.map((job) => job.id)).toContain(afterFinal.items[0]!.id);
    expect((await f.dispatch({ limits })).found).toBe(0);

    // A canceled queued job frees its slot too.
    await f.repo.requestCancel(c, { retentionMs: LONG, error: problem('canceled') });
    expect((await f.dispatch({ limits })).found).toBe(0);
  });

  test('concurrencyPerKey: at most that many of one key at once, the other keys unaffected', async (f) => {
    const limits = caps({ concurrencyPerKey: 2 });
    const a = await createKeyed(f, 'a', 5);
    const b = await createKeyed(f, 'b', 1);
    const first = await f.dispatch({ limits });
    const ids = idsOf(first.items);
    expect(ids).toHaveLength(3);
    expect(ids).toContain(b[0]!.id);
    expect(ids.filter((id) => a.some((job) => job.id === id))).toHaveLength(2);
    expect((await f.dispatch({ limits })).found).toBe(0);
    const more = await createKeyed(f, 'c', 3);
    const third = await f.dispatch({ limits });
    expect(third.found).toBe(2);
    for (const id of idsOf(third.items)) expect(more.map((job) => job.id)).toContain(id);
  });

  test('fair turns: the key with the fewest jobs handed out goes first, whatever the backlog of the others', async (f) => {
    const big = await createKeyed(f, 'big', 40);
    await f.clock.pass(5);
    const small = await createKeyed(f, 'small', 2);
    const first = await f.dispatch({ limits: NO_LIMITS, limit: 4 });
    const ids = idsOf(first.items);
    expect(ids).toHaveLength(4);
    // Turns 0, 0, 1, 1: both keys' first two, each key's in its own order.
    expect(ids.filter((id) => small.some((job) => job.id === id)).sort()).toEqual(
      small.map((job) => job.id).sort(),
    );
    expect(ids.filter((id) => big.some((job) => job.id === id))).toHaveLength(2);
    // The next turns go to the big key only (the small one has nothing left), and count its jobs in flight.
    const later = await createKeyed(f, 'late', 1);
    const next = await f.dispatch({ limits: NO_LIMITS, limit: 1 });
    expect(idsOf(next.items)).toEqual([later[0]!.id]);
  });

  test('priority orders the jobs of one key; turns still go round the keys', async (f) => {
    const [low] = await createKeyed(f, 'a', 1, 0);
    const [high] = await createKeyed(f, 'a', 1, 10);
    const [other] = await createKeyed(f, 'b', 1, -5);
    const result = await f.dispatch({ limits: caps({ concurrencyPerKey: 1 }) });
    expect(idsOf(result.items).sort()).toEqual([high!.id, other!.id].sort());
    expect(idsOf(result.items)).not.toContain(low!.id);
  });

  test('a lost message or an expired lease handed out again keeps its slot: it needs no room', async (f) => {
    const limits = caps({ concurrency: 1 });
    const [first, second] = await createKeyed(f, '', 2);
    expect((await f.dispatch({ limits })).items).toHaveLength(1);
    const dispatchedId = (await f.header(first!.id))?.dispatchedAt ? first!.id : second!.id;
    const waitingId = dispatchedId === first!.id ? second!.id : first!.id;
    await f.claim(dispatchedId, { leaseMs: SHORT });
    await f.clock.pass(SHORT);
    const again = await f.dispatch({ limits });
    expect(idsOf(again.items)).toEqual([dispatchedId]);
    expect((await f.header(waitingId))?.dispatchedAt).toBeNull();
    // A message lost: handed out again after redispatchAfterMs, still within the one slot.
    await f.clock.pass(SHORT);
    const stale = await f.dispatch({ limits, redispatchAfterMs: 0 });
    expect(idsOf(stale.items)).toEqual([dispatchedId]);
  });

  test('with maxAhead, at most that many keyed jobs wait in the queue unclaimed', async (f) => {
    const jobs = await createKeyed(f, 'a', 4);
    const first = await f.dispatch({ limits: NO_LIMITS, maxAhead: 2 });
    expect(first.found).toBe(2);
    expect((await f.dispatch({ limits: NO_LIMITS, maxAhead: 2 })).found).toBe(0);
    await f.claim(first.items[0]!.id);
    expect((await f.dispatch({ limits: NO_LIMITS, maxAhead: 2 })).found).toBe(1);
    expect(jobs).toHaveLength(4);
  });

  test('rate: at most limit hand-outs per interval; nextDueInMs says when the next may go; the rest wait queued', async (f) => {
    const limits = caps({ rate: { limit: 2, intervalMs: INTERVAL } });
    const jobs = await createKeyed(f, '', 5);
    const first = await f.dispatch({ limits });
    expect(first.found).toBe(2);
    expect(first.nextDueInMs).not.toBeNull();
    expect(first.nextDueInMs!).toBeGreaterThan(0);
    expect(first.nextDueInMs!).toBeLessThanOrEqual(INTERVAL);
    expect((await f.dispatch({ limits })).found).toBe(0);
    // Claiming and finishing does not give a hand-out back: the rate counts hand-outs, not jobs in flight.
    for (const item of first.items) await f.claim(item.id);
    expect((await f.dispatch({ limits })).found).toBe(0);
    await f.clock.pass(INTERVAL);
    expect((await f.dispatch({ limits })).found).toBe(2);
    const waiting = await Promise.all(jobs.map((job) => f.header(job.id)));
    expect(waiting.filter((job) => job?.status === 'queued' && job.dispatchedAt === null)).toHaveLength(1);
  });

  test('ratePerKey: each key has its own window', async (f) => {
    const limits = caps({ ratePerKey: { limit: 1, intervalMs: INTERVAL } });
    await createKeyed(f, 'a', 2);
    await createKeyed(f, 'b', 2);
    expect((await f.dispatch({ limits })).found).toBe(2);
    expect((await f.dispatch({ limits })).found).toBe(0);
    await f.clock.pass(INTERVAL);
    const next = await f.dispatch({ limits });
    expect(next.found).toBe(2);
  });

  clockTest(
    'rate: a sliding window, exact to the millisecond, waking exactly when a hand-out may go',
    async (f) => {
      const limits = caps({ rate: { limit: 2, intervalMs: 1_000 } });
      await createKeyed(f, '', 1);
      expect((await f.dispatch({ limits })).found).toBe(1);
      await f.clock.pass(400);
      await createKeyed(f, '', 3);
      const second = await f.dispatch({ limits });
      expect(second.found).toBe(1);
      // The first hand-out leaves the window 1 000 ms after it was made: 600 ms from now.
      expect(second.nextDueInMs).toBe(600);
      await f.clock.pass(599);
      expect((await f.dispatch({ limits })).found).toBe(0);
      await f.clock.pass(1);
      const third = await f.dispatch({ limits });
      expect(third.found).toBe(1);
      expect(third.nextDueInMs).toBe(400);
    },
  );

  test('concurrent dispatches of one endpoint never exceed a limit together', async (f) => {
    const limits = caps({ concurrency: 3, concurrencyPerKey: 2 });
    await createKeyed(f, 'a', 10);
    await createKeyed(f, 'b', 10);
    const publish = async (items: readonly DispatchItem[]) => {
      await delay(20);
      return items.map(() => true);
    };
    const results = await Promise.all(Array.from({ length: 4 }, () => f.dispatch({ limits }, publish)));
    expect(results.reduce((sum, result) => sum + result.dispatched, 0)).toBe(3);
  });
}
