import { createMemoryQueue, type MemoryJobQueue } from '@jobs/memory';
import { expect, it } from 'vitest';
import { deferred, delay } from '../helpers.js';
import { HOST, type RuntimeFixture } from './fixture.js';
import { partitionable } from './partition.js';

/** What happens when a worker dies, a host stops, or the repository is cut off or stops answering. */
export function recoveryTests(fixture: () => RuntimeFixture, timeout: number): void {
  it(
    'a job whose worker died mid-run runs again elsewhere and succeeds; the dead run cannot record a result',
    async () => {
      const t = fixture();
      const e = t.endpoint();
      const { repository: cutOff, cut, heal } = partitionable(t.repository);
      const deadStarted = deferred();
      const deadRelease = deferred<{ doubled: number }>();
      const dying = t.runtime(
        [
          t.worker(
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
        { repository: cutOff, host: { ...HOST, leaseMs: 300, heartbeatIntervalMs: 50 }, sweeper: false },
      );
      await dying.start();
      const { job } = await dying.service.submit(e.name, { value: 5 });
      await deadStarted.promise;

      const survivorRuns: number[] = [];
      const survivorStarted = deferred();
      const survivorGo = deferred();
      const survivor = t.runtime([
        t.worker(e, async (value, ctx) => {
          survivorRuns.push(ctx.attempt);
          survivorStarted.resolve();
          await survivorGo.promise;
          return { doubled: value.value * 2 };
        }),
      ]);
      await survivor.start();
      await survivorStarted.promise;
      const takenOver = await t.waitForStatus(job.id, ['running']);
      expect(takenOver.attempt).toBe(2);

      // The dead worker comes back while the job runs elsewhere and finishes its run: its result is refused.
      heal();
      deadRelease.resolve({ doubled: -1 });
      await t.waitUntil(() => dying.host!.activeJobs === 0, 'the revived run to end');
      expect(await t.backend.repository.get(job.id)).toMatchObject({
        status: 'running',
        attempt: 2,
        leaseToken: takenOver.leaseToken,
        output: null,
      });

      survivorGo.resolve();
      const done = await t.waitForFinal(job.id);
      expect(done).toMatchObject({ status: 'succeeded', attempt: 2, output: { doubled: 10 } });
      expect(survivorRuns).toEqual([2]);
    },
    timeout,
  );

  it(
    'a host stopped gracefully releases its running job; another host runs it with the attempt refunded',
    async () => {
      const t = fixture();
      const e = t.endpoint();
      const firstStarted = deferred();
      const first = t.runtime(
        [
          t.worker(
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
      const second = t.runtime([
        t.worker(e, (value, ctx) => {
          attempts.push(ctx.attempt);
          return { doubled: value.value * 2 };
        }),
      ]);
      await second.start();
      await first.stop({ timeoutMs: 50 });
      const done = await t.waitForFinal(job.id);
      expect(done).toMatchObject({ status: 'succeeded', attempt: 1, output: { doubled: 6 } });
      expect(attempts).toEqual([1]);
    },
    timeout,
  );

  it(
    "a host cut off from the repository for a whole lease aborts its worker's signal",
    async () => {
      const t = fixture();
      const e = t.endpoint();
      const leaseMs = 400;
      const { repository: cutOff, cut, renewals } = partitionable(t.repository);
      const aborted = abortWatcher();
      const host = t.runtime([t.worker(e, aborted.worker)], {
        repository: cutOff,
        host: { ...HOST, leaseMs, heartbeatIntervalMs: 50 },
        sweeper: false,
      });
      await host.start();
      const { job } = await host.service.submit(e.name, { value: 1 });
      await aborted.started.promise;
      await t.waitUntil(() => renewals.held >= 2, 'the lease to be renewed while connected');

      cut();
      const abortedAt = await t.waitUntil(() => aborted.at, "the worker's signal to abort while cut off");
      expect(aborted.reason).toMatchObject({ name: 'AbortError' });
      // Not at the first failed renewal: only once the last renewal that got through is a lease old.
      expect(renewals.failed).toBeGreaterThan(0);
      expect(abortedAt - renewals.lastHeldAt!).toBeGreaterThanOrEqual(leaseMs / 2);
      await t.waitUntil(() => host.host!.activeJobs === 0, 'the aborted run to end');
      // The run recorded nothing: the job is still running under that lease, for a dispatcher to hand out.
      expect(await t.backend.repository.get(job.id)).toMatchObject({
        status: 'running',
        attempt: 1,
        output: null,
      });
      expect(aborted.calls).toEqual([1]);
    },
    timeout,
  );

  it(
    "a repository that stops answering (calls hang) stops the run by the lease's own clock; the job runs again elsewhere, recorded once",
    async () => {
      const t = fixture();
      const e = t.endpoint();
      const leaseMs = 300;
      const { repository: hanging, hang, renewals } = partitionable(t.repository);
      const aborted = abortWatcher();
      const stranded = t.runtime([t.worker(e, aborted.worker)], {
        repository: hanging,
        host: { ...HOST, leaseMs, heartbeatIntervalMs: 50 },
        sweeper: false,
        dispatcher: false,
      });
      await stranded.start();
      // Its sweeper hands the job out again should its message end in the stranded host's hung claim.
      const api = t.runtime([], { endpoints: [e] });
      await api.start();
      const { job } = await api.service.submit(e.name, { value: 2 });
      await aborted.started.promise;
      await t.waitUntil(() => renewals.held >= 1, 'the lease to be renewed while answered');
      hang();
      const abortedAt = await t.waitUntil(() => aborted.at, "the worker's signal to abort while calls hang");
      expect(abortedAt - renewals.lastHeldAt!).toBeGreaterThanOrEqual(leaseMs / 2);
      // Another host takes the job over once its lease has expired.
      const survivorRuns: number[] = [];
      const survivor = t.runtime([
        t.worker(e, (value, ctx) => {
          survivorRuns.push(ctx.attempt);
          return { doubled: value.value * 2 };
        }),
      ]);
      await survivor.start();
      const done = await t.waitForFinal(job.id);
      expect(done).toMatchObject({ status: 'succeeded', attempt: 2, output: { doubled: 4 } });
      expect(survivorRuns).toEqual([2]);
      expect(aborted.calls).toEqual([1]);
    },
    timeout,
  );

  it(
    'a host cut off for less than a lease keeps its run going and records the result once reconnected',
    async () => {
      const t = fixture();
      const e = t.endpoint();
      const { repository: cutOff, cut, heal, renewals } = partitionable(t.repository);
      const started = deferred();
      const release = deferred();
      let abortedWhileRunning: boolean | null = null;
      const host = t.runtime(
        [
          t.worker(e, async (value, ctx) => {
            started.resolve();
            await release.promise;
            abortedWhileRunning = ctx.signal.aborted;
            return { doubled: value.value * 2 };
          }),
        ],
        // A long lease: a few failed renewals in a row are far from it.
        { repository: cutOff, host: { ...HOST, leaseMs: 10_000, heartbeatIntervalMs: 50 }, sweeper: false },
      );
      await host.start();
      const { job } = await host.service.submit(e.name, { value: 9 });
      await started.promise;
      await t.waitUntil(() => renewals.held >= 1, 'the lease to be renewed while connected');
      cut();
      await t.waitUntil(() => renewals.failed >= 3, 'renewals to fail while cut off');
      heal();
      const heldBefore = renewals.held;
      await t.waitUntil(() => renewals.held > heldBefore, 'a renewal to get through again');
      release.resolve();
      const done = await t.waitForFinal(job.id);
      expect(done).toMatchObject({ status: 'succeeded', attempt: 1, output: { doubled: 18 } });
      expect(abortedWhileRunning).toBe(false);
    },
    timeout,
  );

  it(
    'a worker that ignores its signal keeps its concurrency slot until it returns: its retry never runs beside it',
    async () => {
      const t = fixture();
      const e = t.endpoint({
        concurrency: 1,
        timeoutMs: 200,
        maxAttempts: 3,
        backoff: { initialMs: 10, factor: 1, maxMs: 10 },
      });
      let active = 0;
      let maxActive = 0;
      const attempts: number[] = [];
      const rt = t.runtime([
        t.worker(e, async (value, ctx) => {
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
      const done = await t.waitForFinal(job.id);
      expect(done).toMatchObject({ status: 'failed', attempt: 3, output: null, error: { code: 'timeout' } });
      await t.waitUntil(() => attempts.length === 3 && active === 0, 'the last attempt to return');
      expect(attempts).toEqual([1, 2, 3]);
      expect(maxActive).toBe(1);
    },
    timeout,
  );

  it(
    'stop() returns although a worker never settles, and releases its job (queued again, attempt refunded)',
    async () => {
      const t = fixture();
      const e = t.endpoint();
      const started = deferred();
      const rt = t.runtime(
        [
          t.worker(e, () => {
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
      expect(await t.waitForStatus(job.id, ['running'])).toMatchObject({ attempt: 1 });
      await t.bounded(rt.stop({ timeoutMs: 100 }), 'runtime.stop() with a hung worker');
      const released = await t.waitForStatus(job.id, ['queued']);
      expect(released).toMatchObject({ status: 'queued', attempt: 0, leaseToken: null, output: null });
    },
    timeout,
  );

  it(
    'a short repository outage during the claim does not dead-letter the message: the job runs once it is back',
    async () => {
      const t = fixture();
      const e = t.endpoint();
      // Where the backend's queue is the in-memory one, a copy that gives up after two failed deliveries:
      // without the claim's own retry, the message would be dead-lettered within the outage.
      const memoryLike = typeof (t.backend.queue as Partial<MemoryJobQueue>).deadLetters === 'function';
      const ownQueue = memoryLike ? createMemoryQueue({ maxDeliveries: 2, redeliveryDelayMs: 50 }) : null;
      const queue = ownQueue ?? t.backend.queue;
      try {
        const { repository: cutOff, cut, heal, failedClaims } = partitionable(t.repository);
        const attempts: number[] = [];
        const host = t.runtime(
          [
            t.worker(e, (value, ctx) => {
              attempts.push(ctx.attempt);
              return { doubled: value.value * 2 };
            }),
          ],
          // A lease long enough for the claim to retry through the outage; nobody else dispatches the job again.
          { repository: cutOff, queue, host: { ...HOST, leaseMs: 5_000 }, sweeper: false, dispatcher: false },
        );
        await host.start();
        const api = t.runtime([], { queue, endpoints: [e], sweeper: false });
        await api.start();
        cut();
        const { job } = await api.service.submit(e.name, { value: 4 });
        await t.waitUntil(() => failedClaims() >= 1, 'a claim to fail while the repository is cut off');
        await delay(1_000);
        heal();
        const done = await t.waitForFinal(job.id);
        expect(done).toMatchObject({ status: 'succeeded', attempt: 1, output: { doubled: 8 } });
        expect(attempts).toEqual([1]);
        if (ownQueue) expect(ownQueue.deadLetters(e.name)).toEqual([]);
      } finally {
        await ownQueue?.close();
      }
    },
    timeout,
  );
}

/** A worker that waits for its signal, recording when and why it was aborted. */
function abortWatcher() {
  const watcher = {
    started: deferred(),
    at: null as number | null,
    reason: undefined as unknown,
    calls: [] as number[],
    worker: (_value: unknown, ctx: { attempt: number; signal: AbortSignal }) =>
      new Promise<{ doubled: number }>((_resolve, reject) => {
        watcher.calls.push(ctx.attempt);
        ctx.signal.addEventListener('abort', () => {
          watcher.at = Date.now();
          watcher.reason = ctx.signal.reason;
          reject(ctx.signal.reason);
        });
        watcher.started.resolve();
      }),
  };
  return watcher;
}
