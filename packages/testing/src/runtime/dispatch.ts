import { createSweeper, type JobQueue, type JobsRuntime, silentLogger, UnavailableError } from '@jobs/core';
import { expect, it } from 'vitest';
import { type CountingQueue, type RuntimeFixture, type TestEndpoint, withCountingQueue } from './fixture.js';

/** How jobs reach the queue: once per job across dispatchers, again only when their message is lost. */
export function dispatchTests(fixture: () => RuntimeFixture, timeout: number): void {
  /** Submits three jobs (values 0, 1, 2) one after the other; their ids in that order. */
  async function submitThree(api: JobsRuntime, e: TestEndpoint): Promise<string[]> {
    const ids: string[] = [];
    for (let value = 0; value < 3; value++) ids.push((await api.service.submit(e.name, { value })).job.id);
    return ids;
  }

  async function waitForDepthAtLeast(
    t: RuntimeFixture,
    depth: () => Promise<number>,
    count: number,
    message: string,
  ) {
    await t.waitUntil(async () => (await depth()) >= count, message);
  }

  /** Takes the messages of `ids` off the queue without claiming them (lost messages), until it is empty. */
  async function drainQueue(
    t: RuntimeFixture,
    e: TestEndpoint,
    ids: string[],
    { queue, depth }: CountingQueue,
  ) {
    const drained = new Set<string>();
    const consumer = await queue.consume(
      e.name,
      async (delivery) => {
        drained.add(delivery.jobId);
      },
      { concurrency: ids.length },
    );
    await t.waitUntil(() => ids.every((id) => drained.has(id)), 'the backlog to be drained');
    await consumer.stop();
    await t.waitUntil(async () => (await depth()) === 0, 'the queue to be empty');
  }

  it(
    'the sweeper re-dispatches long-unclaimed jobs only once their queue is empty, not behind a backlog',
    async () => {
      const t = fixture();
      const e = t.endpoint();
      await withCountingQueue(t.backend, e, async (counting) => {
        const { depth, published } = counting;
        const api = t.runtime([], { queue: counting.counting, endpoints: [e], sweeper: false });
        await api.start();
        // Every job dispatched "long ago" (0 ms) and unclaimed is a candidate for re-dispatch.
        const sweeper = createSweeper({
          repository: t.repository,
          queue: counting.counting,
          endpoints: [e.name],
          redispatchAfterMs: 0,
          logger: silentLogger,
        });
        const ids = await submitThree(api, e);
        await t.waitUntil(() => published.length === ids.length, 'the dispatcher to publish the jobs');
        expect([...published].sort()).toEqual([...ids].sort());
        for (const id of ids) {
          await t.waitUntil(
            async () => (await t.backend.repository.get(id))?.dispatchedAt,
            'the dispatch to be recorded',
          );
        }

        // A backlog (no consumer): the messages wait in the queue, so sweeps add no copies.
        await waitForDepthAtLeast(t, depth, ids.length, 'the queue to hold the backlog');
        for (let sweep = 0; sweep < 3; sweep++) await sweeper.sweep();
        expect(published).toHaveLength(ids.length);

        // The messages get lost: a consumer takes them and claims nothing.
        await drainQueue(t, e, ids, counting);
        for (const id of ids) expect((await t.backend.repository.get(id))?.status).toBe('queued');

        // The queue is empty and the jobs still queued: each is dispatched again, once.
        await sweeper.sweep();
        expect([...published.slice(ids.length)].sort()).toEqual([...ids].sort());

        // Those copies wait in the queue now: later sweeps add none.
        await waitForDepthAtLeast(t, depth, ids.length, 'the queue to hold the re-dispatched messages');
        await sweeper.sweep();
        expect(published).toHaveLength(2 * ids.length);
      });
    },
    timeout,
  );

  it(
    "an API-only runtime's sweeper checks the queue's depth: a backlog is not re-published",
    async () => {
      const t = fixture();
      const e = t.endpoint();
      await withCountingQueue(t.backend, e, async (counting) => {
        const { depth, published } = counting;
        // Endpoints and no workers: the sweeper learns the endpoints from the runtime. Every job dispatched
        // "long ago" (0 ms) and unclaimed is a candidate for re-dispatch; sweeps only when the test says.
        const api = t.runtime([], {
          queue: counting.counting,
          endpoints: [e],
          sweeper: { intervalMs: 600_000, redispatchAfterMs: 0 },
        });
        expect(api.host).toBeNull();
        await api.start();
        const ids = await submitThree(api, e);
        await waitForDepthAtLeast(t, depth, ids.length, 'the queue to hold the backlog');
        for (let sweep = 0; sweep < 3; sweep++) await api.sweeper!.sweep();
        expect(published).toHaveLength(ids.length);

        // Not a sweeper that never re-dispatches: once the messages are gone, each job is published again.
        await drainQueue(t, e, ids, counting);
        await api.sweeper!.sweep();
        expect([...published.slice(ids.length)].sort()).toEqual([...ids].sort());
      });
    },
    timeout,
  );

  it(
    'many dispatchers (one per process) publish each job exactly once',
    async () => {
      const t = fixture();
      const e = t.endpoint();
      await withCountingQueue(t.backend, e, async (counting) => {
        const apis = Array.from({ length: 3 }, () =>
          t.runtime([], {
            queue: counting.counting,
            endpoints: [e],
            sweeper: false,
            dispatcher: { pollIntervalMs: 10 },
          }),
        );
        for (const api of apis) await api.start();
        const submitted = await Promise.all(
          Array.from({ length: 60 }, (_, value) =>
            apis[value % apis.length]!.service.submit(e.name, { value }),
          ),
        );
        const ids = submitted.map(({ job }) => job.id);
        await t.waitUntil(
          () => ids.every((id) => counting.published.includes(id)),
          'every job to be published',
        );
        // Time for a duplicate to show up, had any dispatcher taken a job another one held.
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(counting.published).toHaveLength(ids.length);
        expect(new Set(counting.published).size).toBe(ids.length);
      });
    },
    timeout,
  );

  it(
    'a dispatch whose publish fails (a crash between taking the jobs and publishing) leaves them to be dispatched again',
    async () => {
      const t = fixture();
      const e = t.endpoint();
      let failuresLeft = 2;
      const flaky: JobQueue = {
        publish: async (endpointName, jobId) => {
          if (failuresLeft > 0) {
            failuresLeft--;
            throw new UnavailableError('the broker went away (test)');
          }
          await t.backend.queue.publish(endpointName, jobId);
        },
        consume: (endpointName, handler, options) => t.backend.queue.consume(endpointName, handler, options),
        close: async () => {},
      };
      const rt = t.runtime([t.worker(e, (value) => ({ doubled: value.value * 2 }))], {
        queue: flaky,
        sweeper: false,
      });
      await rt.start();
      const { job } = await rt.service.submit(e.name, { value: 7 });
      expect(await t.waitForFinal(job.id)).toMatchObject({
        status: 'succeeded',
        attempt: 1,
        output: { doubled: 14 },
      });
      expect(failuresLeft).toBe(0);
    },
    timeout,
  );
}
