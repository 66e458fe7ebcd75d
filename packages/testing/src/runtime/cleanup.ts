import { newLeaseToken } from '@jobs/core';
import { expect, it } from 'vitest';
import { deferred, delay } from '../helpers.js';
import { CLEANUP, type RuntimeFixture, recordingLogger, SWEEPER } from './fixture.js';
import { partitionable } from './partition.js';

/** Worker cleanups of succeeded jobs: run once on delete or expiry, retried, taken over when their process dies. */
export function cleanupTests(fixture: () => RuntimeFixture, timeout: number): void {
  it(
    "a finished job expires after its retention: the sweeper deletes it and the worker's cleanup runs",
    async () => {
      const t = fixture();
      const e = t.endpoint({ retentionMs: 300 });
      const cleaned: Array<{ input: unknown; output: unknown; status: string }> = [];
      const rt = t.runtime([
        t.worker(e, (value) => ({ doubled: value.value * 2 }), {
          cleanup: ({ input, output, job }) => {
            cleaned.push({ input, output, status: job.status });
          },
        }),
      ]);
      await rt.start();
      const { job } = await rt.service.submit(e.name, { value: 7 });
      expect(await t.waitForFinal(job.id)).toMatchObject({ status: 'succeeded' });
      await t.waitUntil(async () => (await t.backend.repository.get(job.id)) === null, 'the job to expire');
      await expect(rt.service.get(e.name, job.id)).rejects.toMatchObject({ code: 'not_found' });
      await t.waitUntil(() => cleaned.length > 0, 'cleanup to run');
      await delay(200);
      expect(cleaned).toEqual([{ input: { value: 7 }, output: { doubled: 14 }, status: 'succeeded' }]);
    },
    timeout,
  );

  it(
    "an API process (host: false) runs no job, yet runs the worker's cleanup on DELETE of a job run elsewhere",
    async () => {
      const t = fixture();
      const e = t.endpoint();
      const ranBy: string[] = [];
      const cleaned: Array<{ by: string; input: unknown; output: unknown }> = [];
      const make = (by: string, withCleanup: boolean) =>
        t.worker(
          e,
          (value) => {
            ranBy.push(by);
            return { doubled: value.value * 2 };
          },
          withCleanup ? { cleanup: ({ input, output }) => void cleaned.push({ by, input, output }) } : {},
        );
      const api = t.runtime([make('api', true)], { host: false });
      expect(api.host).toBeNull();
      await api.start();
      // The workers' process declares the cleanup too (so the job records that it has one), but runs none here.
      const workers = t.runtime([make('workers', true)], { sweeper: false, cleanup: false });
      await workers.start();
      const { job } = await api.service.submit(e.name, { value: 6 });
      expect(await t.waitForFinal(job.id)).toMatchObject({ status: 'succeeded', output: { doubled: 12 } });
      expect(ranBy).toEqual(['workers']);

      const result = await api.service.delete(e.name, job.id);
      expect(result.outcome).toBe('removed');
      expect(await t.backend.repository.get(job.id)).toBeNull();
      await t.waitUntil(() => cleaned.length > 0, 'the cleanup to run');
      // Give a second, wrong call the chance to show up before checking there was exactly one.
      await delay(200);
      expect(cleaned).toEqual([{ by: 'api', input: { value: 6 }, output: { doubled: 12 } }]);
    },
    timeout,
  );

  it(
    'a cleanup that does not settle holds neither DELETE nor the expiry (and cleanup) of another job',
    async () => {
      const t = fixture();
      const e = t.endpoint({ retentionMs: 200 });
      const gate = deferred();
      const cleanupStarted: number[] = [];
      const cleanupDone: number[] = [];
      const withCleanup = t.worker(e, (value) => ({ doubled: value.value * 2 }), {
        cleanup: async ({ input }) => {
          cleanupStarted.push(input.value);
          // The job of value 1 has a cleanup that hangs (until the test lets it go at the end).
          if (input.value === 1) await gate.promise;
          cleanupDone.push(input.value);
        },
      });
      // Only explicit sweeps below: nothing expires behind the test's back.
      const api = t.runtime([withCleanup], { host: false, sweeper: { ...SWEEPER, intervalMs: 600_000 } });
      await api.start();
      const workers = t.runtime([withCleanup], { sweeper: false, cleanup: false });
      await workers.start();
      try {
        const other = (await api.service.submit(e.name, { value: 2 })).job;
        const hung = (await api.service.submit(e.name, { value: 1 })).job;
        expect(await t.waitForFinal(other.id)).toMatchObject({ status: 'succeeded' });
        expect(await t.waitForFinal(hung.id)).toMatchObject({ status: 'succeeded' });

        const result = await t.bounded(api.service.delete(e.name, hung.id), 'DELETE with a hung cleanup');
        expect(result.outcome).toBe('removed');
        expect(await t.backend.repository.get(hung.id)).toBeNull();
        await t.waitUntil(() => cleanupStarted.includes(1), 'the hung cleanup to start');

        // The other job is past its retention: a sweep deletes it and its cleanup runs beside the hung one (the
        // cleanups are run by sweeps too, so keep sweeping until it has run).
        await t.waitUntil(async () => {
          await t.bounded(api.sweeper!.sweep(), 'a sweep while another cleanup hangs');
          return cleanupDone.includes(2);
        }, 'the sweeper to expire the other job and run its cleanup');
        expect(await t.backend.repository.get(other.id)).toBeNull();
        expect(cleanupDone).toEqual([2]);
      } finally {
        gate.resolve();
      }
      await t.waitUntil(() => cleanupDone.includes(1), 'the released cleanup to finish');
    },
    timeout,
  );

  it(
    'a cleanup that fails is tried again with backoff until it succeeds',
    async () => {
      const t = fixture();
      const e = t.endpoint();
      const attempts: number[] = [];
      const rt = t.runtime([
        t.worker(e, (value) => ({ doubled: value.value * 2 }), {
          cleanup: () => {
            attempts.push(Date.now());
            if (attempts.length < 3) throw new Error(`storage unavailable (attempt ${attempts.length})`);
          },
        }),
      ]);
      await rt.start();
      const { job } = await rt.service.submit(e.name, { value: 3 });
      expect(await t.waitForFinal(job.id)).toMatchObject({ status: 'succeeded' });
      await rt.service.delete(e.name, job.id);
      await t.waitUntil(() => attempts.length === 3, 'the cleanup to succeed on its third attempt');
      await delay(300);
      expect(attempts).toHaveLength(3);
    },
    timeout,
  );

  it(
    'a cleanup that always fails is given up after its attempts: logged as an error with the job, not tried again',
    async () => {
      const t = fixture();
      const e = t.endpoint();
      const logger = recordingLogger();
      let attempts = 0;
      const rt = t.runtime(
        [
          t.worker(e, (value) => ({ doubled: value.value * 2 }), {
            cleanup: () => {
              attempts += 1;
              throw new Error(`storage unavailable (attempt ${attempts})`);
            },
          }),
        ],
        { logger, cleanup: { ...CLEANUP, maxAttempts: 3 } },
      );
      await rt.start();
      const { job } = await rt.service.submit(e.name, { value: 5 });
      expect(await t.waitForFinal(job.id)).toMatchObject({ status: 'succeeded' });
      await rt.service.delete(e.name, job.id);
      const cleanupLog = () => logger.entries.filter((entry) => /worker cleanup failed/.test(entry.message));
      const givenUp = await t.waitUntil(
        () => cleanupLog().find((entry) => entry.level === 'error'),
        'the cleanup to be given up',
      );
      expect(givenUp.message).toMatch(/giving up/);
      expect(givenUp.fields).toMatchObject({ jobId: job.id, endpoint: e.name, attempt: 3 });
      expect(givenUp.fields.error).toMatch(/attempt 3/);
      expect(attempts).toBe(3);
      // The first two failures were warnings that it would be tried again.
      expect(cleanupLog().map((entry) => [entry.level, entry.fields.attempt])).toEqual([
        ['warn', 1],
        ['warn', 2],
        ['error', 3],
      ]);

      // Several polls and retry delays later, nothing ran it again and nothing is left to claim.
      await delay(10 * Math.max(CLEANUP.pollIntervalMs, CLEANUP.retryDelayMs));
      expect(attempts).toBe(3);
      expect(cleanupLog()).toHaveLength(3);
      await rt.cleanup!.stop();
      const left = await t.repository.claimCleanups({
        endpoints: [e.name],
        limit: 10,
        leaseMs: 60_000,
        leaseToken: newLeaseToken(),
      });
      expect(left).toEqual([]);
    },
    timeout,
  );

  it(
    'a cleanup whose process died mid-way is taken over by another process with that worker once its lease expires',
    async () => {
      const t = fixture();
      const e = t.endpoint();
      const dead = partitionable(t.repository);
      const startedIn: string[] = [];
      const finishedIn: string[] = [];
      const cleanupIn = (where: string) =>
        t.worker(e, (value) => ({ doubled: value.value * 2 }), {
          cleanup: async () => {
            startedIn.push(where);
            if (where === 'dying') {
              // The process dies here: it reaches the store no more, and its cleanup never ends.
              dead.cut();
              await new Promise<never>(() => {});
            }
            finishedIn.push(where);
          },
        });
      // A short cleanup timeout: the lease of a taken cleanup is twice that.
      const dying = t.runtime([cleanupIn('dying')], {
        repository: dead.repository,
        host: false,
        sweeper: false,
        cleanup: { ...CLEANUP, timeoutMs: 300 },
      });
      await dying.start();
      const workers = t.runtime([cleanupIn('workers')], { sweeper: false, cleanup: false });
      await workers.start();
      const { job } = await dying.service.submit(e.name, { value: 4 });
      expect(await t.waitForFinal(job.id)).toMatchObject({ status: 'succeeded' });
      await dying.service.delete(e.name, job.id);
      await t.waitUntil(() => startedIn.includes('dying'), 'the cleanup to start in the dying process');

      const survivor = t.runtime([cleanupIn('survivor')], {
        host: false,
        sweeper: false,
        cleanup: { ...CLEANUP, timeoutMs: 300 },
      });
      await survivor.start();
      await t.waitUntil(() => finishedIn.includes('survivor'), 'the survivor to take the cleanup over');
      expect(finishedIn).toEqual(['survivor']);
    },
    timeout,
  );
}
