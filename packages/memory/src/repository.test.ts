import {
  InvalidInputError,
  isFinalStatus,
  type JobRecord,
  type JobRepository,
  type NewJob,
  newJobId,
  type ProblemDetails,
  UnavailableError,
} from '@jobs/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryRepository } from './repository.js';
import { random } from './test-random.js';

const PROBLEM: ProblemDetails = { type: 'https://jobs.dev/problems/test', title: 'Test', code: 'test' };

function newJob(overrides: Partial<NewJob> = {}): NewJob {
  return {
    id: newJobId(),
    endpoint: 'resize',
    input: { width: 10 },
    owner: null,
    idempotencyKey: null,
    inputHash: null,
    maxAttempts: 3,
    estimatedCompletionAt: null,
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
    set(ms: number) {
      now = ms;
    },
  };
}

/** Resolves after every queued microtask and a macrotask have run. */
function flush(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

const repositories: JobRepository[] = [];
function track(repository: JobRepository): JobRepository {
  repositories.push(repository);
  return repository;
}

afterEach(async () => {
  await Promise.all(repositories.splice(0).map((repository) => repository.close()));
});

describe('memory repository: copies', () => {
  it('stores a copy of the input: changing the caller object afterwards changes nothing', async () => {
    const repository = track(createMemoryRepository());
    const input = { nested: { values: [1, 2, 3] } };
    const { job } = await repository.create(newJob({ input }));
    input.nested.values.push(4);
    const stored = await repository.get(job.id);
    expect(stored?.input).toEqual({ nested: { values: [1, 2, 3] } });
  });

  it('hands out copies: mutating a returned job never reaches the store', async () => {
    const repository = track(createMemoryRepository());
    const { job } = await repository.create(newJob());
    (job.input as { width: number }).width = 99;
    job.status = 'succeeded';
    job.createdAt.setTime(0);
    const first = await repository.get(job.id);
    expect(first?.status).toBe('queued');
    expect(first?.input).toEqual({ width: 10 });
    expect(first?.createdAt.getTime()).not.toBe(0);
    (first!.input as { width: number }).width = 5;
    expect((await repository.get(job.id))?.input).toEqual({ width: 10 });
    const listed = await repository.list({ endpoint: 'resize', owner: null, limit: 10 });
    (listed.jobs[0]!.input as { width: number }).width = 7;
    expect((await repository.get(job.id))?.input).toEqual({ width: 10 });
  });

  it('copies output, error and progress given to settle and heartbeat', async () => {
    const repository = track(createMemoryRepository());
    const { job } = await repository.create(newJob());
    await repository.claim(job.id, { leaseToken: 'token', leaseMs: 60_000 });
    const progress = { fraction: 0.5, message: 'half' };
    await repository.heartbeat(job.id, 'token', { leaseMs: 60_000, progress });
    progress.fraction = 0.9;
    expect((await repository.get(job.id))?.progress).toEqual({ fraction: 0.5, message: 'half' });
    const output = { url: 'a' };
    const settled = await repository.settle(job.id, 'token', {
      status: 'succeeded',
      output,
      retentionMs: 1000,
    });
    output.url = 'b';
    (settled!.output as { url: string }).url = 'c';
    expect((await repository.get(job.id))?.output).toEqual({ url: 'a' });
  });

  it('refuses a value it cannot copy with InvalidInputError and stores nothing', async () => {
    const repository = track(createMemoryRepository());
    const job = newJob({ input: { callback: () => 1 } });
    await expect(repository.create(job)).rejects.toBeInstanceOf(InvalidInputError);
    expect(await repository.get(job.id)).toBeNull();
    expect((await repository.list({ endpoint: 'resize', owner: null, limit: 10 })).jobs).toEqual([]);

    const { job: stored } = await repository.create(newJob());
    await repository.claim(stored.id, { leaseToken: 't', leaseMs: 60_000 });
    await expect(
      repository.settle(stored.id, 't', { status: 'succeeded', output: { f: () => 2 }, retentionMs: 10 }),
    ).rejects.toBeInstanceOf(InvalidInputError);
    const after = await repository.get(stored.id);
    expect(after?.status).toBe('running');
    expect(after?.leaseToken).toBe('t');
  });

  it('rejects durations, limits, progress and maxAttempts it cannot hold with InvalidInputError, changing nothing', async () => {
    const repository = track(createMemoryRepository());
    const { job } = await repository.create(newJob());
    await expect(repository.claim(job.id, { leaseToken: 't', leaseMs: Number.NaN })).rejects.toBeInstanceOf(
      InvalidInputError,
    );
    await expect(repository.claim(job.id, { leaseToken: 't', leaseMs: -1 })).rejects.toBeInstanceOf(
      InvalidInputError,
    );
    expect((await repository.get(job.id))?.status).toBe('queued');
    await repository.claim(job.id, { leaseToken: 't', leaseMs: 60_000 });
    await expect(
      repository.heartbeat(job.id, 't', {
        leaseMs: 60_000,
        progress: { fraction: Number.POSITIVE_INFINITY },
      }),
    ).rejects.toBeInstanceOf(InvalidInputError);
    expect((await repository.get(job.id))?.progress).toBeNull();
    await expect(repository.deleteExpired(-1)).rejects.toBeInstanceOf(InvalidInputError);
    await expect(repository.create(newJob({ maxAttempts: 0 }))).rejects.toBeInstanceOf(InvalidInputError);
    await expect(repository.list({ endpoint: 'resize', owner: null, limit: 1.5 })).rejects.toBeInstanceOf(
      InvalidInputError,
    );
  });

  it('refuses a second job with an id already stored', async () => {
    const repository = track(createMemoryRepository());
    const job = newJob();
    await repository.create(job);
    await expect(repository.create({ ...job, input: { width: 2 } })).rejects.toBeInstanceOf(
      InvalidInputError,
    );
    expect((await repository.get(job.id))?.input).toEqual({ width: 10 });
  });
});

describe('memory repository: injected clock', () => {
  it('takes every stored time from the clock', async () => {
    const clock = manualClock(1_000_000);
    const repository = track(createMemoryRepository({ clock: clock.now }));
    const { job } = await repository.create(newJob());
    expect(job.createdAt.getTime()).toBe(1_000_000);
    expect(job.updatedAt.getTime()).toBe(1_000_000);
    expect(job.runAt.getTime()).toBe(1_000_000);

    clock.advance(50);
    const claimed = await repository.claim(job.id, { leaseToken: 't', leaseMs: 1_000 });
    expect(claimed?.startedAt?.getTime()).toBe(1_000_050);
    expect(claimed?.leaseExpiresAt?.getTime()).toBe(1_001_050);

    clock.advance(100);
    await repository.heartbeat(job.id, 't', { leaseMs: 2_000 });
    expect((await repository.get(job.id))?.leaseExpiresAt?.getTime()).toBe(1_002_150);

    clock.advance(10);
    const settled = await repository.settle(job.id, 't', {
      status: 'failed',
      error: PROBLEM,
      retentionMs: 500,
    });
    expect(settled?.finishedAt?.getTime()).toBe(1_000_160);
    expect(settled?.expiresAt?.getTime()).toBe(1_000_660);
    expect(settled?.updatedAt.getTime()).toBe(1_000_160);
  });

  it('lets a lease expire and a delay elapse only when the clock says so', async () => {
    const clock = manualClock();
    const repository = track(createMemoryRepository({ clock: clock.now }));
    const { job } = await repository.create(newJob());
    await repository.claim(job.id, { leaseToken: 'a', leaseMs: 1_000 });
    clock.advance(999);
    expect(await repository.claim(job.id, { leaseToken: 'b', leaseMs: 1_000 })).toBeNull();
    clock.advance(1);
    const reclaimed = await repository.claim(job.id, { leaseToken: 'b', leaseMs: 1_000 });
    expect(reclaimed?.attempt).toBe(2);
    expect((await repository.heartbeat(job.id, 'a', { leaseMs: 1_000 })).held).toBe(false);

    await repository.settle(job.id, 'b', {
      status: 'queued',
      delayMs: 5_000,
      error: PROBLEM,
      refundAttempt: false,
    });
    clock.advance(4_999);
    expect(await repository.claim(job.id, { leaseToken: 'c', leaseMs: 1_000 })).toBeNull();
    clock.advance(1);
    expect((await repository.claim(job.id, { leaseToken: 'c', leaseMs: 1_000 }))?.attempt).toBe(3);
  });

  it('finds jobs to dispatch exactly at their boundaries, by endpoint, and never re-dispatches with null', async () => {
    const clock = manualClock();
    const repository = track(createMemoryRepository({ clock: clock.now }));
    const find = async (query: { graceMs?: number; redispatchAfterMs: number | null; endpoint?: string }) =>
      (
        await repository.findDispatchable({
          undispatchedGraceMs: query.graceMs ?? 1_000_000,
          redispatchAfterMs: query.redispatchAfterMs,
          endpoint: query.endpoint,
          limit: 100,
        })
      ).map((job) => job.id);

    // Never dispatched: due exactly undispatchedGraceMs after runAt, with or without re-dispatch.
    const fresh = (await repository.create(newJob({ endpoint: 'a' }))).job;
    clock.advance(199);
    expect(await find({ graceMs: 200, redispatchAfterMs: null })).toEqual([]);
    clock.advance(1);
    expect(await find({ graceMs: 200, redispatchAfterMs: null })).toEqual([fresh.id]);
    await repository.requestCancel(fresh.id, { retentionMs: 1, error: PROBLEM });

    // A running job whose lease ends exactly now, not dispatched since its claim.
    clock.advance(10);
    const running = (await repository.create(newJob({ endpoint: 'a' }))).job;
    await repository.markDispatched(running.id);
    await repository.claim(running.id, { leaseToken: 't', leaseMs: 100 });
    clock.advance(99);
    expect(await find({ redispatchAfterMs: null })).toEqual([]);
    clock.advance(1);
    expect(await find({ redispatchAfterMs: null })).toEqual([running.id]);

    // Dispatched: due exactly redispatchAfterMs after the dispatch, and never with null.
    clock.advance(10);
    const queued = (await repository.create(newJob({ endpoint: 'a' }))).job;
    clock.advance(10);
    const elsewhere = (await repository.create(newJob({ endpoint: 'b' }))).job;
    for (const id of [running.id, queued.id, elsewhere.id]) await repository.markDispatched(id);
    clock.advance(499);
    expect(await find({ redispatchAfterMs: 500 })).toEqual([]);
    clock.advance(1);
    expect(await find({ redispatchAfterMs: 500 })).toEqual([running.id, queued.id, elsewhere.id]);
    expect(await find({ redispatchAfterMs: 500, endpoint: 'a' })).toEqual([running.id, queued.id]);
    expect(await find({ redispatchAfterMs: 500, endpoint: 'b' })).toEqual([elsewhere.id]);
    expect(await find({ redispatchAfterMs: 500, endpoint: 'c' })).toEqual([]);
    clock.advance(1_000_000);
    expect(await find({ redispatchAfterMs: null })).toEqual([]);
    expect(await find({ redispatchAfterMs: 0, endpoint: 'b' })).toEqual([elsewhere.id]);
  });

  it('moves updatedAt on announced changes only, not on markDispatched or a plain lease renewal', async () => {
    const clock = manualClock(5_000);
    const repository = track(createMemoryRepository({ clock: clock.now }));
    const { job } = await repository.create(newJob());
    const updatedAt = async () => (await repository.get(job.id))!.updatedAt.getTime();
    clock.advance(10);
    await repository.markDispatched(job.id);
    expect(await updatedAt()).toBe(5_000);
    clock.advance(10);
    await repository.claim(job.id, { leaseToken: 't', leaseMs: 1_000 });
    expect(await updatedAt()).toBe(5_020);
    clock.advance(10);
    await repository.heartbeat(job.id, 't', { leaseMs: 1_000 });
    await repository.markDispatched(job.id);
    expect(await updatedAt()).toBe(5_020);
    clock.advance(10);
    await repository.heartbeat(job.id, 't', { leaseMs: 1_000, estimatedCompletionAt: new Date(9_000) });
    expect(await updatedAt()).toBe(5_040);
    clock.advance(10);
    await repository.requestCancel(job.id, { retentionMs: 1_000, error: PROBLEM });
    expect(await updatedAt()).toBe(5_050);
  });

  it('expires final jobs by the clock, oldest expiresAt first, in batches', async () => {
    const clock = manualClock();
    const repository = track(createMemoryRepository({ clock: clock.now }));
    const retentions = [300, 100, 200, 400];
    const ids: string[] = [];
    for (const retentionMs of retentions) {
      const { job } = await repository.create(newJob());
      await repository.requestCancel(job.id, { retentionMs, error: PROBLEM });
      ids.push(job.id);
    }
    clock.advance(250);
    const first = await repository.deleteExpired(1);
    expect(first.map((job) => job.id)).toEqual([ids[1]]);
    const second = await repository.deleteExpired(10);
    expect(second.map((job) => job.id)).toEqual([ids[2]]);
    clock.advance(1_000);
    const rest = await repository.deleteExpired(10);
    expect(rest.map((job) => job.id)).toEqual([ids[0], ids[3]]);
    expect(await repository.deleteExpired(10)).toEqual([]);
  });
});

describe('memory repository: notifications', () => {
  it('never calls a listener inside the repository call', async () => {
    const repository = track(createMemoryRepository());
    const seen: string[] = [];
    await repository.subscribe((id) => seen.push(id));
    const pending = repository.create(newJob());
    // The call has run to its end synchronously (the store has no I/O); the listener has not run yet.
    expect(seen).toEqual([]);
    const { job } = await pending;
    await flush();
    expect(seen).toEqual([job.id]);
  });

  it('keeps calling the other listeners when one throws, and stops after unsubscribe', async () => {
    const repository = track(createMemoryRepository());
    const seen: string[] = [];
    await repository.subscribe(() => {
      throw new Error('listener failure');
    });
    const unsubscribe = await repository.subscribe((id) => seen.push(id));
    const { job } = await repository.create(newJob());
    await flush();
    expect(seen).toEqual([job.id]);
    unsubscribe();
    unsubscribe();
    await repository.create(newJob());
    await flush();
    expect(seen).toEqual([job.id]);
  });

  it('does not deliver a notification queued before the listener unsubscribed', async () => {
    const repository = track(createMemoryRepository());
    const seen: string[] = [];
    const unsubscribe = await repository.subscribe((id) => seen.push(id));
    const pending = repository.create(newJob());
    unsubscribe();
    await pending;
    await flush();
    expect(seen).toEqual([]);
  });

  it('notifies heartbeats only when progress or ETA changed', async () => {
    const repository = track(createMemoryRepository());
    const { job } = await repository.create(newJob());
    await repository.claim(job.id, { leaseToken: 't', leaseMs: 60_000 });
    await flush();
    const seen: string[] = [];
    await repository.subscribe((id) => seen.push(id));
    await repository.heartbeat(job.id, 't', { leaseMs: 60_000 });
    await flush();
    expect(seen).toEqual([]);
    await repository.heartbeat(job.id, 't', { leaseMs: 60_000, progress: { fraction: 0.2 } });
    await flush();
    expect(seen).toEqual([job.id]);
    await repository.heartbeat(job.id, 't', { leaseMs: 60_000, progress: { fraction: 0.2 } });
    await flush();
    expect(seen).toEqual([job.id]);
  });
});

describe('memory repository: close', () => {
  it('rejects every method with UnavailableError once closed, and closing twice is fine', async () => {
    const repository = createMemoryRepository();
    const { job } = await repository.create(newJob());
    await repository.close();
    await repository.close();
    const calls: Array<() => Promise<unknown>> = [
      () => repository.create(newJob()),
      () => repository.get(job.id),
      () => repository.claim(job.id, { leaseToken: 't', leaseMs: 1 }),
      () => repository.heartbeat(job.id, 't', { leaseMs: 1 }),
      () => repository.settle(job.id, 't', { status: 'succeeded', output: 1, retentionMs: 1 }),
      () => repository.requestCancel(job.id, { retentionMs: 1, error: PROBLEM }),
      () => repository.remove(job.id),
      () => repository.markDispatched(job.id),
      () => repository.findDispatchable({ undispatchedGraceMs: 0, redispatchAfterMs: 0, limit: 1 }),
      () => repository.deleteExpired(1),
      () => repository.list({ endpoint: 'resize', owner: null, limit: 1 }),
      () => repository.subscribe(() => {}),
    ];
    for (const call of calls) await expect(call()).rejects.toBeInstanceOf(UnavailableError);
  });

  it('stops notifying listeners after close', async () => {
    const repository = createMemoryRepository();
    const seen: string[] = [];
    await repository.subscribe((id) => seen.push(id));
    const pending = repository.create(newJob());
    const closing = repository.close();
    await Promise.all([pending, closing]);
    await flush();
    expect(seen).toEqual([]);
  });
});

/** What findDispatchable must return, computed by scanning every job. */
function expectedDispatchable(
  jobs: JobRecord[],
  now: number,
  graceMs: number,
  redispatchMs: number | null,
  endpoint: string | undefined,
  limit: number,
) {
  const stale = (dispatchedAt: number) => redispatchMs !== null && dispatchedAt <= now - redispatchMs;
  return jobs
    .filter((job) => {
      if (endpoint !== undefined && job.endpoint !== endpoint) return false;
      const dispatchedAt = job.dispatchedAt?.getTime() ?? null;
      if (job.status === 'queued') {
        if (job.runAt.getTime() > now) return false;
        return dispatchedAt === null ? job.runAt.getTime() + graceMs <= now : stale(dispatchedAt);
      }
      if (job.status === 'running') {
        return job.leaseExpiresAt!.getTime() <= now && (dispatchedAt === null || stale(dispatchedAt));
      }
      return false;
    })
    .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : 1))
    .slice(0, limit)
    .map((job) => job.id);
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

    for (let step = 0; step < 1_500; step++) {
      const roll = next();
      if (roll < 0.2 || ids.length === 0) {
        const { job } = await repository.create(newJob({ owner: pick(owners), endpoint: pick(['a', 'b']) }));
        ids.push(job.id);
      } else if (roll < 0.35) {
        const id = pick(ids);
        const token = `t${step}`;
        if (await repository.claim(id, { leaseToken: token, leaseMs: Math.floor(next() * 200) }))
          tokens.set(id, token);
      } else if (roll < 0.45) {
        const id = pick(ids);
        await repository.heartbeat(id, tokens.get(id) ?? 'none', { leaseMs: Math.floor(next() * 200) });
      } else if (roll < 0.6) {
        const id = pick(ids);
        const token = tokens.get(id) ?? 'none';
        const outcome = pick(['succeeded', 'failed', 'queued'] as const);
        if (outcome === 'queued') {
          await repository.settle(id, token, {
            status: 'queued',
            delayMs: Math.floor(next() * 100),
            error: null,
            refundAttempt: next() < 0.5,
          });
        } else if (outcome === 'failed') {
          await repository.settle(id, token, {
            status: 'failed',
            error: PROBLEM,
            retentionMs: Math.floor(next() * 300),
          });
        } else {
          await repository.settle(id, token, {
            status: 'succeeded',
            output: step,
            retentionMs: Math.floor(next() * 300),
          });
        }
      } else if (roll < 0.7) {
        await repository.markDispatched(pick(ids));
      } else if (roll < 0.75) {
        await repository.requestCancel(pick(ids), { retentionMs: Math.floor(next() * 300), error: PROBLEM });
      } else if (roll < 0.8) {
        await repository.remove(pick(ids));
      } else if (roll < 0.9) {
        clock.advance(Math.floor(next() * 40));
      } else {
        const all = (await Promise.all(ids.map((id) => repository.get(id)))).filter(
          (job): job is JobRecord => job !== null,
        );
        const now = clock.now();
        const graceMs = pick([0, 10, 50]);
        const redispatchMs = pick([0, 20, 100, null]);
        const dispatchEndpoint = pick([undefined, 'a', 'b']);
        const limit = pick([1, 5, 1_000]);
        const found = await repository.findDispatchable({
          undispatchedGraceMs: graceMs,
          redispatchAfterMs: redispatchMs,
          endpoint: dispatchEndpoint,
          limit,
        });
        expect(found.map((job) => job.id)).toEqual(
          expectedDispatchable(all, now, graceMs, redispatchMs, dispatchEndpoint, limit),
        );

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

        const expired = all
          .filter((job) => isFinalStatus(job.status) && job.expiresAt!.getTime() <= now)
          .sort((a, b) => a.expiresAt!.getTime() - b.expiresAt!.getTime());
        const batch = await repository.deleteExpired(3);
        expect(batch.length).toBe(Math.min(3, expired.length));
        const expiredIds = new Set(expired.map((job) => job.id));
        for (const job of batch) expect(expiredIds.has(job.id)).toBe(true);
        // Oldest first: nothing left behind expires before the last one deleted.
        const lastDeleted = batch.at(-1)?.expiresAt?.getTime() ?? Number.NEGATIVE_INFINITY;
        const deletedIds = new Set(batch.map((job) => job.id));
        for (const job of expired) {
          if (!deletedIds.has(job.id)) expect(job.expiresAt!.getTime()).toBeGreaterThanOrEqual(lastDeleted);
        }
      }
    }
  });
});
