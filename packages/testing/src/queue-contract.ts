import type { JobQueue, QueueConsumer, QueueDelivery } from '@jobs/core';
import { ENDPOINT_NAME_PATTERN, newJobId } from '@jobs/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deferred, delay, uniqueName, waitFor } from './helpers.js';

export interface QueueContractOptions {
  /**
   * Runs after each test, before the queue is closed, with the endpoint names the test used
   * (e.g. to delete the broker queues it declared).
   */
  cleanup?: (queue: JobQueue, endpoints: string[]) => Promise<void>;
  /** Timeout of each test. Default 60 s. */
  testTimeoutMs?: number;
  /** How long a test waits for deliveries. Default 20 s. */
  waitTimeoutMs?: number;
  /** How long a test watches for deliveries that must not happen. Default 300 ms. */
  quietMs?: number;
}

export type QueueFactory = () => Promise<JobQueue> | JobQueue;

/**
 * Registers a `describe` block that checks what `JobQueue` (packages/core/src/queue.ts) promises.
 * Each test gets a fresh queue from `factory`, uses endpoint names of its own (so a shared broker is
 * fine), stops its consumers and closes the queue afterwards.
 */
export function describeJobQueueContract(
  name: string,
  factory: QueueFactory,
  options: QueueContractOptions = {},
): void {
  const timeout = options.testTimeoutMs ?? 60_000;
  const waitTimeoutMs = options.waitTimeoutMs ?? 20_000;
  const quietMs = options.quietMs ?? 300;

  describe(`JobQueue contract: ${name}`, () => {
    let queue: JobQueue;
    let closed: boolean;
    let endpoints: string[];
    let consumers: QueueConsumer[];

    beforeEach(async () => {
      queue = await factory();
      closed = false;
      endpoints = [];
      consumers = [];
    });

    afterEach(async () => {
      try {
        if (!closed) {
          await Promise.all(consumers.map((c) => c.stop({ timeoutMs: 1_000 }).catch(() => undefined)));
          await options.cleanup?.(queue, endpoints);
        }
      } finally {
        if (!closed) await queue.close();
      }
    });

    function endpoint(): string {
      const name = uniqueName('q');
      expect(name).toMatch(ENDPOINT_NAME_PATTERN);
      endpoints.push(name);
      return name;
    }

    /** A consumer that records deliveries; `handle` decides what each handler call does. */
    async function consume(
      endpointName: string,
      concurrency: number,
      handle: (delivery: QueueDelivery) => Promise<void> = async () => {},
    ) {
      const deliveries: QueueDelivery[] = [];
      const consumer = await queue.consume(
        endpointName,
        async (delivery) => {
          deliveries.push({ ...delivery });
          await handle(delivery);
        },
        { concurrency },
      );
      consumers.push(consumer);
      return { consumer, deliveries };
    }

    const idsOf = (deliveries: QueueDelivery[]) => deliveries.map((d) => d.jobId);

    async function waitForDeliveries(deliveries: QueueDelivery[], count: number, what = 'deliveries') {
      await waitFor(() => deliveries.length >= count, {
        timeoutMs: waitTimeoutMs,
        message: `${count} ${what} (got ${deliveries.length})`,
      });
    }

    it(
      'publish then consume delivers the id with its endpoint',
      async () => {
        const e = endpoint();
        const id = newJobId();
        await queue.publish(e, id);
        const { deliveries } = await consume(e, 1);
        await waitForDeliveries(deliveries, 1);
        expect(deliveries[0]).toEqual({ endpoint: e, jobId: id, redelivered: false });
      },
      timeout,
    );

    it(
      'carries a message’s trace context to its deliveries (publish and publishMany), redeliveries included',
      async () => {
        const e = endpoint();
        const traceContext = {
          traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
          tracestate: 'vendor=value',
        };
        const [single, many, none] = [newJobId(), newJobId(), newJobId()];
        await queue.publish(e, single, traceContext);
        const message = { endpoint: e, jobId: many, traceContext: { traceparent: traceContext.traceparent } };
        if (queue.publishMany) expect(await queue.publishMany([message])).toEqual([null]);
        else await queue.publish(e, many, message.traceContext);
        await queue.publish(e, none);
        let rejected = false;
        const { deliveries } = await consume(e, 1, async (delivery) => {
          if (delivery.jobId === single && !rejected) {
            rejected = true;
            throw new Error('once more');
          }
        });
        await waitForDeliveries(deliveries, 4);
        const of = (id: string) => deliveries.filter((delivery) => delivery.jobId === id);
        expect(of(single).map((delivery) => delivery.traceContext)).toEqual([traceContext, traceContext]);
        expect(of(many)[0]?.traceContext).toEqual({ traceparent: traceContext.traceparent });
        expect(of(none)[0]?.traceContext ?? null).toBeNull();
      },
      timeout,
    );

    it(
      'consume then publish delivers',
      async () => {
        const e = endpoint();
        const { deliveries } = await consume(e, 2);
        const ids = [newJobId(), newJobId(), newJobId()];
        for (const id of ids) await queue.publish(e, id);
        await waitForDeliveries(deliveries, 3);
        expect(idsOf(deliveries).sort()).toEqual([...ids].sort());
        for (const d of deliveries) expect(d).toMatchObject({ endpoint: e, redelivered: false });
      },
      timeout,
    );

    it(
      'keeps messages published before any consumer exists',
      async () => {
        const e = endpoint();
        const ids = Array.from({ length: 10 }, () => newJobId());
        for (const id of ids) await queue.publish(e, id);
        await delay(quietMs);
        const { deliveries } = await consume(e, 3);
        await waitForDeliveries(deliveries, 10);
        expect(idsOf(deliveries).sort()).toEqual([...ids].sort());
      },
      timeout,
    );

    it(
      'respects the concurrency limit and reaches it',
      async () => {
        const e = endpoint();
        const concurrency = 3;
        for (let i = 0; i < 20; i++) await queue.publish(e, newJobId());
        let inFlight = 0;
        let maxInFlight = 0;
        const { deliveries } = await consume(e, concurrency, async () => {
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          try {
            // Hold until the limit was reached once (or a generous while), so reaching it is not luck.
            await waitFor(() => maxInFlight >= concurrency, { timeoutMs: 2_000 }).catch(() => undefined);
            await delay(20);
          } finally {
            inFlight--;
          }
        });
        await waitForDeliveries(deliveries, 20);
        await waitFor(() => inFlight === 0, { timeoutMs: waitTimeoutMs, message: 'handlers to finish' });
        expect(maxInFlight).toBeLessThanOrEqual(concurrency);
        expect(maxInFlight).toBe(concurrency);
        expect(new Set(idsOf(deliveries)).size).toBe(20);
      },
      timeout,
    );

    it(
      'delivers each message once, to one of two consumers, when handlers resolve',
      async () => {
        const e = endpoint();
        const a = await consume(e, 4, () => delay(2));
        const b = await consume(e, 4, () => delay(2));
        const ids = Array.from({ length: 50 }, () => newJobId());
        await Promise.all(ids.map((id) => queue.publish(e, id)));
        await waitFor(() => a.deliveries.length + b.deliveries.length >= 50, {
          timeoutMs: waitTimeoutMs,
          message: '50 deliveries',
        });
        await delay(quietMs);
        const all = [...idsOf(a.deliveries), ...idsOf(b.deliveries)];
        expect(all).toHaveLength(50);
        expect(all.sort()).toEqual([...ids].sort());
      },
      timeout,
    );

    it(
      'delivers the message of a rejecting handler again, marked redelivered',
      async () => {
        const e = endpoint();
        const id = newJobId();
        let calls = 0;
        const { deliveries } = await consume(e, 1, async () => {
          calls++;
          if (calls === 1) throw new Error('not now');
        });
        await queue.publish(e, id);
        await waitForDeliveries(deliveries, 2, 'deliveries of the rejected message');
        expect(deliveries[0]).toEqual({ endpoint: e, jobId: id, redelivered: false });
        expect(deliveries[1]).toEqual({ endpoint: e, jobId: id, redelivered: true });
        await delay(quietMs);
        expect(deliveries).toHaveLength(2);
      },
      timeout,
    );

    it(
      'consumer.stop waits for handlers in flight; later messages go to other consumers only',
      async () => {
        const e = endpoint();
        const release = deferred();
        const first = await consume(e, 2, () => release.promise);
        const firstId = newJobId();
        await queue.publish(e, firstId);
        await waitForDeliveries(first.deliveries, 1);

        let stopped = false;
        const stopping = first.consumer.stop().then(() => {
          stopped = true;
        });
        await delay(quietMs);
        expect(stopped).toBe(false);
        release.resolve();
        await stopping;
        expect(stopped).toBe(true);

        const later = Array.from({ length: 5 }, () => newJobId());
        for (const id of later) await queue.publish(e, id);
        const second = await consume(e, 2);
        await waitForDeliveries(second.deliveries, 5);
        await delay(quietMs);
        expect(idsOf(first.deliveries)).toEqual([firstId]);
        expect(idsOf(second.deliveries).sort()).toEqual([...later].sort());
      },
      timeout,
    );

    it(
      'consumer.stop with timeoutMs returns while a handler still runs, whose message is still acknowledged',
      async () => {
        const e = endpoint();
        const release = deferred();
        const first = await consume(e, 1, () => release.promise);
        const slowId = newJobId();
        await queue.publish(e, slowId);
        await waitForDeliveries(first.deliveries, 1);

        await first.consumer.stop({ timeoutMs: 100 });
        release.resolve();
        await delay(quietMs);

        const second = await consume(e, 1);
        const markerId = newJobId();
        await queue.publish(e, markerId);
        await waitFor(() => idsOf(second.deliveries).includes(markerId), {
          timeoutMs: waitTimeoutMs,
          message: 'the marker message',
        });
        await delay(quietMs);
        expect(idsOf(second.deliveries)).toEqual([markerId]);
        expect(idsOf(first.deliveries)).toEqual([slowId]);
      },
      timeout,
    );

    it(
      'isolates endpoints',
      async () => {
        const e1 = endpoint();
        const e2 = endpoint();
        const one = await consume(e1, 2);
        const two = await consume(e2, 2);
        const id1 = newJobId();
        const id2 = newJobId();
        await queue.publish(e2, id2);
        await queue.publish(e1, id1);
        await waitForDeliveries(one.deliveries, 1);
        await waitForDeliveries(two.deliveries, 1);
        await delay(quietMs);
        expect(one.deliveries).toEqual([{ endpoint: e1, jobId: id1, redelivered: false }]);
        expect(two.deliveries).toEqual([{ endpoint: e2, jobId: id2, redelivered: false }]);
      },
      timeout,
    );

    it(
      'publish after close rejects',
      async () => {
        const e = endpoint();
        await queue.publish(e, newJobId());
        await options.cleanup?.(queue, endpoints);
        await Promise.all(consumers.map((c) => c.stop()));
        closed = true;
        await queue.close();
        await expect(queue.publish(e, newJobId())).rejects.toBeInstanceOf(Error);
      },
      timeout,
    );

    it(
      'delivers a burst of 200 messages, each once',
      async () => {
        const e = endpoint();
        const { deliveries } = await consume(e, 10);
        const ids = Array.from({ length: 200 }, () => newJobId());
        await Promise.all(ids.map((id) => queue.publish(e, id)));
        await waitForDeliveries(deliveries, 200);
        await delay(quietMs);
        expect(deliveries).toHaveLength(200);
        expect(idsOf(deliveries).sort()).toEqual([...ids].sort());
      },
      timeout,
    );

    it(
      'publishMany (where the queue has it) delivers every accepted message once, across endpoints; an invalid message refuses only itself',
      async () => {
        if (!queue.publishMany) {
          // Optional: the runtime then publishes each message on its own, which the tests above cover.
          expect(queue.publishMany).toBeUndefined();
          return;
        }
        const first = endpoint();
        const second = endpoint();
        const a = await consume(first, 10);
        const b = await consume(second, 10);
        const ids = Array.from({ length: 100 }, () => newJobId());
        const messages = ids.map((jobId, i) => ({ endpoint: i % 2 === 0 ? first : second, jobId }));
        const results = await queue.publishMany([...messages, { endpoint: first, jobId: '' }]);
        expect(results.slice(0, ids.length)).toEqual(ids.map(() => null));
        expect(results[ids.length]).toBeInstanceOf(Error);
        await waitForDeliveries(a.deliveries, 50);
        await waitForDeliveries(b.deliveries, 50);
        await delay(quietMs);
        expect(idsOf(a.deliveries).sort()).toEqual(ids.filter((_, i) => i % 2 === 0).sort());
        expect(idsOf(b.deliveries).sort()).toEqual(ids.filter((_, i) => i % 2 === 1).sort());
      },
      timeout,
    );
  });
}
