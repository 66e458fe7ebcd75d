import type {
  Endpoint,
  EndpointOptions,
  JobQueue,
  JobRecord,
  JobRepository,
  JobsRuntime,
  JobsRuntimeOptions,
  Worker,
  WorkerContext,
} from '@jobs/core';
import {
  createJobsRuntime,
  createSweeper,
  defineEndpoint,
  implement,
  isFinalStatus,
  JobFailedError,
  silentLogger,
  UnavailableError,
} from '@jobs/core';
import { createMemoryQueue, type MemoryJobQueue } from '@jobs/memory';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { deferred, delay, purgeJobs, trackJobs, uniqueName, waitFor } from './helpers.js';

export interface RuntimeBackend {
  repository: JobRepository;
  queue: JobQueue;
  /** Closes both; default: `queue.close()` then `repository.close()`. */
  close?: () => Promise<void>;
}

export type RuntimeFactory = () => Promise<RuntimeBackend> | RuntimeBackend;

export interface RuntimeContractOptions {
  /** Runs after each test, before the backend is closed, with the endpoint names the test used. */
  cleanup?: (backend: RuntimeBackend, endpoints: string[]) => Promise<void>;
  /** Timeout of each test. Default 60 s. */
  testTimeoutMs?: number;
  /** How long a test waits for a job to reach a state. Default 30 s. */
  waitTimeoutMs?: number;
}

const input = z.object({ value: z.number() });
const output = z.object({ doubled: z.number() });
type Input = z.infer<typeof input>;

/** Short timings so that leases, retries and sweeps happen within a test. */
const HOST = { leaseMs: 1_000, heartbeatIntervalMs: 100, progressIntervalMs: 20, shutdownTimeoutMs: 2_000 };
const SWEEPER = { intervalMs: 100, undispatchedGraceMs: 200, redispatchAfterMs: 1_000 };

/**
 * Registers a `describe` block that runs the @jobs/core runtime (JobService, worker host, sweeper) on the
 * repository and queue from `factory` and checks the guarantees of the design end to end: results are
 * recorded exactly once, retries and timeouts, cancel reaching running code, recovery of a job whose worker
 * died, stale messages dropped, expiry, and waiters woken by change notifications.
 */
export function describeJobRuntimeContract(
  name: string,
  factory: RuntimeFactory,
  options: RuntimeContractOptions = {},
): void {
  const timeout = options.testTimeoutMs ?? 60_000;
  const waitTimeoutMs = options.waitTimeoutMs ?? 30_000;

  describe(`jobs runtime contract: ${name}`, () => {
    let backend: RuntimeBackend;
    let repository: JobRepository;
    let createdIds: Set<string>;
    let endpoints: string[];
    let runtimes: JobsRuntime[];
    /** Every claim made through `repository`: job id → results (null when refused). */
    let claims: Map<string, Array<JobRecord | null>>;

    beforeEach(async () => {
      backend = await factory();
      createdIds = new Set();
      endpoints = [];
      runtimes = [];
      claims = new Map();
      const tracked = trackJobs(backend.repository, createdIds);
      repository = {
        ...tracked,
        async claim(id, claimOptions) {
          const result = await tracked.claim(id, claimOptions);
          const list = claims.get(id) ?? [];
          list.push(result);
          claims.set(id, list);
          return result;
        },
      };
    });

    afterEach(async () => {
      try {
        await Promise.allSettled(runtimes.map((runtime) => runtime.stop({ timeoutMs: 200 })));
        await purgeJobs(backend.repository, createdIds);
        await options.cleanup?.(backend, endpoints);
      } finally {
        if (backend.close) await backend.close();
        else {
          await backend.queue.close();
          await backend.repository.close();
        }
      }
    });

    function endpoint(endpointOptions: EndpointOptions = {}) {
      const endpointName = uniqueName('rt');
      endpoints.push(endpointName);
      return defineEndpoint({ name: endpointName, input, output, maxAttempts: 3, ...endpointOptions });
    }

    type TestEndpoint = ReturnType<typeof endpoint>;

    function worker(
      e: TestEndpoint,
      run: (value: Input, ctx: WorkerContext) => Promise<{ doubled: number }> | { doubled: number },
      extra: Partial<Omit<Worker<TestEndpoint>, 'endpoint' | 'run'>> = {},
    ): Worker<TestEndpoint> {
      return implement(e, { run, ...extra });
    }

    function runtime(
      workers: Worker<any>[],
      overrides: Partial<Omit<JobsRuntimeOptions, 'workers'>> & { endpoints?: readonly Endpoint[] } = {},
    ): JobsRuntime {
      const created = createJobsRuntime({
        repository,
        queue: backend.queue,
        workers,
        logger: silentLogger,
        host: HOST,
        sweeper: SWEEPER,
        ...overrides,
      });
      runtimes.push(created);
      return created;
    }

    async function waitForStatus(id: string, statuses: string[], what = statuses.join(' or ')) {
      return waitUntil(async () => {
        const job = await backend.repository.get(id);
        return job && statuses.includes(job.status) ? job : null;
      }, `job ${id} to be ${what}`);
    }

    async function waitForFinal(id: string) {
      const job = await waitUntil(async () => {
        const current = await backend.repository.get(id);
        return current && isFinalStatus(current.status) ? current : null;
      }, `job ${id} to reach a final state`);
      return job;
    }

    /** Polls `condition` until it is truthy, for at most the wait timeout; `message` says what it waits for. */
    function waitUntil<T>(condition: () => T | Promise<T>, message: string): Promise<NonNullable<T>> {
      return waitFor(condition, { timeoutMs: waitTimeoutMs, message });
    }

    /** Fails the test when `promise` has not settled after the wait timeout: for calls that must not hang. */
    async function bounded<T>(promise: Promise<T>, what: string): Promise<T> {
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        return await Promise.race([
          promise,
          new Promise<never>((_resolve, reject) => {
            timer = setTimeout(
              () => reject(new Error(`${what} did not return within ${waitTimeoutMs} ms`)),
              waitTimeoutMs,
            );
          }),
        ]);
      } finally {
        clearTimeout(timer);
      }
    }

    /** What `withCountingQueue` gives its body. */
    interface CountingQueue {
      /** A queue that reports its depth: the backend's when it can tell, else an in-memory one. */
      queue: JobQueue;
      /** The messages of the endpoint waiting in `queue`. */
      depth: () => Promise<number>;
      /** Every job id of the endpoint published through `counting`, in order. */
      published: string[];
      /** `queue`, recording what is published to the endpoint in `published`; closing it closes nothing. */
      counting: JobQueue;
    }

    /**
     * Runs `body` with a queue that reports its depth: the backend's queue when it can tell, else an in-memory
     * queue, closed afterwards (a queue without depth is re-dispatched to by design: nothing to test there).
     */
    async function withCountingQueue(
      e: TestEndpoint,
      body: (q: CountingQueue) => Promise<void>,
    ): Promise<void> {
      const ownQueue = typeof backend.queue.depth === 'function' ? null : createMemoryQueue();
      const queue = ownQueue ?? backend.queue;
      try {
        const depth = async () => queue.depth!(e.name);
        const published: string[] = [];
        const counting: JobQueue = {
          async publish(endpointName, jobId) {
            await queue.publish(endpointName, jobId);
            if (endpointName === e.name) published.push(jobId);
          },
          consume: (endpointName, handler, consumeOptions) =>
            queue.consume(endpointName, handler, consumeOptions),
          depth: (endpointName) => queue.depth!(endpointName),
          close: async () => {},
        };
        await body({ queue, depth, published, counting });
      } finally {
        await ownQueue?.close();
      }
    }

    /** Submits three jobs (values 0, 1, 2) one after the other; their ids in that order. */
    async function submitThree(api: JobsRuntime, e: TestEndpoint): Promise<string[]> {
      const ids: string[] = [];
      for (let value = 0; value < 3; value++) {
        ids.push((await api.service.submit(e.name, { value })).job.id);
      }
      return ids;
    }

    async function waitForDepthAtLeast(depth: () => Promise<number>, count: number, message: string) {
      await waitUntil(async () => (await depth()) >= count, message);
    }

    /** Takes the messages of `ids` off `queue` without claiming them (lost messages), until the queue is empty. */
    async function drainQueue(queue: JobQueue, e: TestEndpoint, ids: string[], depth: () => Promise<number>) {
      const drained = new Set<string>();
      const consumer = await queue.consume(
        e.name,
        async (delivery) => {
          drained.add(delivery.jobId);
        },
        { concurrency: ids.length },
      );
      await waitUntil(() => ids.every((id) => drained.has(id)), 'the backlog to be drained');
      await consumer.stop();
      await waitUntil(async () => (await depth()) === 0, 'the queue to be empty');
    }

    async function waitForRefusedClaim(id: string) {
      await waitUntil(
        () => (claims.get(id) ?? []).some((result) => result === null),
        `a refused claim of job ${id}`,
      );
    }

    it(
      'submit → run → succeeded; the output is readable',
      async () => {
        const e = endpoint();
        const seen: Array<{ attempt: number; jobId: string }> = [];
        const rt = runtime([
          worker(e, (value, ctx) => {
            seen.push({ attempt: ctx.attempt, jobId: ctx.job.id });
            ctx.progress(0.5, 'half way');
            return { doubled: value.value * 2 };
          }),
        ]);
        await rt.start();
        const { job, created } = await rt.service.submit(e.name, { value: 21 });
        expect(created).toBe(true);
        expect(job.status).toBe('queued');
        const done = await waitForFinal(job.id);
        expect(done).toMatchObject({ status: 'succeeded', attempt: 1, output: { doubled: 42 }, error: null });
        expect(await rt.service.output(e.name, job.id)).toEqual({ doubled: 42 });
        expect(seen).toEqual([{ attempt: 1, jobId: job.id }]);
      },
      timeout,
    );

    it(
      'a failing worker is retried, then the job fails with attempt = maxAttempts',
      async () => {
        const e = endpoint({ maxAttempts: 3, backoff: { initialMs: 10, factor: 1, maxMs: 10 } });
        const attempts: number[] = [];
        const rt = runtime([
          worker(e, (_value, ctx) => {
            attempts.push(ctx.attempt);
            throw new Error(`broken on attempt ${ctx.attempt}`);
          }),
        ]);
        await rt.start();
        const { job } = await rt.service.submit(e.name, { value: 1 });
        const done = await waitForFinal(job.id);
        expect(done).toMatchObject({ status: 'failed', attempt: 3, output: null });
        // A plain error's message stays in the logs (it may carry internals); clients see a generic detail.
        expect(done.error).toMatchObject({ code: 'job_failed', detail: 'The worker failed.' });
        expect(JSON.stringify(done.error)).not.toContain('broken on attempt');
        expect(attempts).toEqual([1, 2, 3]);
        await expect(rt.service.output(e.name, job.id)).rejects.toMatchObject({
          code: 'output_not_available',
        });
      },
      timeout,
    );

    it(
      'a non-retryable failure fails the job at once',
      async () => {
        const e = endpoint({ maxAttempts: 3, backoff: { initialMs: 10, factor: 1, maxMs: 10 } });
        let calls = 0;
        const rt = runtime([
          worker(e, () => {
            calls++;
            throw new JobFailedError('bad input', { retryable: false });
          }),
        ]);
        await rt.start();
        const { job } = await rt.service.submit(e.name, { value: 1 });
        const done = await waitForFinal(job.id);
        expect(done).toMatchObject({ status: 'failed', attempt: 1 });
        expect(done.error).toMatchObject({ code: 'job_failed', detail: 'bad input' });
        expect(calls).toBe(1);
      },
      timeout,
    );

    it(
      'an attempt past the endpoint timeout aborts the signal; attempts exhausted → failed with code timeout',
      async () => {
        const e = endpoint({
          timeoutMs: 100,
          maxAttempts: 2,
          backoff: { initialMs: 10, factor: 1, maxMs: 10 },
        });
        const aborted: Array<{ attempt: number; reason: unknown }> = [];
        const rt = runtime([
          worker(
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
        const done = await waitForFinal(job.id);
        expect(done).toMatchObject({ status: 'failed', attempt: 2, output: null });
        expect(done.error).toMatchObject({ code: 'timeout' });
        await waitUntil(() => aborted.length === 2, 'both attempts aborted');
        expect(aborted.map((a) => a.attempt)).toEqual([1, 2]);
      },
      timeout,
    );

    it(
      'cancel while queued: canceled at once, and the worker never runs it',
      async () => {
        const e = endpoint();
        const ran: string[] = [];
        const rt = runtime([
          worker(e, (value, ctx) => {
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
        await waitForRefusedClaim(job.id);
        const other = await rt.service.submit(e.name, { value: 2 });
        expect(await waitForFinal(other.job.id)).toMatchObject({ status: 'succeeded' });
        expect(ran).toEqual([other.job.id]);
        expect(await backend.repository.get(job.id)).toMatchObject({ status: 'canceled', attempt: 0 });
      },
      timeout,
    );

    it(
      "cancel while running aborts the worker's signal and ends canceled",
      async () => {
        const e = endpoint();
        const started = deferred();
        let abortedWith: unknown;
        const rt = runtime([
          worker(
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
        const done = await waitForFinal(job.id);
        expect(done).toMatchObject({ status: 'canceled', error: { code: 'canceled' } });
        expect(abortedWith).toBeDefined();
        const removed = await rt.service.delete(e.name, job.id);
        expect(removed.outcome).toBe('removed');
        await expect(rt.service.get(e.name, job.id)).rejects.toMatchObject({ code: 'not_found' });
      },
      timeout,
    );

    it(
      'a job whose worker died mid-run runs again elsewhere and succeeds; the dead run cannot record a result',
      async () => {
        const e = endpoint();
        const { repository: cutOff, cut, heal } = partitionable(repository);
        const deadStarted = deferred();
        const deadRelease = deferred<{ doubled: number }>();
        const dying = runtime(
          [
            worker(
              e,
              () => {
                // The process "dies" here: from now on it reaches neither the store nor anything else.
                cut();
                deadStarted.resolve();
                return deadRelease.promise;
              },
              { concurrency: 1 },
            ),
          ],
          {
            repository: cutOff,
            host: { ...HOST, leaseMs: 300, heartbeatIntervalMs: 50 },
            sweeper: false,
          },
        );
        await dying.start();
        const { job } = await dying.service.submit(e.name, { value: 5 });
        await deadStarted.promise;

        const survivorRuns: number[] = [];
        const survivorStarted = deferred();
        const survivorGo = deferred();
        const survivor = runtime([
          worker(e, async (value, ctx) => {
            survivorRuns.push(ctx.attempt);
            survivorStarted.resolve();
            await survivorGo.promise;
            return { doubled: value.value * 2 };
          }),
        ]);
        await survivor.start();
        await survivorStarted.promise;
        const takenOver = await waitForStatus(job.id, ['running']);
        expect(takenOver.attempt).toBe(2);

        // The dead worker comes back while the job runs elsewhere and finishes its run: its result is refused.
        heal();
        deadRelease.resolve({ doubled: -1 });
        await waitUntil(() => dying.host!.activeJobs === 0, 'the revived run to end');
        expect(await backend.repository.get(job.id)).toMatchObject({
          status: 'running',
          attempt: 2,
          leaseToken: takenOver.leaseToken,
          output: null,
        });

        survivorGo.resolve();
        const done = await waitForFinal(job.id);
        expect(done).toMatchObject({ status: 'succeeded', attempt: 2, output: { doubled: 10 } });
        expect(survivorRuns).toEqual([2]);
      },
      timeout,
    );

    it(
      'a host stopped gracefully releases its running job; another host runs it with the attempt refunded',
      async () => {
        const e = endpoint();
        const firstStarted = deferred();
        const first = runtime(
          [
            worker(
              e,
              (_value, ctx) =>
                new Promise((_resolve, reject) => {
                  firstStarted.resolve();
                  ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
                }),
            ),
          ],
          { sweeper: false },
        );
        await first.start();
        const { job } = await first.service.submit(e.name, { value: 3 });
        await firstStarted.promise;
        const attempts: number[] = [];
        const second = runtime([
          worker(e, (value, ctx) => {
            attempts.push(ctx.attempt);
            return { doubled: value.value * 2 };
          }),
        ]);
        await second.start();
        await first.stop({ timeoutMs: 50 });
        const done = await waitForFinal(job.id);
        expect(done).toMatchObject({ status: 'succeeded', attempt: 1, output: { doubled: 6 } });
        expect(attempts).toEqual([1]);
      },
      timeout,
    );

    it(
      'a message for a job that is running or final never runs it again',
      async () => {
        const e = endpoint();
        const release = deferred();
        const calls: string[] = [];
        const rt = runtime([
          worker(
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
        await waitForStatus(job.id, ['running']);
        await backend.queue.publish(e.name, job.id);
        await waitForRefusedClaim(job.id);
        release.resolve();
        const done = await waitForFinal(job.id);
        expect(done).toMatchObject({ status: 'succeeded', attempt: 1 });

        const refusedBefore = (claims.get(job.id) ?? []).filter((r) => r === null).length;
        await backend.queue.publish(e.name, job.id);
        await waitUntil(
          () => (claims.get(job.id) ?? []).filter((r) => r === null).length > refusedBefore,
          'the message for the final job to be dropped',
        );
        expect(calls).toEqual([job.id]);
        expect(await backend.repository.get(job.id)).toEqual(done);
      },
      timeout,
    );

    it(
      "a finished job expires after its retention: the sweeper deletes it and runs the worker's cleanup",
      async () => {
        const e = endpoint({ retentionMs: 300 });
        const cleaned: Array<{ input: unknown; output: unknown }> = [];
        const rt = runtime([
          worker(e, (value) => ({ doubled: value.value * 2 }), {
            cleanup: ({ input: cleanedInput, output: cleanedOutput }) => {
              cleaned.push({ input: cleanedInput, output: cleanedOutput });
            },
          }),
        ]);
        await rt.start();
        const { job } = await rt.service.submit(e.name, { value: 7 });
        expect(await waitForFinal(job.id)).toMatchObject({ status: 'succeeded' });
        await waitUntil(
          async () => (await backend.repository.get(job.id)) === null,
          'the sweeper to delete the expired job',
        );
        await expect(rt.service.get(e.name, job.id)).rejects.toMatchObject({ code: 'not_found' });
        await waitUntil(() => cleaned.length > 0, 'cleanup to run');
        expect(cleaned).toEqual([{ input: { value: 7 }, output: { doubled: 14 } }]);
      },
      timeout,
    );

    it(
      'wait() is woken by the change, not by its poll or its timeout',
      async () => {
        const e = endpoint();
        const started = deferred();
        const progressGo = deferred();
        const release = deferred();
        const rt = runtime(
          [
            worker(e, async (value, ctx) => {
              started.resolve();
              await progressGo.promise;
              ctx.progress(0.5, 'half');
              await release.promise;
              return { doubled: value.value * 2 };
            }),
          ],
          // Polling so rare that only a change notification can end the waits below in time.
          { service: { pollIntervalMs: 600_000 } },
        );
        await rt.start();
        const { job } = await rt.service.submit(e.name, { value: 8 });
        await started.promise;
        const running = await waitForStatus(job.id, ['running']);
        const abandon = new AbortController();
        const woken = <T>(promise: Promise<T>, what: string) =>
          Promise.race([
            promise,
            delay(waitTimeoutMs).then(() => {
              throw new Error(`${what} was not woken by the change notification`);
            }),
          ]);
        try {
          // Distinct timestamps, so that the change is visible in updatedAt.
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
          // Let the waiter subscribe before the change happens (a change in between is only found by polling).
          await delay(100);
          progressGo.resolve();
          const progressed = await woken(changed, 'wait for a change');
          expect(progressed).toMatchObject({
            status: 'running',
            progress: { fraction: 0.5, message: 'half' },
          });

          const final = rt.service.wait(e.name, job.id, { timeoutMs: 600_000, signal: abandon.signal });
          await delay(100);
          release.resolve();
          const done = await woken(final, 'wait for the final state');
          expect(done).toMatchObject({ status: 'succeeded', output: { doubled: 16 } });
        } finally {
          abandon.abort();
          progressGo.resolve();
          release.resolve();
        }
      },
      timeout,
    );

    it(
      "a quick worker's last progress report, held back by the default throttle, is stored with its success",
      async () => {
        const e = endpoint();
        const rt = runtime(
          [
            worker(
              e,
              (value, ctx) => {
                // A burst within the default 1 s throttle: the first is written at once, the rest held back.
                ctx.progress(1 / 3, '1 of 3');
                ctx.progress(2 / 3, '2 of 3');
                ctx.progress(1, '3 of 3');
                return { doubled: value.value * 2 };
              },
              { concurrency: 5 },
            ),
          ],
          {
            host: {
              leaseMs: HOST.leaseMs,
              heartbeatIntervalMs: HOST.heartbeatIntervalMs,
              shutdownTimeoutMs: HOST.shutdownTimeoutMs,
            },
          },
        );
        await rt.start();
        // Several at once, so that the writes of different jobs interleave.
        const jobs = await Promise.all(
          Array.from({ length: 5 }, (_, value) => rt.service.submit(e.name, { value })),
        );
        for (const [value, { job }] of jobs.entries()) {
          const done = await waitForFinal(job.id);
          expect(done).toMatchObject({
            status: 'succeeded',
            output: { doubled: value * 2 },
            progress: { fraction: 1, message: '3 of 3' },
          });
        }
      },
      timeout,
    );

    it(
      'the sweeper re-dispatches long-unclaimed jobs only once their queue is empty, not behind a backlog',
      async () => {
        const e = endpoint();
        await withCountingQueue(e, async ({ queue, depth, published, counting }) => {
          const api = runtime([], { queue: counting, endpoints: [e], sweeper: false });
          // Every job dispatched "long ago" (0 ms) and unclaimed is a candidate for re-dispatch.
          const sweeper = createSweeper({
            repository,
            queue: counting,
            endpoints: [e.name],
            undispatchedGraceMs: 60_000,
            redispatchAfterMs: 0,
            logger: silentLogger,
          });
          const ids = await submitThree(api, e);
          expect(published).toEqual(ids);
          for (const id of ids) expect((await backend.repository.get(id))?.dispatchedAt).toBeInstanceOf(Date);

          // A backlog (no consumer): the messages wait in the queue, so sweeps add no copies.
          await waitForDepthAtLeast(depth, ids.length, 'the queue to hold the backlog');
          for (let sweep = 0; sweep < 3; sweep++) await sweeper.sweep();
          expect(published).toEqual(ids);

          // The messages get lost: a consumer takes them and claims nothing.
          await drainQueue(queue, e, ids, depth);
          for (const id of ids) expect((await backend.repository.get(id))?.status).toBe('queued');

          // The queue is empty and the jobs still queued: each is dispatched again, once.
          await sweeper.sweep();
          expect(published.slice(0, ids.length)).toEqual(ids);
          expect([...published.slice(ids.length)].sort()).toEqual([...ids].sort());

          // Those copies wait in the queue now: later sweeps add none.
          await waitForDepthAtLeast(depth, ids.length, 'the queue to hold the re-dispatched messages');
          await sweeper.sweep();
          expect(published).toHaveLength(2 * ids.length);
        });
      },
      timeout,
    );

    it(
      "a host cut off from the repository for a whole lease aborts its worker's signal",
      async () => {
        const e = endpoint();
        const leaseMs = 400;
        const { repository: cutOff, cut, renewals } = partitionable(repository);
        const started = deferred();
        let abortedAt: number | null = null;
        let abortReason: unknown;
        const calls: number[] = [];
        const host = runtime(
          [
            worker(
              e,
              (_value, ctx) =>
                new Promise((_resolve, reject) => {
                  calls.push(ctx.attempt);
                  ctx.signal.addEventListener('abort', () => {
                    abortedAt = Date.now();
                    abortReason = ctx.signal.reason;
                    reject(ctx.signal.reason);
                  });
                  started.resolve();
                }),
            ),
          ],
          {
            repository: cutOff,
            host: { ...HOST, leaseMs, heartbeatIntervalMs: 50 },
            sweeper: false,
          },
        );
        await host.start();
        const { job } = await host.service.submit(e.name, { value: 1 });
        await started.promise;
        await waitUntil(() => renewals.held >= 2, 'the lease to be renewed while connected');

        cut();
        const aborted = await waitUntil(() => abortedAt, "the worker's signal to abort while cut off");
        expect(abortReason).toMatchObject({ name: 'AbortError' });
        // Not at the first failed renewal: only once the last renewal that got through is about a lease old.
        expect(renewals.failed).toBeGreaterThan(0);
        expect(aborted - renewals.lastHeldAt!).toBeGreaterThanOrEqual(leaseMs / 2);
        await waitUntil(() => host.host!.activeJobs === 0, 'the aborted run to end');
        // The run recorded nothing: the job is still running under that lease, for the sweeper to recover.
        expect(await backend.repository.get(job.id)).toMatchObject({
          status: 'running',
          attempt: 1,
          output: null,
        });
        expect(calls).toEqual([1]);
      },
      timeout,
    );

    it(
      'a host cut off for less than a lease keeps its run going and records the result once reconnected',
      async () => {
        const e = endpoint();
        const { repository: cutOff, cut, heal, renewals } = partitionable(repository);
        const started = deferred();
        const release = deferred();
        let abortedWhileRunning: boolean | null = null;
        const host = runtime(
          [
            worker(e, async (value, ctx) => {
              started.resolve();
              await release.promise;
              abortedWhileRunning = ctx.signal.aborted;
              return { doubled: value.value * 2 };
            }),
          ],
          {
            repository: cutOff,
            // A long lease: a few failed renewals in a row are far from it.
            host: { ...HOST, leaseMs: 10_000, heartbeatIntervalMs: 50 },
            sweeper: false,
          },
        );
        await host.start();
        const { job } = await host.service.submit(e.name, { value: 9 });
        await started.promise;
        await waitUntil(() => renewals.held >= 1, 'the lease to be renewed while connected');
        cut();
        await waitUntil(() => renewals.failed >= 3, 'renewals to fail while cut off');
        heal();
        const heldBefore = renewals.held;
        await waitUntil(() => renewals.held > heldBefore, 'a renewal to get through again');
        release.resolve();
        const done = await waitForFinal(job.id);
        expect(done).toMatchObject({ status: 'succeeded', attempt: 1, output: { doubled: 18 } });
        expect(abortedWhileRunning).toBe(false);
      },
      timeout,
    );

    it(
      'a worker that ignores its signal keeps its concurrency slot until it returns: its retry never runs beside it',
      async () => {
        const e = endpoint({
          concurrency: 1,
          timeoutMs: 200,
          maxAttempts: 3,
          backoff: { initialMs: 10, factor: 1, maxMs: 10 },
        });
        let active = 0;
        let maxActive = 0;
        const attempts: number[] = [];
        const rt = runtime([
          worker(e, async (value, ctx) => {
            attempts.push(ctx.attempt);
            active++;
            maxActive = Math.max(maxActive, active);
            try {
              // Ignores its signal: runs on for a good while after the endpoint's timeout.
              await delay(1_000);
              return { doubled: value.value * 2 };
            } finally {
              active--;
            }
          }),
        ]);
        await rt.start();
        const { job } = await rt.service.submit(e.name, { value: 1 });
        const done = await waitForFinal(job.id);
        expect(done).toMatchObject({
          status: 'failed',
          attempt: 3,
          output: null,
          error: { code: 'timeout' },
        });
        await waitUntil(() => attempts.length === 3 && active === 0, 'the last attempt to return');
        expect(attempts).toEqual([1, 2, 3]);
        expect(maxActive).toBe(1);
      },
      timeout,
    );

    it(
      'stop() returns although a worker never settles, and releases its job (queued again, attempt refunded)',
      async () => {
        const e = endpoint();
        const started = deferred();
        const rt = runtime(
          [
            worker(e, () => {
              started.resolve();
              // Never settles, whatever its signal says.
              return new Promise<never>(() => {});
            }),
          ],
          { sweeper: false },
        );
        await rt.start();
        const { job } = await rt.service.submit(e.name, { value: 1 });
        await started.promise;
        expect(await waitForStatus(job.id, ['running'])).toMatchObject({ attempt: 1 });
        await bounded(rt.stop({ timeoutMs: 100 }), 'runtime.stop() with a hung worker');
        const released = await waitForStatus(job.id, ['queued']);
        expect(released).toMatchObject({ status: 'queued', attempt: 0, leaseToken: null, output: null });
      },
      timeout,
    );

    it(
      "an API process (host: false) runs no job, yet runs the worker's cleanup on DELETE of a job run elsewhere",
      async () => {
        const e = endpoint();
        const ranBy: string[] = [];
        const cleaned: Array<{ by: string; input: unknown; output: unknown }> = [];
        const make = (by: string) =>
          worker(
            e,
            (value) => {
              ranBy.push(by);
              return { doubled: value.value * 2 };
            },
            {
              cleanup: ({ input: cleanedInput, output: cleanedOutput }) => {
                cleaned.push({ by, input: cleanedInput, output: cleanedOutput });
              },
            },
          );
        const api = runtime([make('api')], { host: false });
        expect(api.host).toBeNull();
        await api.start();
        const workers = runtime([make('workers')], { sweeper: false });
        await workers.start();
        const { job } = await api.service.submit(e.name, { value: 6 });
        expect(await waitForFinal(job.id)).toMatchObject({ status: 'succeeded', output: { doubled: 12 } });
        expect(ranBy).toEqual(['workers']);

        const result = await api.service.delete(e.name, job.id);
        expect(result.outcome).toBe('removed');
        expect(await backend.repository.get(job.id)).toBeNull();
        await waitUntil(() => cleaned.length > 0, 'the cleanup to run');
        // Give a second, wrong call the chance to show up before checking there was exactly one.
        await delay(100);
        expect(cleaned).toEqual([{ by: 'api', input: { value: 6 }, output: { doubled: 12 } }]);
      },
      timeout,
    );

    it(
      'a cleanup that does not settle holds neither DELETE nor the expiry (and cleanup) of another job',
      async () => {
        const e = endpoint({ retentionMs: 200 });
        const gate = deferred();
        const cleanupStarted: number[] = [];
        const cleanupDone: number[] = [];
        const apiWorker = worker(e, (value) => ({ doubled: value.value * 2 }), {
          cleanup: async ({ input: cleanedInput }) => {
            cleanupStarted.push(cleanedInput.value);
            // The job of value 1 has a cleanup that hangs (until the test lets it go at the end).
            if (cleanedInput.value === 1) await gate.promise;
            cleanupDone.push(cleanedInput.value);
          },
        });
        // Only explicit sweeps below: nothing expires or cleans up behind the test's back.
        const api = runtime([apiWorker], { host: false, sweeper: { ...SWEEPER, intervalMs: 600_000 } });
        const workers = runtime([worker(e, (value) => ({ doubled: value.value * 2 }))], { sweeper: false });
        await workers.start();
        try {
          const other = (await api.service.submit(e.name, { value: 2 })).job;
          const hung = (await api.service.submit(e.name, { value: 1 })).job;
          expect(await waitForFinal(other.id)).toMatchObject({ status: 'succeeded' });
          expect(await waitForFinal(hung.id)).toMatchObject({ status: 'succeeded' });

          const result = await bounded(api.service.delete(e.name, hung.id), 'DELETE with a hung cleanup');
          expect(result.outcome).toBe('removed');
          expect(await backend.repository.get(hung.id)).toBeNull();
          await waitUntil(() => cleanupStarted.includes(1), 'the hung cleanup to start');

          // The other job is past its retention: a sweep deletes it and runs its cleanup, and returns.
          await waitUntil(async () => {
            await bounded(api.sweeper!.sweep(), 'a sweep while another cleanup hangs');
            return (await backend.repository.get(other.id)) === null;
          }, 'the sweeper to expire the other job');
          expect(cleanupDone).toEqual([2]);
          expect(cleanupStarted.sort()).toEqual([1, 2]);
        } finally {
          gate.resolve();
        }
        await waitUntil(() => cleanupDone.includes(1), 'the released cleanup to finish');
      },
      timeout,
    );

    it(
      "clients see a JobFailedError's message, never a plain error's (it may carry internals)",
      async () => {
        const plain = endpoint({ maxAttempts: 1 });
        const visible = endpoint({ maxAttempts: 1 });
        const rt = runtime([
          worker(plain, () => {
            throw new Error('connect ECONNREFUSED 10.1.2.3:5432 (user admin)');
          }),
          worker(visible, () => {
            throw new JobFailedError('visible message');
          }),
        ]);
        await rt.start();
        const plainJob = (await rt.service.submit(plain.name, { value: 1 })).job;
        const visibleJob = (await rt.service.submit(visible.name, { value: 1 })).job;

        expect(await waitForFinal(plainJob.id)).toMatchObject({ status: 'failed', attempt: 1 });
        const plainSeen = await rt.service.get(plain.name, plainJob.id);
        expect(plainSeen.error).toMatchObject({ code: 'job_failed', detail: 'The worker failed.' });
        expect(JSON.stringify(plainSeen.error)).not.toMatch(/ECONNREFUSED|10\.1\.2\.3|admin/);

        expect(await waitForFinal(visibleJob.id)).toMatchObject({ status: 'failed', attempt: 1 });
        const visibleSeen = await rt.service.get(visible.name, visibleJob.id);
        expect(visibleSeen.error).toMatchObject({ code: 'job_failed', detail: 'visible message' });
      },
      timeout,
    );

    it(
      'an output schema that throws fails the job with invalid_output on its first attempt',
      async () => {
        const throwing = {
          refine: output.superRefine(() => {
            throw new Error('the refinement broke');
          }),
          transform: output.transform((): { doubled: number } => {
            throw new Error('the transform broke');
          }),
        };
        const runs = new Map<string, number[]>();
        const jobs: string[] = [];
        const workers: Worker<any>[] = [];
        for (const schema of Object.values(throwing)) {
          const name = uniqueName('rt');
          endpoints.push(name);
          const e = defineEndpoint({
            name,
            input,
            output: schema,
            maxAttempts: 3,
            backoff: { initialMs: 10, factor: 1, maxMs: 10 },
          });
          runs.set(name, []);
          workers.push(
            implement(e, (value, ctx) => {
              runs.get(name)!.push(ctx.attempt);
              return { doubled: value.value * 2 };
            }),
          );
        }
        const rt = runtime(workers);
        await rt.start();
        for (const w of workers) jobs.push((await rt.service.submit(w.endpoint.name, { value: 1 })).job.id);
        for (const [index, id] of jobs.entries()) {
          const done = await waitForFinal(id);
          expect(done).toMatchObject({
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
      'a short repository outage during the claim does not dead-letter the message: the job runs once it is back',
      async () => {
        const e = endpoint();
        // Where the backend's queue is the in-memory one, a copy that gives up after two failed deliveries:
        // without the claim's own retry, the message would be dead-lettered within the outage.
        const memoryLike = typeof (backend.queue as Partial<MemoryJobQueue>).deadLetters === 'function';
        const ownQueue = memoryLike ? createMemoryQueue({ maxDeliveries: 2, redeliveryDelayMs: 50 }) : null;
        const queue = ownQueue ?? backend.queue;
        try {
          const { repository: cutOff, cut, heal, failedClaims } = partitionable(repository);
          const attempts: number[] = [];
          const host = runtime(
            [
              worker(e, (value, ctx) => {
                attempts.push(ctx.attempt);
                return { doubled: value.value * 2 };
              }),
            ],
            {
              repository: cutOff,
              queue,
              // A lease long enough for the claim to retry through the outage.
              host: { ...HOST, leaseMs: 5_000 },
              // A sweeper that re-dispatches nothing within the test: only the claim's retry can run the job.
              sweeper: {
                intervalMs: 600_000,
                undispatchedGraceMs: 600_000,
                redispatchAfterMs: 600_000,
              },
            },
          );
          await host.start();
          const api = runtime([], { queue, endpoints: [e], sweeper: false });

          cut();
          const { job } = await api.service.submit(e.name, { value: 4 });
          await waitUntil(() => failedClaims() >= 1, 'a claim to fail while the repository is cut off');
          await delay(1_000);
          heal();
          const done = await waitForFinal(job.id);
          expect(done).toMatchObject({ status: 'succeeded', attempt: 1, output: { doubled: 8 } });
          expect(attempts).toEqual([1]);
          if (ownQueue) expect(ownQueue.deadLetters(e.name)).toEqual([]);
        } finally {
          await ownQueue?.close();
        }
      },
      timeout,
    );

    it(
      "an API-only runtime's sweeper checks the queue's depth: a backlog is not re-published",
      async () => {
        const e = endpoint();
        await withCountingQueue(e, async ({ queue, depth, published, counting }) => {
          // Endpoints and no workers: the sweeper learns the endpoints from the runtime. Every job dispatched
          // "long ago" (0 ms) and unclaimed is a candidate for re-dispatch; sweeps only when the test says.
          const api = runtime([], {
            queue: counting,
            endpoints: [e],
            sweeper: { intervalMs: 600_000, undispatchedGraceMs: 60_000, redispatchAfterMs: 0 },
          });
          expect(api.host).toBeNull();
          const ids = await submitThree(api, e);
          expect(published).toEqual(ids);
          await waitForDepthAtLeast(depth, ids.length, 'the queue to hold the backlog');
          for (let sweep = 0; sweep < 3; sweep++) await api.sweeper!.sweep();
          expect(published).toEqual(ids);

          // Not a sweeper that never re-dispatches: once the messages are gone, each job is published again.
          await drainQueue(queue, e, ids, depth);
          await api.sweeper!.sweep();
          expect([...published.slice(ids.length)].sort()).toEqual([...ids].sort());
        });
      },
      timeout,
    );
  });
}

/** What a `partitionable` repository saw of the lease renewals (heartbeats) made through it. */
interface Renewals {
  /** Heartbeats that held the lease. */
  held: number;
  /** Heartbeats refused because the repository was cut off. */
  failed: number;
  /** When (this process's clock) the latest heartbeat that held the lease was made. */
  lastHeldAt: number | null;
}

/** A view of a repository that can be cut off like a crashed or partitioned process, and healed. */
function partitionable(repository: JobRepository): {
  repository: JobRepository;
  cut(): void;
  heal(): void;
  renewals: Renewals;
  /** Claims refused because the repository was cut off. */
  failedClaims(): number;
} {
  let isCut = false;
  let failedClaims = 0;
  const renewals: Renewals = { held: 0, failed: 0, lastHeldAt: null };
  const guard = async <T>(call: () => Promise<T>): Promise<T> => {
    if (isCut) throw new UnavailableError('partitioned (test)');
    return call();
  };
  return {
    cut: () => {
      isCut = true;
    },
    heal: () => {
      isCut = false;
    },
    renewals,
    failedClaims: () => failedClaims,
    repository: {
      create: (job) => guard(() => repository.create(job)),
      get: (id) => guard(() => repository.get(id)),
      claim: (id, o) =>
        guard(() => repository.claim(id, o)).catch((error: unknown) => {
          if (error instanceof UnavailableError) failedClaims++;
          throw error;
        }),
      heartbeat: (id, token, o) => {
        const madeAt = Date.now();
        return guard(() => repository.heartbeat(id, token, o)).then(
          (result) => {
            if (result.held) {
              renewals.held++;
              renewals.lastHeldAt = Math.max(renewals.lastHeldAt ?? madeAt, madeAt);
            }
            return result;
          },
          (error: unknown) => {
            renewals.failed++;
            throw error;
          },
        );
      },
      settle: (id, token, outcome) => guard(() => repository.settle(id, token, outcome)),
      requestCancel: (id, o) => guard(() => repository.requestCancel(id, o)),
      remove: (id) => guard(() => repository.remove(id)),
      markDispatched: (id) => guard(() => repository.markDispatched(id)),
      findDispatchable: (query) => guard(() => repository.findDispatchable(query)),
      deleteExpired: (limit) => guard(() => repository.deleteExpired(limit)),
      list: (query) => guard(() => repository.list(query)),
      subscribe: (listener) =>
        guard(() =>
          repository.subscribe((id) => {
            if (!isCut) listener(id);
          }),
        ),
      close: async () => {},
    },
  };
}
