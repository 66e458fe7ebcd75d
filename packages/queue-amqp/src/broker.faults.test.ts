/**
 * Faults that disturb the shared broker (stopping its application, lowering its consumer timeout, raising a
 * memory alarm). `*.faults.test.ts` files run in the second, serial pass of `pnpm test` (JOBS_TEST_FAULTS=1),
 * when nothing else uses the broker. Each test restores what it changed, also when it fails.
 */
import {
  createJobsRuntime,
  defineEndpoint,
  implement,
  newJobId,
  type QueueDelivery,
  UnavailableError,
} from '@jobs/core';
import { createMemoryRepository } from '@jobs/memory';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { AmqpQueueEvent } from './events.js';
import { type AmqpQueueOptions, createAmqpQueue } from './index.js';
import {
  Admin,
  AMQP_URL,
  brokerEval,
  closeConnectionsNamed,
  countRecordedResults,
  delay,
  doublingRuntime,
  rabbitmqctl,
  randomName,
  recordEvents,
  recordingLogger,
  waitFor,
} from './test-support.js';

const JOBS = 2_000;

let admin: Admin;

beforeAll(async () => {
  admin = await Admin.open();
});

afterAll(async () => {
  await admin?.close();
});

function count(events: AmqpQueueEvent[], predicate: (event: AmqpQueueEvent) => boolean): number {
  return events.filter(predicate).length;
}

interface LoadProgress {
  submitted(): number;
  succeeded(): number;
  connectionName: string;
}

interface LoadResult {
  events: AmqpQueueEvent[];
  /** Worker runs per job id (a job may run twice: at-least-once execution). */
  runs: Map<string, number>;
}

/**
 * Runs JOBS jobs through the real runtime (memory repository, worker host, sweeper) over RabbitMQ while
 * `disrupt` interferes, then checks that every job ended succeeded with the right output, none was lost, and
 * none had its result recorded twice.
 */
async function loadThroughRuntime(
  disrupt: (progress: LoadProgress) => Promise<void>,
  queueOptions: AmqpQueueOptions = {},
): Promise<LoadResult> {
  const connectionName = randomName('jobs-faults');
  const prefix = randomName('t');
  const queue = createAmqpQueue({
    url: AMQP_URL,
    prefix,
    connectionName,
    logger: recordingLogger(),
    reconnect: { initialMs: 100, maxMs: 1_000 },
    publishTimeoutMs: 2_000,
    confirmTimeoutMs: 5_000,
    ...queueOptions,
  });
  const events = recordEvents(queue);
  const repository = createMemoryRepository();
  // Every result the repository accepted, per job: exactly-once recording means exactly one each.
  const recorded = countRecordedResults(repository);

  const { runtime, endpoint, runs } = doublingRuntime(repository, queue, recordingLogger());
  await runtime.start();
  try {
    const ids: string[] = [];
    const submitting = (async () => {
      for (let start = 0; start < JOBS; start += 100) {
        const batch = await Promise.all(
          Array.from({ length: 100 }, (_, i) => runtime.service.submit(endpoint.name, { n: start + i })),
        );
        ids.push(...batch.map((result) => result.job.id));
      }
    })();
    await disrupt({ submitted: () => ids.length, succeeded: () => recorded.size, connectionName });
    await submitting;
    await waitFor(() => recorded.size >= JOBS, {
      timeoutMs: 240_000,
      intervalMs: 200,
      message: `${JOBS} jobs to succeed`,
    });
    await delay(1_000); // a straggler that ran twice would try to record now; it must be refused
    expect(ids).toHaveLength(JOBS);
    expect(new Set(ids).size).toBe(JOBS);
    for (const id of ids) {
      const job = await repository.get(id);
      expect(job?.status).toBe('succeeded');
      expect(job?.output).toEqual({ doubled: (job?.input as { n: number }).n * 2 });
      expect(recorded.get(id)).toBe(1);
    }
    expect(recorded.size).toBe(JOBS);
    return { events, runs };
  } finally {
    await runtime.stop({ timeoutMs: 5_000 });
    await queue.close();
    await repository.close();
    await admin.deleteTopology(prefix, [endpoint.name]).catch(() => {});
  }
}

describe('RabbitMQ faults with 2,000 jobs in flight', () => {
  it("force-closing the client's connections (twice): every job succeeds once, none lost", async () => {
    const { events } = await loadThroughRuntime(async ({ submitted, succeeded, connectionName }) => {
      await waitFor(() => submitted() >= JOBS / 2, { timeoutMs: 60_000, message: 'half the jobs submitted' });
      // Only this test's connections: other clients of the broker are left alone.
      expect(await closeConnectionsNamed(connectionName, 'jobs faults test')).toBe(2);
      await waitFor(() => succeeded() >= JOBS / 2, { timeoutMs: 120_000, message: 'half the jobs done' });
      expect(await closeConnectionsNamed(connectionName, 'jobs faults test')).toBe(2);
    });
    for (const role of ['publish', 'consume'] as const) {
      expect(count(events, (e) => e.type === 'disconnected' && e.role === role)).toBeGreaterThanOrEqual(2);
      expect(count(events, (e) => e.type === 'connected' && e.role === role)).toBeGreaterThanOrEqual(3);
    }
    expect(count(events, (e) => e.type === 'consumer-attached')).toBeGreaterThanOrEqual(3);
  }, 300_000);

  it('stopping and starting the broker application: every job succeeds once, none lost', async () => {
    try {
      const { events } = await loadThroughRuntime(async ({ succeeded }) => {
        await waitFor(() => succeeded() >= JOBS / 4, {
          timeoutMs: 60_000,
          message: 'a quarter of the jobs done',
        });
        await rabbitmqctl('stop_app');
        await delay(2_000);
        await rabbitmqctl('start_app');
        await rabbitmqctl('await_startup');
      });
      for (const role of ['publish', 'consume'] as const) {
        expect(count(events, (e) => e.type === 'disconnected' && e.role === role)).toBeGreaterThanOrEqual(1);
      }
      expect(count(events, (e) => e.type === 'consumer-attached')).toBeGreaterThanOrEqual(2);
    } finally {
      // Whatever happened, leave the broker running for everyone else.
      await rabbitmqctl('start_app').catch(() => {});
      await rabbitmqctl('await_startup').catch(() => {});
    }
  }, 300_000);
});

describe('consumer timeout', () => {
  /**
   * RabbitMQ 3.10 reads `consumer_timeout` when a channel opens and checks it on the channel's tick, about
   * once a minute. The test opens its consumers' channels under a 3 s timeout (restoring the setting right
   * after, so other channels keep the default) and lets a job run past the next tick.
   */
  it('a job that runs longer than a lowered consumer timeout succeeds once (its message is acknowledged early)', async () => {
    const previous = await brokerEval('application:get_env(rabbit, consumer_timeout).');
    const restore = () =>
      previous.startsWith('{ok,')
        ? brokerEval(`application:set_env(rabbit, consumer_timeout, ${previous.slice(4, -1)}).`)
        : brokerEval('application:unset_env(rabbit, consumer_timeout).');

    // The control: a consumer whose ack policy would wait far longer than the timeout.
    const control = createAmqpQueue({
      url: AMQP_URL,
      prefix: randomName('t'),
      logger: recordingLogger(),
      ackAfterMs: 10 * 60_000,
    });
    const controlEvents = recordEvents(control);
    const controlEndpoint = randomName('e');
    // The queue under test: messages of running handlers are acknowledged after 1 s.
    const queue = createAmqpQueue({
      url: AMQP_URL,
      prefix: randomName('t'),
      logger: recordingLogger(),
      ackAfterMs: 1_000,
    });
    const events = recordEvents(queue);
    const repository = createMemoryRepository();
    const endpoint = defineEndpoint({
      name: randomName('e'),
      input: z.object({}),
      output: z.object({ ok: z.boolean() }),
      maxAttempts: 1,
    });
    let controlKilledAt = 0;
    let runs = 0;
    const worker = implement(endpoint, async () => {
      runs++;
      // Run until the broker closed the control's channel for its timeout, and a while more: past that tick.
      await waitFor(() => controlKilledAt > 0, {
        timeoutMs: 150_000,
        intervalMs: 100,
        message: 'the control kill',
      });
      await delay(5_000);
      return { ok: true };
    });
    const runtime = createJobsRuntime({
      repository,
      queue,
      workers: [worker],
      sweeper: false,
      logger: recordingLogger(),
    });
    const controlDeliveries: QueueDelivery[] = [];
    let releaseControl!: () => void;
    const controlReleased = new Promise<void>((resolve) => {
      releaseControl = resolve;
    });
    try {
      await brokerEval('application:set_env(rabbit, consumer_timeout, 3000).');
      try {
        await control.consume(
          controlEndpoint,
          async (delivery) => {
            controlDeliveries.push(delivery);
            await controlReleased;
          },
          // Two slots: the first handler never finishes, the redelivery takes the second.
          { concurrency: 2 },
        );
        await runtime.start();
      } finally {
        await restore();
      }
      expect(await brokerEval('application:get_env(rabbit, consumer_timeout).')).toBe(previous);
      controlEvents.length = 0;
      await control.publish(controlEndpoint, newJobId());
      const { job } = await runtime.service.submit(endpoint.name, {});

      await waitFor(
        () => {
          // Channels opened again after a lost connection have the default timeout: the test cannot work then.
          if ([...events, ...controlEvents].some((e) => e.type === 'disconnected')) {
            throw new Error(
              'A connection was lost during the test (was the broker restarted by someone else?).',
            );
          }
          return controlEvents.some((e) => e.type === 'channel-closed' && e.endpoint === controlEndpoint);
        },
        { timeoutMs: 150_000, intervalMs: 100, message: 'the broker to close the control channel' },
      );
      controlKilledAt = Date.now();
      const closed = controlEvents.find((e) => e.type === 'channel-closed');
      expect(closed).toMatchObject({ role: 'consume', endpoint: controlEndpoint });
      expect((closed as { error?: string }).error).toMatch(/PRECONDITION_FAILED.*timed out/);
      // The control's message was not acknowledged, so the broker delivers it again.
      await waitFor(() => controlDeliveries.length === 2, { message: 'the control redelivery' });
      expect(controlDeliveries[1]?.redelivered).toBe(true);

      const final = await runtime.service.wait(endpoint.name, job.id, { timeoutMs: 60_000 });
      expect(final.status).toBe('succeeded');
      expect(final.attempt).toBe(1);
      expect(runs).toBe(1);
      expect(events.filter((e) => e.type === 'channel-closed')).toEqual([]);
      expect(await queue.depth(endpoint.name)).toBe(0);
    } finally {
      await restore().catch(() => {});
      releaseControl();
      await runtime.stop({ timeoutMs: 1_000 });
      await queue.close();
      await control.close();
      await repository.close();
      await admin.deleteTopology(queue.prefix, [endpoint.name]);
      await admin.deleteTopology(control.prefix, [controlEndpoint]);
    }
  }, 240_000);
});

describe('flow control', () => {
  it('while the broker blocks publishing (memory alarm) a publish waits, fails past its bound, and resumes on unblock', async () => {
    const previous = await brokerEval('vm_memory_monitor:get_vm_memory_high_watermark().');
    const restore = () => brokerEval(`vm_memory_monitor:set_vm_memory_high_watermark(${previous}).`);
    const queue = createAmqpQueue({
      url: AMQP_URL,
      prefix: randomName('t'),
      logger: recordingLogger(),
      publishTimeoutMs: 10_000,
      confirmTimeoutMs: 2_000,
    });
    const events = recordEvents(queue);
    const e = randomName('e');
    try {
      await queue.publish(e, newJobId()); // connected and declared before the alarm
      await brokerEval('vm_memory_monitor:set_vm_memory_high_watermark(0.0000001).');
      try {
        // The broker blocks a connection when it next publishes: the first publish cannot be confirmed.
        const first = await queue.publish(e, newJobId()).catch((error: unknown) => error);
        expect(first).toBeInstanceOf(UnavailableError);
        await waitFor(() => events.some((event) => event.type === 'blocked'), {
          message: 'the blocked event',
        });
        expect(queue.status().publish).toBe('blocked');
        // While blocked, a publish waits (it is not written) ...
        let settled = false;
        const second = queue.publish(e, newJobId()).finally(() => {
          settled = true;
        });
        await delay(500);
        expect(settled).toBe(false);
        // ... and goes out once the broker unblocks the connection.
        await restore();
        await second;
      } finally {
        await restore();
      }
      await waitFor(() => events.some((event) => event.type === 'unblocked'), {
        message: 'the unblocked event',
      });
      expect(queue.status().publish).toBe('connected');
      await queue.publish(e, newJobId());
      expect(await queue.depth(e)).toBeGreaterThanOrEqual(3);
    } finally {
      await restore().catch(() => {});
      await queue.close();
      await admin.deleteTopology(queue.prefix, [e]);
    }
  }, 120_000);
});
