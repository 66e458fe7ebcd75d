import {
  type ItemResult,
  isFinalStatus,
  type JobChange,
  type JobRecordHeader,
  type JobRepository,
  type NewJob,
  newJobId,
  type ProblemDetails,
  type SettleOutcome,
} from '@jobs/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryRepository } from './repository.js';
import { random } from './test-random.js';

const PROBLEM: ProblemDetails = { type: 'urn:jobs:problem:test', title: 'Test', code: 'test' };

function newJob(overrides: Partial<NewJob> = {}): NewJob {
  return {
    id: newJobId(),
    endpoint: 'resize',
    input: { width: 10 },
    owner: null,
    idempotencyKey: null,
    inputHash: null,
    maxAttempts: 3,
    ...overrides,
  };
}

/** A clock the test moves by hand. */
function manualClock(start = 1_700_000_000_000) {
  let now = start;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

/** Resolves after every queued microtask and a macrotask have run. */
function flush(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

function value<T>(result: ItemResult<T> | undefined): T {
  if (!result?.ok) throw result?.error ?? new Error('no result');
  return result.value;
}

const repositories: JobRepository[] = [];
function track(repository: JobRepository): JobRepository {
  repositories.push(repository);
  return repository;
}

afterEach(async () => {
  await Promise.all(repositories.splice(0).map((repository) => repository.close()));
});

async function create(repository: JobRepository, overrides: Partial<NewJob> = {}): Promise<JobRecordHeader> {
  return value((await repository.create([newJob(overrides)]))[0]).job;
}

async function settle(repository: JobRepository, id: string, leaseToken: string, outcome: SettleOutcome) {
  return value((await repository.settle([{ id, leaseToken, outcome }]))[0]);
}

describe('memory repository: values it cannot hold', () => {
  it('refuses values JSON cannot represent with InvalidInputError, storing nothing', async () => {
    const repository = track(createMemoryRepository());
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const input of [{ big: 1n }, cyclic]) {
      const job = newJob({ input });
      const [result] = await repository.create([job]);
      expect(result).toMatchObject({ ok: false, error: { name: 'InvalidInputError' } });
      expect(await repository.get(job.id)).toBeNull();
    }
    const stored = await create(repository);
    await repository.claim([{ id: stored.id, leaseToken: 't', leaseMs: 60_000 }]);
    const [refused] = await repository.settle([
      {
        id: stored.id,
        leaseToken: 't',
        outcome: { status: 'succeeded', output: { n: 2n }, retentionMs: 10 },
      },
    ]);
    expect(refused).toMatchObject({ ok: false, error: { name: 'InvalidInputError' } });
    expect(await repository.get(stored.id, 'header')).toMatchObject({ status: 'running', leaseToken: 't' });
  });

  it('refuses durations, limits, progress and maxAttempts it cannot hold with InvalidInputError, changing nothing', async () => {
    const repository = track(createMemoryRepository());
    const job = await create(repository);
    const invalid = { name: 'InvalidInputError' };
    for (const leaseMs of [Number.NaN, -1]) {
      await expect(repository.claim([{ id: job.id, leaseToken: 't', leaseMs }])).rejects.toMatchObject(
        invalid,
      );
    }
    expect((await repository.get(job.id, 'header'))?.status).toBe('queued');
    await repository.claim([{ id: job.id, leaseToken: 't', leaseMs: 60_000 }]);
    const beats = await repository.heartbeat([
      { id: job.id, leaseToken: 't', leaseMs: 60_000, progress: { fraction: Number.POSITIVE_INFINITY } },
      { id: job.id, leaseToken: 't', leaseMs: 60_000, estimatedRemainingMs: -5 },
      { id: job.id, leaseToken: 't', leaseMs: Number.NaN },
    ]);
    for (const beat of beats) expect(beat).toMatchObject({ ok: false, error: invalid });
    expect(await repository.get(job.id, 'header')).toMatchObject({
      progress: null,
      estimatedCompletionAt: null,
    });
    const [settled] = await repository.settle([
      { id: job.id, leaseToken: 't', outcome: { status: 'failed', error: PROBLEM, retentionMs: -1 } },
    ]);
    expect(settled).toMatchObject({ ok: false, error: invalid });
    expect((await repository.create([newJob({ maxAttempts: 0 })]))[0]).toMatchObject({
      ok: false,
      error: invalid,
    });
    await expect(repository.deleteExpired(-1)).rejects.toMatchObject(invalid);
    await expect(repository.list({ endpoint: 'resize', owner: null, limit: 1.5 })).rejects.toMatchObject(
      invalid,
    );
    await expect(
      repository.dispatch({ limit: -1, redispatchAfterMs: null }, async () => []),
    ).rejects.toMatchObject(invalid);
    await expect(
      repository.claimCleanups({ endpoints: ['resize'], limit: 1, leaseMs: -1, leaseToken: 't' }),
    ).rejects.toMatchObject(invalid);
    await expect(repository.finishCleanup(job.id, 't', -1)).rejects.toMatchObject(invalid);
    await expect(
      repository.requestCancel(job.id, { retentionMs: Number.NaN, error: PROBLEM }),
    ).rejects.toMatchObject(invalid);
    expect(await repository.get(job.id, 'header')).toMatchObject({
      status: 'running',
      cancelRequested: false,
    });
  });

  it('refuses a create past maxJobs with UnavailableError for that item only', async () => {
    const repository = track(createMemoryRepository({ maxJobs: 2 }));
    const results = await repository.create([newJob(), newJob(), newJob()]);
    expect(results.map((result) => result.ok)).toEqual([true, true, false]);
    expect(results[2]).toMatchObject({ ok: false, error: { name: 'UnavailableError' } });
    const first = value(results[0]).job;
    await repository.requestCancel(first.id, { retentionMs: 1_000, error: PROBLEM });
    await repository.remove(first.id);
    expect((await repository.create([newJob()]))[0]?.ok).toBe(true);
  });
});

describe('memory repository: injected clock', () => {
  it('takes every stored time from the clock, floored to the millisecond', async () => {
    const clock = manualClock(1_000_000);
    const repository = track(createMemoryRepository({ clock: clock.now }));
    const job = await create(repository);
    expect([job.createdAt, job.updatedAt, job.runAt].map((date) => date.getTime())).toEqual([
      1_000_000, 1_000_000, 1_000_000,
    ]);
    clock.advance(50.7);
    const [claimed] = await repository.claim([
      { id: job.id, leaseToken: 't', leaseMs: 1_000, estimatedDurationMs: 300 },
    ]);
    expect(claimed?.startedAt?.getTime()).toBe(1_000_050);
    expect(claimed?.leaseExpiresAt?.getTime()).toBe(1_001_050);
    expect(claimed?.estimatedCompletionAt?.getTime()).toBe(1_000_350);
    clock.advance(10);
    await settle(repository, job.id, 't', { status: 'failed', error: PROBLEM, retentionMs: 500 });
    expect(await repository.get(job.id, 'header')).toMatchObject({
      finishedAt: new Date(1_000_060),
      expiresAt: new Date(1_000_560),
      updatedAt: new Date(1_000_060),
    });
  });

  it('refuses a clock that is not a function, and a call when the clock gives no time', async () => {
    expect(() => createMemoryRepository({ clock: 'now' as unknown as () => number })).toThrow(TypeError);
    const repository = track(createMemoryRepository({ clock: () => Number.NaN }));
    await expect(repository.get(newJobId())).rejects.toBeInstanceOf(TypeError);
    expect((await repository.create([newJob()]))[0]).toMatchObject({
      ok: false,
      error: expect.any(TypeError),
    });
  });

  it('expires final jobs by the clock, oldest expiresAt first, in batches', async () => {
    const clock = manualClock();
    const repository = track(createMemoryRepository({ clock: clock.now }));
    const ids: string[] = [];
    for (const retentionMs of [300, 100, 200, 400]) {
      const job = await create(repository);
      await repository.requestCancel(job.id, { retentionMs, error: PROBLEM });
      ids.push(job.id);
    }
    clock.advance(250);
    expect((await repository.deleteExpired(1)).map((job) => job.id)).toEqual([ids[1]]);
    expect((await repository.deleteExpired(10)).map((job) => job.id)).toEqual([ids[2]]);
    clock.advance(1_000);
    expect((await repository.deleteExpired(10)).map((job) => job.id)).toEqual([ids[0], ids[3]]);
    expect(await repository.deleteExpired(10)).toEqual([]);
  });
});

describe('memory repository: notifications', () => {
  it('never calls a listener inside the repository call', async () => {
    const repository = track(createMemoryRepository());
    const seen: string[] = [];
    await repository.subscribe((change) => seen.push(change.id));
    const pending = repository.create([newJob()]);
    // The call has run to its end synchronously (the store has no I/O); the listener has not run yet.
    expect(seen).toEqual([]);
    const job = value((await pending)[0]).job;
    await flush();
    expect(seen).toEqual([job.id]);
  });

  it('keeps calling the other listeners when one throws; unsubscribe stops delivery and may be called twice', async () => {
    const repository = track(createMemoryRepository());
    const seen: JobChange[] = [];
    await repository.subscribe(() => {
      throw new Error('listener failure');
    });
    const unsubscribe = await repository.subscribe((change) => seen.push(change));
    const job = await create(repository);
    await flush();
    expect(seen.map((change) => change.id)).toEqual([job.id]);
    unsubscribe();
    unsubscribe();
    await create(repository);
    await flush();
    expect(seen).toHaveLength(1);
  });

  it('does not deliver a notification queued before the listener unsubscribed', async () => {
    const repository = track(createMemoryRepository());
    const seen: string[] = [];
    const unsubscribe = await repository.subscribe((change) => seen.push(change.id));
    const pending = repository.create([newJob()]);
    unsubscribe();
    await pending;
    await flush();
    expect(seen).toEqual([]);
  });

  it('refuses a listener that is not a function', async () => {
    const repository = track(createMemoryRepository());
    await expect(repository.subscribe('listener' as unknown as () => void)).rejects.toBeInstanceOf(TypeError);
  });
});

describe('memory repository: close', () => {
  it('rejects every method with UnavailableError once closed, and closing twice is fine', async () => {
    const repository = createMemoryRepository();
    const job = await create(repository);
    await repository.close();
    await repository.close();
    const lease = { id: job.id, leaseToken: 't', leaseMs: 1 };
    const calls: Array<() => Promise<unknown>> = [
      () => repository.create([newJob()]),
      () => repository.get(job.id),
      () => repository.get(job.id, 'header'),
      () => repository.claim([lease]),
      () => repository.heartbeat([lease]),
      () => repository.settle([{ ...lease, outcome: { status: 'succeeded', output: 1, retentionMs: 1 } }]),
      () => repository.requestCancel(job.id, { retentionMs: 1, error: PROBLEM }),
      () => repository.remove(job.id),
      () => repository.dispatch({ limit: 1, redispatchAfterMs: null }, async () => []),
      () => repository.deleteExpired(1),
      () => repository.list({ endpoint: 'resize', owner: null, limit: 1 }),
      () => repository.claimCleanups({ endpoints: ['resize'], limit: 1, leaseMs: 1, leaseToken: 't' }),
      () => repository.finishCleanup(job.id, 't', null),
      () => repository.subscribe(() => {}),
    ];
    for (const call of calls) await expect(call()).rejects.toMatchObject({ name: 'UnavailableError' });
  });

  it('stops notifying listeners after close', async () => {
    const repository = createMemoryRepository();
    const seen: string[] = [];
    await repository.subscribe((change) => seen.push(change.id));
    const pending = repository.create([newJob()]);
    await Promise.all([pending, repository.close()]);
    await flush();
    expect(seen).toEqual([]);
  });
});

/** What dispatch must hand out, computed by scanning every job. */
function expectedDispatch(
  jobs: JobRecordHeader[],
  now: number,
  redispatchMs: number | null,
  endpoints?: string[],
) {
  const stale = (job: JobRecordHeader) =>
    redispatchMs !== null && job.dispatchedAt !== null && job.dispatchedAt.getTime() <= now - redispatchMs;
  // Never dispatched (0, by runAt), running with an expired lease (1), dispatched long ago (2).
  const kind = (job: JobRecordHeader): number | null => {
    if (job.status === 'queued' && job.runAt.getTime() <= now) {
      if (job.dispatchedAt === null) return 0;
      return stale(job) ? 2 : null;
    }
    const expired = job.status === 'running' && job.leaseExpiresAt!.getTime() <= now;
    return expired && (job.dispatchedAt === null || stale(job)) ? 1 : null;
  };
  const due = jobs
    .filter((job) => endpoints === undefined || endpoints.includes(job.endpoint))
    .flatMap((job) => {
      const k = kind(job);
      return k === null ? [] : [{ id: job.id, rank: k === 0 ? [k, job.runAt.getTime()] : [k, 0] }];
    });
  const waiting = jobs
    .filter((job) => job.status === 'queued' && job.dispatchedAt === null && job.runAt.getTime() > now)
    .map((job) => job.runAt.getTime() - now);
  return { due, nextDueInMs: waiting.length === 0 ? null : Math.min(...waiting) };
}

describe('memory repository: indexes agree with a full scan', () => {
  it.each([1, 2, 3, 4, 5])('random operations, seed %i', async (seed) => {
    const next = random(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
    const clock = manualClock();
    const repository = track(createMemoryRepository({ clock: clock.now }));
    const ids: string[] = [];
    const tokens = new Map<string, string>();
    const owners = [null, 'alice', 'bob'] as const;
    const lease = (id: string) => ({
      id,
      leaseToken: tokens.get(id) ?? 'none',
      leaseMs: Math.floor(next() * 200),
    });

    for (let step = 0; step < 1_500; step++) {
      const roll = next();
      if (roll < 0.2 || ids.length === 0) {
        const batch = Array.from({ length: 1 + Math.floor(next() * 3) }, () =>
          newJob({ owner: pick(owners), endpoint: pick(['a', 'b']) }),
        );
        for (const result of await repository.create(batch)) ids.push(value(result).job.id);
      } else if (roll < 0.35) {
        const requests = [pick(ids), pick(ids)].map((id) => ({ ...lease(id), leaseToken: `t${step}-${id}` }));
        for (const claimed of await repository.claim(requests))
          if (claimed) tokens.set(claimed.id, claimed.leaseToken!);
      } else if (roll < 0.45) {
        await repository.heartbeat([lease(pick(ids))]);
      } else if (roll < 0.6) {
        const id = pick(ids);
        const outcome = pick<SettleOutcome>([
          { status: 'queued', delayMs: Math.floor(next() * 100), error: null, refundAttempt: next() < 0.5 },
          { status: 'failed', error: PROBLEM, retentionMs: Math.floor(next() * 300) },
          { status: 'succeeded', output: step, retentionMs: Math.floor(next() * 300), cleanup: next() < 0.5 },
        ]);
        await repository.settle([{ ...lease(id), outcome }]);
      } else if (roll < 0.7) {
        const publish = async (items: readonly unknown[]) => items.map(() => next() < 0.8);
        await repository.dispatch({ limit: pick([1, 3]), redispatchAfterMs: pick([0, 50, null]) }, publish);
      } else if (roll < 0.75) {
        await repository.requestCancel(pick(ids), { retentionMs: Math.floor(next() * 300), error: PROBLEM });
      } else if (roll < 0.8) {
        await repository.remove(pick(ids));
      } else if (roll < 0.9) {
        clock.advance(Math.floor(next() * 40));
      } else {
        const all = (await Promise.all(ids.map((id) => repository.get(id, 'header')))).filter(
          (job): job is JobRecordHeader => job !== null,
        );
        const now = clock.now();
        const redispatchMs = pick([0, 20, 100, null]);
        const endpoints = pick([undefined, ['a'], ['b'], ['a', 'b']]);
        const limit = pick([1, 5, 1_000]);
        const expected = expectedDispatch(all, now, redispatchMs, endpoints);
        const published: string[] = [];
        const result = await repository.dispatch(
          { limit, endpoints, redispatchAfterMs: redispatchMs },
          async (items) => {
            published.push(...items.map((item) => item.id));
            return items.map(() => false);
          },
        );
        // In rank order, and the ranks are those of the best `limit` candidates (equal ranks in any order).
        const rankOf = new Map(expected.due.map((job) => [job.id, job.rank.join(':')]));
        const ranks = published.map((id) => expected.due.find((job) => job.id === id)!.rank);
        expect([...ranks].sort(compareRanks)).toEqual(ranks);
        const best = expected.due
          .map((job) => job.rank)
          .sort(compareRanks)
          .slice(0, limit);
        expect(published.map((id) => rankOf.get(id))).toEqual(best.map((rank) => rank.join(':')));
        expect(result).toEqual({ dispatched: 0, found: published.length, nextDueInMs: expected.nextDueInMs });

        const owner = pick(owners);
        const endpoint = pick(['a', 'b']);
        const status = pick([undefined, 'queued', 'running', 'succeeded'] as const);
        const expectedList = all
          .filter(
            (job) => job.owner === owner && job.endpoint === endpoint && (!status || job.status === status),
          )
          .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1))
          .map((job) => job.id);
        const listed: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await repository.list({ endpoint, owner, status, limit: 3, cursor });
          listed.push(...page.jobs.map((job) => job.id));
          cursor = page.nextCursor ?? undefined;
        } while (cursor);
        expect(listed).toEqual(expectedList);

        // Expired jobs are absent from get: deleteExpired returns only jobs get no longer sees.
        const live = new Set(all.map((job) => job.id));
        const batch = await repository.deleteExpired(3);
        for (const job of batch) {
          expect(live.has(job.id)).toBe(false);
          expect(isFinalStatus(job.status) && job.expiresAt!.getTime() <= now).toBe(true);
        }
      }
    }
  });
});

function compareRanks(a: readonly number[], b: readonly number[]): number {
  return a[0]! - b[0]! || a[1]! - b[1]!;
}
