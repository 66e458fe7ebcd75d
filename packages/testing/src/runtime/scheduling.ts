import { type JobRepository, RetryLaterError } from '@jobs/core';
import { expect, it } from 'vitest';
import { delay } from '../helpers.js';
import type { RuntimeFixture } from './fixture.js';

/** Delayed jobs, priorities behind a backlog, batch submit, retry policies and snoozes, end to end. */
export function schedulingTests(fixture: () => RuntimeFixture, timeout: number): void {
  it(
    'a delayed job is queued with its runAt, never started early, and started within a second of it',
    async () => {
      const t = fixture();
      const e = t.endpoint();
      const started: number[] = [];
      const rt = t.runtime([
        t.worker(e, (value) => {
          started.push(Date.now());
          return { doubled: value.value * 2 };
        }),
      ]);
      await rt.start();
      const runAt = new Date(Date.now() + 1_500);
      const { job } = await rt.service.submit(e.name, { value: 1 }, { runAt });
      expect(job).toMatchObject({ status: 'queued', runAt });
      const delayed = (await rt.service.submit(e.name, { value: 2 }, { delayMs: 1_000 })).job;
      expect(delayed.runAt.getTime() - delayed.createdAt.getTime()).toBe(1_000);
      const [first, second] = await Promise.all([t.waitForFinal(job.id), t.waitForFinal(delayed.id)]);
      expect(first.status).toBe('succeeded');
      expect(second.status).toBe('succeeded');
      expect(first.startedAt!.getTime()).toBeGreaterThanOrEqual(runAt.getTime());
      expect(second.startedAt!.getTime()).toBeGreaterThanOrEqual(delayed.runAt.getTime());
      // Due jobs wake the dispatcher by its timer (nextDueInMs), not by the next poll.
      expect(first.startedAt!.getTime() - runAt.getTime()).toBeLessThan(1_000);
      expect(second.startedAt!.getTime() - delayed.runAt.getTime()).toBeLessThan(1_000);
      expect(started).toHaveLength(2);
    },
    timeout,
  );

  it(
    'a delayed job accepted by a process that does not dispatch, and then stops, is dispatched on time by another',
    async () => {
      const t = fixture();
      const e = t.endpoint();
      const workers = t.runtime(
        [t.worker(e, (value) => ({ doubled: value.value * 2 }))],
        // Its dispatcher alone can hand the job out: no sweeper re-dispatches it.
        { sweeper: false },
      );
      await workers.start();
      const api = t.runtime([], {
        endpoints: [e],
        dispatcher: false,
        host: false,
        sweeper: false,
        cleanup: false,
      });
      expect(api.dispatcher).toBeNull();
      await api.start();
      const { job } = await api.service.submit(e.name, { value: 4 }, { delayMs: 1_000 });
      // The accepting process is gone long before the job is due.
      await api.stop();
      expect((await t.backend.repository.get(job.id))?.status).toBe('queued');

      const done = await t.waitForFinal(job.id);
      expect(done).toMatchObject({ status: 'succeeded', attempt: 1, output: { doubled: 8 } });
      expect(done.startedAt!.getTime()).toBeGreaterThanOrEqual(job.runAt.getTime());
      expect(done.startedAt!.getTime() - job.runAt.getTime()).toBeLessThan(1_000);
      expect(t.claimsOf(job.id)).toHaveLength(1);
    },
    timeout,
  );

  it(
    'a delayed job canceled before its time is never handed to a worker',
    async () => {
      const t = fixture();
      const e = t.endpoint();
      const ran: number[] = [];
      const rt = t.runtime([
        t.worker(e, (value) => {
          ran.push(value.value);
          return { doubled: value.value * 2 };
        }),
      ]);
      await rt.start();
      const { job } = await rt.service.submit(e.name, { value: 7 }, { delayMs: 400 });
      expect((await rt.service.delete(e.name, job.id)).outcome).toBe('canceled');
      const control = (await rt.service.submit(e.name, { value: 8 }, { delayMs: 400 })).job;
      await t.waitForFinal(control.id);
      await delay(200);
      expect(ran).toEqual([8]);
      expect(t.claimsOf(job.id)).toEqual([]);
      expect((await t.backend.repository.get(job.id))?.status).toBe('canceled');
    },
    timeout,
  );

  it(
    'a high-priority job submitted behind a flood of low-priority ones starts next, the queue kept short (dispatchAhead)',
    async () => {
      const t = fixture();
      const e = t.endpoint({ concurrency: 1, dispatchAhead: 2 });
      const order: string[] = [];
      const rt = t.runtime([
        t.worker(e, async (value) => {
          order.push(value.value === 1_000 ? 'high' : 'low');
          await delay(15);
          return { doubled: value.value * 2 };
        }),
      ]);
      await rt.start();
      const flood = await rt.service.submitMany(
        e.name,
        Array.from({ length: 60 }, (_, index) => ({ input: { value: index } })),
      );
      expect(flood.every((result) => result.ok)).toBe(true);
      await t.waitUntil(() => order.length >= 3, 'the flood to start');
      const startedBefore = order.length;
      const { job } = await rt.service.submit(e.name, { value: 1_000 }, { priority: 10 });
      expect(job.priority).toBe(10);
      await t.waitForFinal(job.id);
      const lowAhead = order.indexOf('high') - startedBefore;
      // At most the jobs already in the queue (2) and the one a worker just took pass before it; without the
      // bound, all 60 would have been in the broker ahead of it.
      expect(lowAhead).toBeLessThanOrEqual(4);
      const remaining = flood.flatMap((result) => (result.ok ? [result.job.id] : []));
      for (const id of remaining) expect((await t.waitForFinal(id)).status).toBe('succeeded');
    },
    timeout,
  );

  it(
    'another endpoint without a bound is dispatched as usual beside a bounded one',
    async () => {
      const t = fixture();
      const bounded = t.endpoint({ dispatchAhead: 1 });
      const free = t.endpoint();
      const rt = t.runtime([
        t.worker(bounded, (value) => ({ doubled: value.value * 2 })),
        t.worker(free, (value) => ({ doubled: value.value * 2 })),
      ]);
      await rt.start();
      const { job } = await rt.service.submit(free.name, { value: 3 });
      expect((await t.waitForFinal(job.id)).status).toBe('succeeded');
    },
    timeout,
  );

  it(
    'submitMany stores valid items in one call and refuses invalid ones alone; replays return the original',
    async () => {
      const t = fixture();
      const e = t.endpoint();
      const creates: number[] = [];
      const repository: JobRepository = {
        ...t.repository,
        create(jobs) {
          creates.push(jobs.length);
          return t.repository.create(jobs);
        },
      };
      const rt = t.runtime([t.worker(e, (value) => ({ doubled: value.value * 2 }))], { repository });
      await rt.start();
      const first = await rt.service.submit(e.name, { value: 1 }, { idempotencyKey: 'k-1' });
      expect(creates).toEqual([1]);
      const results = await rt.service.submitMany(e.name, [
        { input: { value: 2 }, priority: 5 },
        { input: { value: 'not a number' } },
        { input: { value: 1 }, idempotencyKey: 'k-1' },
        { input: { value: 4 }, priority: 5_000 },
        { input: { value: 5 }, delayMs: 200 },
      ]);
      expect(results.map((result) => result.ok)).toEqual([true, false, true, false, true]);
      // The three valid items (the replay among them) went to the repository in one call; the invalid ones never.
      expect(creates).toEqual([1, 3]);
      const [ok, , replay, , delayed] = results;
      if (!ok?.ok || !replay?.ok || !delayed?.ok) throw new Error('unexpected refusal');
      expect(ok.job.priority).toBe(5);
      expect(replay).toMatchObject({ created: false, job: { id: first.job.id } });
      expect(results[1]).toMatchObject({ ok: false, error: { code: 'invalid_input' } });
      expect(results[3]).toMatchObject({ ok: false, error: { code: 'invalid_input' } });
      expect((await t.waitForFinal(ok.job.id)).output).toEqual({ doubled: 4 });
      expect((await t.waitForFinal(delayed.job.id)).output).toEqual({ doubled: 10 });
    },
    timeout,
  );

  it(
    "an endpoint's retry policy decides the delay before each retry, and when to stop before maxAttempts",
    async () => {
      const t = fixture();
      const asked: Array<{ attempt: number; maxAttempts: number }> = [];
      const delays = [300, 100];
      const e = t.endpoint({
        maxAttempts: 5,
        retry: ({ attempt, maxAttempts }) => {
          asked.push({ attempt, maxAttempts });
          return delays[attempt - 1] ?? null;
        },
      });
      const starts: number[] = [];
      const rt = t.runtime([
        t.worker(e, () => {
          starts.push(Date.now());
          throw new Error('upstream down');
        }),
      ]);
      await rt.start();
      const { job } = await rt.service.submit(e.name, { value: 1 });
      const failed = await t.waitForFinal(job.id);
      // The policy said "no more" after the third attempt, before maxAttempts.
      expect(failed).toMatchObject({ status: 'failed', attempt: 3 });
      expect(asked).toEqual([1, 2, 3].map((attempt) => ({ attempt, maxAttempts: 5 })));
      expect(starts).toHaveLength(3);
      // Each retry waited the delay the policy gave (the store's clock decides when it is due: a few ms of slack).
      expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(delays[0]! - 10);
      expect(starts[2]! - starts[1]!).toBeGreaterThanOrEqual(delays[1]! - 10);
    },
    timeout,
  );

  it(
    'a worker that asks to be retried later (RetryLaterError) runs again after that time without using an attempt',
    async () => {
      const t = fixture();
      const e = t.endpoint({ maxAttempts: 1 });
      const starts: number[] = [];
      const rt = t.runtime([
        t.worker(e, (value) => {
          starts.push(Date.now());
          if (starts.length < 3) throw new RetryLaterError(300, 'rate limited upstream; Retry-After: 0.3');
          return { doubled: value.value * 2 };
        }),
      ]);
      await rt.start();
      const { job } = await rt.service.submit(e.name, { value: 21 });
      const done = await t.waitForFinal(job.id);
      expect(done).toMatchObject({ status: 'succeeded', attempt: 1, output: { doubled: 42 } });
      expect(starts).toHaveLength(3);
      for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(290);
    },
    timeout,
  );
}
