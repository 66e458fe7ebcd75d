import { InvalidInputError, type QueueDelivery, UnavailableError } from '@jobs/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMemoryQueue, type MemoryJobQueue, type MemoryQueueOptions } from './queue.js';

const queues: MemoryJobQueue[] = [];
function track(options?: MemoryQueueOptions): MemoryJobQueue {
  const queue = createMemoryQueue(options);
  queues.push(queue);
  return queue;
}

afterEach(async () => {
  await Promise.all(queues.splice(0).map((queue) => queue.close()));
});

/** Polls `condition` until it holds (generous bound: these tests assert outcomes, not speed). */
async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Lets every pending deferred dispatch run (dispatch is scheduled with setImmediate / setTimeout 0). */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 20));
}

function deferred() {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('memory queue: delivery', () => {
  it('keeps messages published before any consumer, in order, and counts them in depth', async () => {
    const queue = track();
    for (const id of ['a', 'b', 'c']) await queue.publish('resize', id);
    await queue.publish('other', 'x');
    expect(queue.depth('resize')).toBe(3);
    expect(queue.depth('other')).toBe(1);
    expect(queue.depth('unknown')).toBe(0);
    const seen: string[] = [];
    await queue.consume('resize', async (delivery) => void seen.push(delivery.jobId), { concurrency: 1 });
    await until(() => seen.length === 3);
    expect(seen).toEqual(['a', 'b', 'c']);
    expect(queue.depth('resize')).toBe(0);
    expect(queue.depth('other')).toBe(1);
  });

  it('never runs a handler inside publish', async () => {
    const queue = track();
    const seen: QueueDelivery[] = [];
    await queue.consume('resize', async (delivery) => void seen.push(delivery), { concurrency: 1 });
    const publishing = queue.publish('resize', 'a');
    expect(seen).toEqual([]);
    await publishing;
    expect(seen).toEqual([]);
    await until(() => seen.length === 1);
    expect(seen[0]).toEqual({ endpoint: 'resize', jobId: 'a', redelivered: false });
  });

  it('runs at most `concurrency` handlers of one consumer at once', async () => {
    const queue = track();
    let running = 0;
    let peak = 0;
    const gates: Array<() => void> = [];
    await queue.consume(
      'resize',
      async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise<void>((resolve) => gates.push(resolve));
        running--;
      },
      { concurrency: 3 },
    );
    for (let i = 0; i < 10; i++) await queue.publish('resize', `job-${i}`);
    await until(() => running === 3);
    await settle();
    expect(running).toBe(3);
    expect(queue.depth('resize')).toBe(7);
    let released = 0;
    while (released < 10) {
      await until(() => gates.length > 0);
      gates.shift()!();
      released++;
    }
    await until(() => running === 0 && queue.depth('resize') === 0);
    expect(peak).toBe(3);
  });

  it('gives each message to exactly one of several consumers of an endpoint', async () => {
    const queue = track();
    const byConsumer: string[][] = [[], [], []];
    for (const [index, list] of byConsumer.entries()) {
      await queue.consume(
        'resize',
        async (delivery) => {
          list.push(delivery.jobId);
          await new Promise((resolve) => setTimeout(resolve, index));
        },
        { concurrency: 2 },
      );
    }
    const ids = Array.from({ length: 60 }, (_, i) => `job-${i}`);
    for (const id of ids) await queue.publish('resize', id);
    await until(() => byConsumer.flat().length === ids.length);
    await settle();
    expect(byConsumer.flat().sort()).toEqual([...ids].sort());
    for (const list of byConsumer) expect(list.length).toBeGreaterThan(0);
  });

  it('treats a handler that throws synchronously like one that rejects', async () => {
    const queue = track({ redeliveryDelayMs: 0, maxDeliveries: 2 });
    const deliveries: QueueDelivery[] = [];
    await queue.consume(
      'resize',
      ((delivery: QueueDelivery) => {
        deliveries.push(delivery);
        throw new Error('sync failure');
      }) as unknown as (delivery: QueueDelivery) => Promise<void>,
      { concurrency: 1 },
    );
    await queue.publish('resize', 'a');
    await until(() => queue.deadLetters('resize').length === 1);
    expect(deliveries.map((delivery) => delivery.redelivered)).toEqual([false, true]);
  });
});

describe('memory queue: redelivery and dead letters', () => {
  it('delivers a rejected message again, marked redelivered, to whichever consumer is free', async () => {
    const queue = track({ redeliveryDelayMs: 10 });
    const deliveries: QueueDelivery[] = [];
    let failuresLeft = 2;
    await queue.consume(
      'resize',
      async (delivery) => {
        deliveries.push(delivery);
        if (failuresLeft-- > 0) throw new Error('not now');
      },
      { concurrency: 1 },
    );
    await queue.publish('resize', 'a');
    await until(() => deliveries.length === 3);
    await settle();
    expect(deliveries).toEqual([
      { endpoint: 'resize', jobId: 'a', redelivered: false },
      { endpoint: 'resize', jobId: 'a', redelivered: true },
      { endpoint: 'resize', jobId: 'a', redelivered: true },
    ]);
    expect(queue.deadLetters('resize')).toEqual([]);
    expect(queue.depth('resize')).toBe(0);
  });

  it('counts a message waiting for its redelivery delay in depth', async () => {
    const queue = track({ redeliveryDelayMs: 60_000 });
    let calls = 0;
    await queue.consume(
      'resize',
      async () => {
        calls++;
        throw new Error('not now');
      },
      { concurrency: 1 },
    );
    await queue.publish('resize', 'a');
    await until(() => calls === 1);
    await until(() => queue.depth('resize') === 1);
    expect(calls).toBe(1);
  });

  it('dead-letters a message after maxDeliveries rejected deliveries, with the last error', async () => {
    const queue = track({ redeliveryDelayMs: 0, maxDeliveries: 3 });
    let calls = 0;
    await queue.consume(
      'resize',
      async () => {
        calls++;
        throw new Error(`failure ${calls}`);
      },
      { concurrency: 1 },
    );
    await queue.publish('resize', 'poison');
    await queue.publish('resize', 'poison-2');
    await until(() => queue.deadLetters('resize').length === 2);
    await settle();
    expect(calls).toBe(6);
    const letters = queue.deadLetters('resize');
    expect(letters.map((letter) => [letter.jobId, letter.deliveries])).toEqual([
      ['poison', 3],
      ['poison-2', 3],
    ]);
    expect(letters[0]!.error).toBeInstanceOf(Error);
    expect(queue.depth('resize')).toBe(0);
    expect(queue.deadLetters('other')).toEqual([]);
    // A copy: changing it does not change the queue's list.
    letters.pop();
    expect(queue.deadLetters('resize')).toHaveLength(2);
  });

  it('keeps only the newest maxDeadLetters dead letters', async () => {
    const queue = track({ redeliveryDelayMs: 0, maxDeliveries: 1, maxDeadLetters: 2 });
    await queue.consume(
      'resize',
      async () => {
        throw new Error('poison');
      },
      { concurrency: 1 },
    );
    for (const id of ['a', 'b', 'c']) await queue.publish('resize', id);
    await until(() => queue.deadLetters('resize')[1]?.jobId === 'c');
    expect(queue.deadLetters('resize').map((letter) => letter.jobId)).toEqual(['b', 'c']);
  });

  it('rejects invalid options', () => {
    expect(() => createMemoryQueue({ maxDeliveries: 0 })).toThrow(RangeError);
    expect(() => createMemoryQueue({ redeliveryDelayMs: -1 })).toThrow(RangeError);
    expect(() => createMemoryQueue({ maxDeadLetters: -1 })).toThrow(RangeError);
  });

  it('rejects a consumer without a valid concurrency', async () => {
    const queue = track();
    await expect(queue.consume('resize', async () => {}, { concurrency: 0 })).rejects.toBeInstanceOf(
      InvalidInputError,
    );
    await expect(queue.consume('resize', async () => {}, { concurrency: 1.5 })).rejects.toBeInstanceOf(
      InvalidInputError,
    );
  });
});

describe('memory queue: stop', () => {
  it('stops new deliveries at once and leaves undelivered messages for a later consumer', async () => {
    const queue = track();
    const first: string[] = [];
    const gate = deferred();
    const consumer = await queue.consume(
      'resize',
      async (delivery) => {
        first.push(delivery.jobId);
        await gate.promise;
      },
      { concurrency: 1 },
    );
    for (const id of ['a', 'b', 'c']) await queue.publish('resize', id);
    await until(() => first.length === 1);
    const stopping = consumer.stop();
    gate.resolve();
    await stopping;
    await settle();
    expect(first).toEqual(['a']);
    expect(queue.depth('resize')).toBe(2);

    const second: string[] = [];
    await queue.consume('resize', async (delivery) => void second.push(delivery.jobId), { concurrency: 1 });
    await until(() => second.length === 2);
    expect(second).toEqual(['b', 'c']);
  });

  it('waits for handlers in flight before resolving', async () => {
    const queue = track();
    const gate = deferred();
    let finished = false;
    const consumer = await queue.consume(
      'resize',
      async () => {
        await gate.promise;
        finished = true;
      },
      { concurrency: 1 },
    );
    await queue.publish('resize', 'a');
    await until(() => queue.depth('resize') === 0);
    let stopped = false;
    const stopping = consumer.stop().then(() => {
      stopped = true;
    });
    await settle();
    expect(stopped).toBe(false);
    gate.resolve();
    await stopping;
    expect(finished).toBe(true);
  });

  it('gives up waiting after timeoutMs; a handler finishing later still acknowledges its message', async () => {
    const queue = track({ redeliveryDelayMs: 0 });
    const gate = deferred();
    let calls = 0;
    let finished = false;
    const consumer = await queue.consume(
      'resize',
      async () => {
        calls++;
        await gate.promise;
        finished = true;
      },
      { concurrency: 1 },
    );
    await queue.publish('resize', 'a');
    await until(() => calls === 1);
    await consumer.stop({ timeoutMs: 10 });
    expect(finished).toBe(false);
    const later: string[] = [];
    await queue.consume('resize', async (delivery) => void later.push(delivery.jobId), { concurrency: 1 });
    gate.resolve();
    await until(() => finished);
    await settle();
    expect(later).toEqual([]);
    expect(queue.depth('resize')).toBe(0);
    expect(calls).toBe(1);
  });

  it('redelivers to another consumer a message whose handler rejects after its consumer stopped', async () => {
    const queue = track({ redeliveryDelayMs: 0 });
    const gate = deferred();
    const consumer = await queue.consume('resize', () => gate.promise, { concurrency: 1 });
    await queue.publish('resize', 'a');
    await until(() => queue.depth('resize') === 0);
    await consumer.stop({ timeoutMs: 0 });
    const later: QueueDelivery[] = [];
    await queue.consume('resize', async (delivery) => void later.push(delivery), { concurrency: 1 });
    gate.reject(new Error('released'));
    await until(() => later.length === 1);
    expect(later[0]).toEqual({ endpoint: 'resize', jobId: 'a', redelivered: true });
  });

  it('can be called twice', async () => {
    const queue = track();
    const consumer = await queue.consume('resize', async () => {}, { concurrency: 1 });
    await consumer.stop();
    await consumer.stop({ timeoutMs: 0 });
    await queue.publish('resize', 'a');
    await settle();
    expect(queue.depth('resize')).toBe(1);
  });
});

describe('memory queue: close', () => {
  it('rejects publish and consume with UnavailableError, and delivers nothing more', async () => {
    const queue = createMemoryQueue({ redeliveryDelayMs: 0 });
    const gate = deferred();
    let calls = 0;
    await queue.consume(
      'resize',
      async () => {
        calls++;
        await gate.promise;
      },
      { concurrency: 1 },
    );
    await queue.publish('resize', 'a');
    await queue.publish('resize', 'b');
    await until(() => calls === 1);
    await queue.close();
    await queue.close();
    // The handler in flight fails after close: its message is not delivered again, 'b' is never delivered.
    gate.reject(new Error('retry me'));
    await settle();
    expect(calls).toBe(1);
    expect(queue.depth('resize')).toBe(0);
    await expect(queue.publish('resize', 'c')).rejects.toBeInstanceOf(UnavailableError);
    await expect(queue.consume('resize', async () => {}, { concurrency: 1 })).rejects.toBeInstanceOf(
      UnavailableError,
    );
  });

  it('cancels pending redeliveries', async () => {
    vi.useFakeTimers();
    try {
      const queue = createMemoryQueue({ redeliveryDelayMs: 1_000 });
      let calls = 0;
      await queue.consume(
        'resize',
        async () => {
          calls++;
          throw new Error('retry me');
        },
        { concurrency: 1 },
      );
      await queue.publish('resize', 'a');
      await vi.advanceTimersByTimeAsync(10);
      expect(calls).toBe(1);
      expect(queue.depth('resize')).toBe(1);
      await queue.close();
      expect(vi.getTimerCount()).toBe(0);
      await vi.advanceTimersByTimeAsync(5_000);
      expect(calls).toBe(1);
      expect(queue.depth('resize')).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
