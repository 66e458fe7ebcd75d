import { JobFailedError, type JobQueue, type JobRepository } from '@jobs/core';
import { expect, it, vi } from 'vitest';
import { deferred, delay } from '../helpers.js';
import { type RuntimeFixture, recordingLogger } from './fixture.js';

/** What the JobService promises a front end: waits, idempotency, clocks, and errors that are never swallowed. */
export function serviceTests(fixture: () => RuntimeFixture, timeout: number): void {
  it(
    'wait() is woken by the change, not by its poll or its timeout',
    async () => {
      const t = fixture();
      const e = t.endpoint();
      const started = deferred();
      const progressGo = deferred();
      const release = deferred();
      const rt = t.runtime(
        [
          t.worker(e, async (value, ctx) => {
            started.resolve();
            await progressGo.promise;
            ctx.progress(0.5, 'half');
            await release.promise;
            return { doubled: value.value * 2 };
          }),
        ],
        // Polling so rare that only a change notification can end the waits below in time.
        { service: { pollIntervalMs: 600_000, livePollIntervalMs: 600_000 } },
      );
      await rt.start();
      const { job } = await rt.service.submit(e.name, { value: 8 });
      await started.promise;
      const running = await t.waitForStatus(job.id, ['running']);
      const abandon = new AbortController();
      const woken = <T>(promise: Promise<T>, what: string) =>
        Promise.race([
          promise,
          delay(t.waitTimeoutMs).then(() => {
            throw new Error(`${what} was not woken by the change notification`);
          }),
        ]);
      try {
        await delay(5);
        const waitForProgress = async () => {
          let since = running.updatedAt;
          for (;;) {
            const current = await rt.service.wait(e.name, job.id, {
              timeoutMs: 600_000,
              until: 'change',
              since,
              signal: abandon.signal,
            });
            if (current.progress || abandon.signal.aborted) return current;
            since = current.updatedAt;
          }
        };
        const changed = waitForProgress();
        await delay(100);
        progressGo.resolve();
        expect(await woken(changed, 'wait for a change')).toMatchObject({
          status: 'running',
          progress: { fraction: 0.5, message: 'half' },
        });
        const final = rt.service.wait(e.name, job.id, { timeoutMs: 600_000, signal: abandon.signal });
        await delay(100);
        release.resolve();
        expect(await woken(final, 'wait for the final state')).toMatchObject({ status: 'succeeded' });
        expect(await rt.service.output(e.name, job.id)).toEqual({ doubled: 16 });
      } finally {
        abandon.abort();
        progressGo.resolve();
        release.resolve();
      }
    },
    timeout,
  );

  it(
    'wait() returns within its timeout even while change notifications cannot be set up',
    async () => {
      const t = fixture();
      const e = t.endpoint();
      // A repository whose subscription never comes up (a LISTEN that hangs).
      const noNotifications: JobRepository = { ...t.repository, subscribe: () => new Promise(() => {}) };
      const api = t.runtime([], {
        repository: noNotifications,
        endpoints: [e],
        dispatcher: false,
        sweeper: false,
      });
      const { job } = await api.service.submit(e.name, { value: 1 });
      const timeoutMs = 1_000;
      const startedAt = Date.now();
      const seen = await api.service.wait(e.name, job.id, { timeoutMs });
      const elapsed = Date.now() - startedAt;
      expect(seen.status).toBe('queued');
      // Not twice the timeout: the wait for notifications counts against the caller's timeout.
      expect(elapsed).toBeLessThan(timeoutMs * 1.5);
    },
    timeout,
  );

  it(
    'an Idempotency-Key replay after the original expired creates a new job',
    async () => {
      const t = fixture();
      const e = t.endpoint({ retentionMs: 300 });
      const rt = t.runtime([t.worker(e, (value) => ({ doubled: value.value * 2 }))], { sweeper: false });
      await rt.start();
      const first = await rt.service.submit(e.name, { value: 1 }, { idempotencyKey: 'once' });
      expect(await t.waitForFinal(first.job.id)).toMatchObject({ status: 'succeeded' });
      const replay = await rt.service.submit(e.name, { value: 1 }, { idempotencyKey: 'once' });
      expect(replay).toMatchObject({ created: false, job: { id: first.job.id } });
      // The original is past its retention (not yet swept): absent, so the key is free again.
      await t.waitUntil(
        async () => (await t.backend.repository.get(first.job.id)) === null,
        'the original to expire',
      );
      const later = await rt.service.submit(e.name, { value: 1 }, { idempotencyKey: 'once' });
      expect(later.created).toBe(true);
      expect(later.job.id).not.toBe(first.job.id);
      expect(await t.waitForFinal(later.job.id)).toMatchObject({
        status: 'succeeded',
        output: { doubled: 2 },
      });
      // And the new job is what the key answers now.
      expect((await rt.service.submit(e.name, { value: 1 }, { idempotencyKey: 'once' })).job.id).toBe(
        later.job.id,
      );
    },
    timeout,
  );

  it(
    "a node whose clock is an hour off sees jobs as the repository does (visibility never uses the node's clock)",
    async () => {
      const t = fixture();
      const e = t.endpoint({ retentionMs: 30 * 60_000 });
      const rt = t.runtime([t.worker(e, (value) => ({ doubled: value.value * 2 }))]);
      await rt.start();
      const { job } = await rt.service.submit(e.name, { value: 5 });
      expect(await t.waitForFinal(job.id)).toMatchObject({ status: 'succeeded' });
      vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 60 * 60_000 });
      try {
        // To this node the job expired half an hour ago; to the repository it has 30 minutes to go.
        expect(await rt.service.get(e.name, job.id)).toMatchObject({ id: job.id, status: 'succeeded' });
        expect((await rt.service.list(e.name)).jobs.map((listed) => listed.id)).toContain(job.id);
        const replay = await rt.service.submit(e.name, { value: 6 }, { idempotencyKey: 'skewed' });
        expect(await rt.service.submit(e.name, { value: 6 }, { idempotencyKey: 'skewed' })).toMatchObject({
          created: false,
          job: { id: replay.job.id },
        });
      } finally {
        vi.useRealTimers();
      }
    },
    timeout,
  );

  it(
    'errors that end nothing are logged at warn with the job: a failed fallback result, a consumer that fails to stop',
    async () => {
      const t = fixture();
      const e = t.endpoint();
      const logger = recordingLogger();
      // Refuses every output (the job should fail as invalid_output), then is unreachable for that fallback.
      const refusing: JobRepository = {
        ...t.repository,
        settle: async (requests) =>
          requests.map((request) =>
            request.outcome.status === 'succeeded'
              ? { ok: false as const, error: new TypeError('cannot store this output (test)') }
              : { ok: false as const, error: new Error('database unreachable (test)') },
          ),
      };
      const stopFails: JobQueue = {
        publish: (endpointName, jobId) => t.backend.queue.publish(endpointName, jobId),
        consume: async (endpointName, handler, options) => {
          const consumer = await t.backend.queue.consume(endpointName, handler, options);
          return {
            stop: async (stopOptions) => {
              await consumer.stop(stopOptions);
              throw new Error('the channel was already closed (test)');
            },
          };
        },
        close: async () => {},
      };
      const rt = t.runtime([t.worker(e, (value) => ({ doubled: value.value * 2 }))], {
        repository: refusing,
        queue: stopFails,
        logger,
        sweeper: false,
      });
      await rt.start();
      const { job } = await rt.service.submit(e.name, { value: 1 });
      await t.waitUntil(
        () =>
          logger.entries.some(
            (entry) =>
              entry.level === 'warn' && entry.fields.jobId === job.id && /invalid_output/.test(entry.message),
          ),
        'the failed fallback to be logged',
      );
      await rt.stop({ timeoutMs: 100 });
      expect(logger.entries.some((entry) => entry.level === 'warn' && /consumer/.test(entry.message))).toBe(
        true,
      );
    },
    timeout,
  );

  it(
    'retry() runs a failed job again under its id through the dispatcher; other states answer 409 and change nothing',
    async () => {
      const t = fixture();
      const e = t.endpoint({ maxAttempts: 1 });
      let fail = true;
      const runs: number[] = [];
      const rt = t.runtime([
        t.worker(e, (value, ctx) => {
          runs.push(ctx.attempt);
          if (fail) throw new JobFailedError('fails until fixed', { retryable: false });
          return { doubled: value.value * 2 };
        }),
      ]);
      await rt.start();
      const { job } = await rt.service.submit(e.name, { value: 4 }, { owner: 'alice' });
      expect(await t.waitForFinal(job.id)).toMatchObject({ status: 'failed', attempt: 1, maxAttempts: 1 });
      await expect(rt.service.retry(e.name, job.id, { owner: 'bob' })).rejects.toMatchObject({
        code: 'not_found',
      });
      fail = false;
      const retried = await rt.service.retry(e.name, job.id, { owner: 'alice' });
      expect(retried).toMatchObject({
        id: job.id,
        status: 'queued',
        attempt: 1,
        maxAttempts: 2,
        error: null,
      });
      const done = await rt.service.wait(e.name, job.id, { owner: 'alice', timeoutMs: t.waitTimeoutMs });
      expect(done).toMatchObject({ status: 'succeeded', attempt: 2 });
      expect(runs).toEqual([1, 2]);
      expect(await rt.service.output(e.name, job.id, { owner: 'alice' })).toEqual({ doubled: 8 });
      const before = await t.repository.get(job.id);
      await expect(rt.service.retry(e.name, job.id, { owner: 'alice' })).rejects.toMatchObject({
        name: 'JobNotRetryableError',
        code: 'not_retryable',
        status: 409,
      });
      expect(await t.repository.get(job.id)).toEqual(before);
    },
    timeout,
  );
}
