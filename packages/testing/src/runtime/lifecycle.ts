import { defineEndpoint, implement, JobFailedError, type Worker } from '@jobs/core';
import { expect, it } from 'vitest';
import { z } from 'zod';
import { deferred } from '../helpers.js';
import { input, output, type RuntimeFixture } from './fixture.js';

/**
 * A job's way from submit to its final state: success, retries, timeouts, cancellation, errors, progress. One
 * file over 400 lines on purpose: a list of independent test cases sharing one fixture, read one case at a time.
 */
export function lifecycleTests(fixture: () => RuntimeFixture, timeout: number): void {
  it(
    'submit → run → succeeded; the output is readable',
    async () => {
      const t = fixture();
      const e = t.endpoint();
      const seen: Array<{ attempt: number; jobId: string }> = [];
      const rt = t.runtime([
        t.worker(e, (value, ctx) => {
          seen.push({ attempt: ctx.attempt, jobId: ctx.job.id });
          ctx.progress(0.5, 'half way');
          return { doubled: value.value * 2 };
        }),
      ]);
      await rt.start();
      const { job, created } = await rt.service.submit(e.name, { value: 21 });
      expect(created).toBe(true);
      expect(job.status).toBe('queued');
      const done = await t.waitForFinal(job.id);
      expect(done).toMatchObject({ status: 'succeeded', attempt: 1, output: { doubled: 42 }, error: null });
      expect(await rt.service.output(e.name, job.id)).toEqual({ doubled: 42 });
      expect(seen).toEqual([{ attempt: 1, jobId: job.id }]);
    },
    timeout,
  );

  it(
    'concurrent submits, claims and results of many jobs are all recorded once (batched)',
    async () => {
      const t = fixture();
      const e = t.endpoint({ concurrency: 16 });
      const runs = new Map<number, number>();
      const rt = t.runtime([
        t.worker(e, (value) => {
          runs.set(value.value, (runs.get(value.value) ?? 0) + 1);
          return { doubled: value.value * 2 };
        }),
      ]);
      await rt.start();
      const submitted = await Promise.all(
        Array.from({ length: 200 }, (_, value) => rt.service.submit(e.name, { value })),
      );
      expect(new Set(submitted.map(({ job }) => job.id)).size).toBe(200);
      for (const [value, { job }] of submitted.entries()) {
        expect(await t.waitForFinal(job.id)).toMatchObject({
          status: 'succeeded',
          attempt: 1,
          output: { doubled: value * 2 },
        });
      }
      expect([...runs.values()].every((count) => count === 1)).toBe(true);
      expect(runs.size).toBe(200);
    },
    timeout,
  );

  it(
    'a failing worker is retried, then the job fails with attempt = maxAttempts',
    async () => {
      const t = fixture();
      const e = t.endpoint({ maxAttempts: 3, backoff: { initialMs: 10, factor: 1, maxMs: 10 } });
      const attempts: number[] = [];
      const rt = t.runtime([
        t.worker(e, (_value, ctx) => {
          attempts.push(ctx.attempt);
          throw new Error(`broken on attempt ${ctx.attempt}`);
        }),
      ]);
      await rt.start();
      const { job } = await rt.service.submit(e.name, { value: 1 });
      const done = await t.waitForFinal(job.id);
      expect(done).toMatchObject({ status: 'failed', attempt: 3, output: null });
      // A plain error's message stays in the logs (it may carry internals); clients see a generic detail.
      expect(done.error).toMatchObject({ code: 'job_failed', detail: 'The worker failed.' });
      expect(JSON.stringify(done.error)).not.toContain('broken on attempt');
      expect(attempts).toEqual([1, 2, 3]);
      await expect(rt.service.output(e.name, job.id)).rejects.toMatchObject({ code: 'output_not_available' });
    },
    timeout,
  );

  it(
    'a non-retryable failure fails the job at once',
    async () => {
      const t = fixture();
      const e = t.endpoint({ maxAttempts: 3, backoff: { initialMs: 10, factor: 1, maxMs: 10 } });
      let calls = 0;
      const rt = t.runtime([
        t.worker(e, () => {
          calls++;
          throw new JobFailedError('bad input', { retryable: false });
        }),
      ]);
      await rt.start();
      const { job } = await rt.service.submit(e.name, { value: 1 });
      const done = await t.waitForFinal(job.id);
      expect(done).toMatchObject({ status: 'failed', attempt: 1 });
      expect(done.error).toMatchObject({ code: 'job_failed', detail: 'bad input' });
      expect(calls).toBe(1);
    },
    timeout,
  );

  it(
    'an attempt past the endpoint timeout aborts the signal; attempts exhausted → failed with code timeout',
    async () => {
      const t = fixture();
      const e = t.endpoint({
        timeoutMs: 100,
        maxAttempts: 2,
        backoff: { initialMs: 10, factor: 1, maxMs: 10 },
      });
      const aborted: Array<{ attempt: number; reason: unknown }> = [];
      const rt = t.runtime([
        t.worker(
          e,
          (_value, ctx) =>
            new Promise((resolve) => {
              ctx.signal.addEventListener('abort', () => {
                aborted.push({ attempt: ctx.attempt, reason: ctx.signal.reason });
                // A worker that ignores the signal for a while must not delay the recorded failure.
                setTimeout(() => resolve({ doubled: -1 }), 50);
              });
            }),
        ),
      ]);
      await rt.start();
      const { job } = await rt.service.submit(e.name, { value: 1 });
      const done = await t.waitForFinal(job.id);
      expect(done).toMatchObject({ status: 'failed', attempt: 2, output: null });
      expect(done.error).toMatchObject({ code: 'timeout' });
      await t.waitUntil(() => aborted.length === 2, 'both attempts aborted');
      expect(aborted.map((a) => a.attempt)).toEqual([1, 2]);
    },
    timeout,
  );

  it(
    'cancel while queued: canceled at once, never handed to a worker',
    async () => {
      const t = fixture();
      const e = t.endpoint();
      const ran: string[] = [];
      const rt = t.runtime([
        t.worker(e, (value, ctx) => {
          ran.push(ctx.job.id);
          return { doubled: value.value * 2 };
        }),
      ]);
      // Not started: the job stays queued.
      const { job } = await rt.service.submit(e.name, { value: 1 });
      const result = await rt.service.delete(e.name, job.id);
      expect(result.outcome).toBe('canceled');
      expect(result.job).toMatchObject({ status: 'canceled', error: { code: 'canceled' } });
      await rt.start();
      const other = await rt.service.submit(e.name, { value: 2 });
      expect(await t.waitForFinal(other.job.id)).toMatchObject({ status: 'succeeded' });
      expect(ran).toEqual([other.job.id]);
      expect(await t.backend.repository.get(job.id)).toMatchObject({ status: 'canceled', attempt: 0 });
    },
    timeout,
  );

  it(
    "cancel while running aborts the worker's signal and ends canceled",
    async () => {
      const t = fixture();
      const e = t.endpoint();
      const started = deferred();
      let abortedWith: unknown;
      const rt = t.runtime([
        t.worker(
          e,
          (_value, ctx) =>
            new Promise((_resolve, reject) => {
              ctx.signal.addEventListener('abort', () => {
                abortedWith = ctx.signal.reason;
                reject(ctx.signal.reason);
              });
              started.resolve();
            }),
        ),
      ]);
      await rt.start();
      const { job } = await rt.service.submit(e.name, { value: 1 });
      await started.promise;
      const result = await rt.service.delete(e.name, job.id);
      expect(result.outcome).toBe('cancel_requested');
      expect(result.job).toMatchObject({ status: 'running', cancelRequested: true });
      const done = await t.waitForFinal(job.id);
      expect(done).toMatchObject({ status: 'canceled', error: { code: 'canceled' } });
      expect(abortedWith).toBeDefined();
      const removed = await rt.service.delete(e.name, job.id);
      expect(removed.outcome).toBe('removed');
      await expect(rt.service.get(e.name, job.id)).rejects.toMatchObject({ code: 'not_found' });
    },
    timeout,
  );

  it(
    'a message for a job that is running or final never runs it again',
    async () => {
      const t = fixture();
      const e = t.endpoint();
      const release = deferred();
      const calls: string[] = [];
      const rt = t.runtime([
        t.worker(
          e,
          async (value, ctx) => {
            calls.push(ctx.job.id);
            await release.promise;
            return { doubled: value.value * 2 };
          },
          { concurrency: 4 },
        ),
      ]);
      await rt.start();
      const { job } = await rt.service.submit(e.name, { value: 4 });
      await t.waitForStatus(job.id, ['running']);
      await t.backend.queue.publish(e.name, job.id);
      await t.waitForRefusedClaim(job.id);
      release.resolve();
      const done = await t.waitForFinal(job.id);
      expect(done).toMatchObject({ status: 'succeeded', attempt: 1 });

      const refused = () => t.claimsOf(job.id).filter((r) => r === null).length;
      const refusedBefore = refused();
      await t.backend.queue.publish(e.name, job.id);
      await t.waitUntil(() => refused() > refusedBefore, 'the message for the final job to be dropped');
      expect(calls).toEqual([job.id]);
      expect(await t.backend.repository.get(job.id)).toEqual(done);
    },
    timeout,
  );

  it(
    "a quick worker's last progress report, held back by the default throttle, is stored with its success",
    async () => {
      const t = fixture();
      const e = t.endpoint();
      const rt = t.runtime(
        [
          t.worker(
            e,
            (value, ctx) => {
              // A burst within the default 1 s throttle: all of it is held back, the last stored with the result.
              ctx.progress(1 / 3, '1 of 3');
              ctx.progress(2 / 3, '2 of 3');
              ctx.progress(1, '3 of 3');
              return { doubled: value.value * 2 };
            },
            { concurrency: 5 },
          ),
        ],
        { host: { leaseMs: 1_000, heartbeatIntervalMs: 100, shutdownTimeoutMs: 2_000 } },
      );
      await rt.start();
      // Several at once, so that the writes of different jobs interleave in the batches.
      const jobs = await Promise.all(
        Array.from({ length: 5 }, (_, value) => rt.service.submit(e.name, { value })),
      );
      for (const [value, { job }] of jobs.entries()) {
        expect(await t.waitForFinal(job.id)).toMatchObject({
          status: 'succeeded',
          output: { doubled: value * 2 },
          progress: { fraction: 1, message: '3 of 3' },
        });
      }
    },
    timeout,
  );

  it(
    "a long worker's progress and ETA are stored while it runs, throttled",
    async () => {
      const t = fixture();
      const e = t.endpoint();
      const release = deferred();
      const rt = t.runtime([
        t.worker(
          e,
          async (value, ctx) => {
            ctx.progress(0.25, 'a quarter');
            await release.promise;
            return { doubled: value.value * 2 };
          },
          { estimate: () => 60_000 },
        ),
      ]);
      await rt.start();
      const { job } = await rt.service.submit(e.name, { value: 1 });
      try {
        const running = await t.waitUntil(async () => {
          const current = await t.backend.repository.get(job.id, 'header');
          return current?.progress ? current : null;
        }, 'the progress to be stored');
        expect(running).toMatchObject({
          status: 'running',
          progress: { fraction: 0.25, message: 'a quarter' },
        });
        expect(running.estimatedCompletionAt).toBeInstanceOf(Date);
        expect(running.estimatedCompletionAt!.getTime()).toBeGreaterThan(running.startedAt!.getTime());
      } finally {
        release.resolve();
      }
      expect(await t.waitForFinal(job.id)).toMatchObject({ status: 'succeeded' });
    },
    timeout,
  );

  it(
    "clients see a JobFailedError's message, never a plain error's (it may carry internals)",
    async () => {
      const t = fixture();
      const plain = t.endpoint({ maxAttempts: 1 });
      const visible = t.endpoint({ maxAttempts: 1 });
      const rt = t.runtime([
        t.worker(plain, () => {
          throw new Error('connect ECONNREFUSED 10.1.2.3:5432 (user admin)');
        }),
        t.worker(visible, () => {
          throw new JobFailedError('visible message');
        }),
      ]);
      await rt.start();
      const plainJob = (await rt.service.submit(plain.name, { value: 1 })).job;
      const visibleJob = (await rt.service.submit(visible.name, { value: 1 })).job;
      expect(await t.waitForFinal(plainJob.id)).toMatchObject({ status: 'failed', attempt: 1 });
      const plainSeen = await rt.service.get(plain.name, plainJob.id);
      expect(plainSeen.error).toMatchObject({ code: 'job_failed', detail: 'The worker failed.' });
      expect(JSON.stringify(plainSeen.error)).not.toMatch(/ECONNREFUSED|10\.1\.2\.3|admin/);
      expect(await t.waitForFinal(visibleJob.id)).toMatchObject({ status: 'failed', attempt: 1 });
      const visibleSeen = await rt.service.get(visible.name, visibleJob.id);
      expect(visibleSeen.error).toMatchObject({ code: 'job_failed', detail: 'visible message' });
    },
    timeout,
  );

  it(
    'an output schema that throws fails the job with invalid_output on its first attempt',
    async () => {
      const t = fixture();
      const throwing = [
        output.superRefine(() => {
          throw new Error('the refinement broke');
        }),
        output.transform((): { doubled: number } => {
          throw new Error('the transform broke');
        }),
      ];
      const runs = new Map<string, number[]>();
      const workers: Worker<any>[] = throwing.map((schema) => {
        const name = t.endpointName();
        runs.set(name, []);
        const e = defineEndpoint({
          name,
          input,
          output: schema,
          maxAttempts: 3,
          backoff: { initialMs: 10, factor: 1, maxMs: 10 },
        });
        return implement(e, (value, ctx) => {
          runs.get(name)!.push(ctx.attempt);
          return { doubled: value.value * 2 };
        });
      });
      const rt = t.runtime(workers);
      await rt.start();
      const jobs: string[] = [];
      for (const w of workers) jobs.push((await rt.service.submit(w.endpoint.name, { value: 1 })).job.id);
      for (const [index, id] of jobs.entries()) {
        expect(await t.waitForFinal(id)).toMatchObject({
          status: 'failed',
          attempt: 1,
          output: null,
          error: { code: 'invalid_output' },
        });
        expect(runs.get(workers[index]!.endpoint.name)).toEqual([1]);
      }
    },
    timeout,
  );

  it(
    'an output the repository cannot store fails the job as invalid_output on its first attempt',
    async () => {
      const t = fixture();
      const e = defineEndpoint({
        name: t.endpointName(),
        input,
        output: z.object({ text: z.string() }),
        maxAttempts: 3,
        backoff: { initialMs: 10, factor: 1, maxMs: 10 },
      });
      const attempts: number[] = [];
      const rt = t.runtime([
        implement(e, (_value, ctx) => {
          attempts.push(ctx.attempt);
          // U+0000: valid for the schema, refused by every repository.
          return { text: 'nul \u0000 inside' };
        }),
      ]);
      await rt.start();
      const { job } = await rt.service.submit(e.name, { value: 1 });
      const done = await t.waitForFinal(job.id);
      expect(done).toMatchObject({
        status: 'failed',
        attempt: 1,
        output: null,
        error: { code: 'invalid_output' },
      });
      expect(attempts).toEqual([1]);
    },
    timeout,
  );
}
