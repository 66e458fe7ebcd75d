/**
 * Helpers of this package's tests (not exported): a separate admin connection to inspect and clean the broker,
 * and `rabbitmqctl` for the faults tests. The broker must be running: every helper fails loudly otherwise.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  createJobsRuntime,
  defineEndpoint,
  implement,
  type JobQueue,
  type JobRepository,
  type JobsRuntime,
  type Logger,
  sleep,
} from '@jobs/core';
import { delay, waitFor as sharedWaitFor, type WaitForOptions } from '@jobs/testing';
import { type Channel, type ChannelModel, connect } from 'amqplib';
import { z } from 'zod';
import type { AmqpQueueEvent } from './events.js';
import { DEFAULT_URL } from './options.js';
import type { AmqpJobQueue } from './queue.js';

export const AMQP_URL = process.env.JOBS_AMQP_URL ?? DEFAULT_URL;

const run = promisify(execFile);

export function randomName(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().replaceAll('-', '').slice(0, 12)}`;
}

export { delay };

/** Polls `condition` until it is truthy (20 s by default here: the broker is slower than memory). */
export function waitFor<T>(
  condition: () => T | Promise<T>,
  options: WaitForOptions = {},
): Promise<NonNullable<T>> {
  return sharedWaitFor(condition, { timeoutMs: 20_000, intervalMs: 20, ...options });
}

/** A logger that keeps warnings and errors, so tests can show them when they fail and check for surprises. */
export function recordingLogger(): Logger & {
  entries: Array<{ level: string; message: string; fields?: unknown }>;
} {
  const entries: Array<{ level: string; message: string; fields?: unknown }> = [];
  return {
    entries,
    debug() {},
    info() {},
    warn: (fields, message) => entries.push({ level: 'warn', message, fields }),
    error: (fields, message) => entries.push({ level: 'error', message, fields }),
  };
}

/**
 * Counts, per job, the successful results the repository accepted (wrapping its `settle`): exactly-once
 * recording means exactly one each, however often a job ran or its message was delivered.
 */
export function countRecordedResults(repository: JobRepository): Map<string, number> {
  const recorded = new Map<string, number>();
  const settle = repository.settle.bind(repository);
  repository.settle = (async (requests) => {
    const results = await settle(requests);
    requests.forEach((request, index) => {
      const result = results[index];
      if (result?.ok && result.value && request.outcome.status === 'succeeded') {
        recorded.set(request.id, (recorded.get(request.id) ?? 0) + 1);
      }
    });
    return results;
  }) satisfies JobRepository['settle'];
  return recorded;
}

/**
 * The faults tests' runtime: one endpoint whose worker doubles its input after 5 to 25 ms, many attempts with
 * short backoff (a disruption must not fail a job), short sweeps; `runs` counts each job's executions.
 */
export function doublingRuntime(
  repository: JobRepository,
  queue: JobQueue,
  logger: Logger,
): { runtime: JobsRuntime; endpoint: { name: string }; runs: Map<string, number> } {
  const endpoint = defineEndpoint({
    name: randomName('e'),
    input: z.object({ n: z.number() }),
    output: z.object({ doubled: z.number() }),
    concurrency: 16,
    maxAttempts: 20,
    backoff: { initialMs: 50, maxMs: 500 },
  });
  const runs = new Map<string, number>();
  const worker = implement(endpoint, async (input, context) => {
    runs.set(context.job.id, (runs.get(context.job.id) ?? 0) + 1);
    await sleep(5 + Math.random() * 20);
    return { doubled: input.n * 2 };
  });
  const runtime = createJobsRuntime({
    repository,
    queue,
    workers: [worker],
    host: { leaseMs: 5_000, shutdownTimeoutMs: 5_000 },
    sweeper: { intervalMs: 250, redispatchAfterMs: 5_000 },
    logger,
  });
  return { runtime, endpoint, runs };
}

/** Records the queue's state events. */
export function recordEvents(queue: AmqpJobQueue): AmqpQueueEvent[] {
  const events: AmqpQueueEvent[] = [];
  queue.on('state', (event) => events.push(event));
  return events;
}

/**
 * A plain amqplib connection of the tests, apart from the queue under test. It reconnects on next use when
 * the broker dropped it (a faults test restarts the broker), so cleanups after that still run.
 */
export class Admin {
  #connection: ChannelModel | null = null;

  static async open(): Promise<Admin> {
    const admin = new Admin();
    await admin.connection();
    return admin;
  }

  async connection(): Promise<ChannelModel> {
    if (!this.#connection) {
      const connection = await connect(AMQP_URL, {
        clientProperties: { connection_name: 'jobs-tests (admin)' },
      });
      connection.on('error', () => {});
      connection.on('close', () => {
        if (this.#connection === connection) this.#connection = null;
      });
      this.#connection = connection;
    }
    return this.#connection;
  }

  /** Runs `fn` on a throwaway channel (a failed operation closes only that one). */
  async withChannel<T>(fn: (channel: Channel) => Promise<T>): Promise<T> {
    const channel = await (await this.connection()).createChannel();
    channel.on('error', () => {});
    try {
      return await fn(channel);
    } finally {
      await channel.close().catch(() => {});
    }
  }

  async publishRaw(
    queue: string,
    body: Buffer | string,
    headers: Record<string, unknown> = {},
  ): Promise<void> {
    const channel = await (await this.connection()).createConfirmChannel();
    channel.on('error', () => {});
    try {
      await new Promise<void>((resolve, reject) => {
        channel.sendToQueue(
          queue,
          Buffer.isBuffer(body) ? body : Buffer.from(body),
          { persistent: true, headers },
          (error) => (error ? reject(error) : resolve()),
        );
      });
    } finally {
      await channel.close().catch(() => {});
    }
  }

  /** Ready messages of a queue, or null when it does not exist. */
  async messageCount(queue: string): Promise<number | null> {
    try {
      return (await this.withChannel((channel) => channel.checkQueue(queue))).messageCount;
    } catch {
      return null;
    }
  }

  async consumerCount(queue: string): Promise<number | null> {
    try {
      return (await this.withChannel((channel) => channel.checkQueue(queue))).consumerCount;
    } catch {
      return null;
    }
  }

  /** Idempotent (the broker answers ok for a queue that does not exist). */
  async deleteQueue(queue: string): Promise<void> {
    await this.withChannel((channel) => channel.deleteQueue(queue));
  }

  /** Deletes the endpoint queues, the dead-letter queue and exchange of a prefix. */
  async deleteTopology(prefix: string, endpoints: Iterable<string>): Promise<void> {
    for (const endpoint of endpoints) await this.deleteQueue(`${prefix}.${endpoint}`);
    await this.deleteQueue(`${prefix}.dead-letter`);
    await this.withChannel((channel) => channel.deleteExchange(`${prefix}.dead-letter`));
  }

  async close(): Promise<void> {
    const connection = this.#connection;
    this.#connection = null;
    await connection?.close().catch(() => {});
  }
}

/**
 * Runs `rabbitmqctl` on the broker. `JOBS_RABBITMQCTL` replaces the command when the broker runs elsewhere,
 * e.g. `docker exec my-rabbit rabbitmqctl` for RabbitMQ in a container (CONTRIBUTING.md).
 */
export async function rabbitmqctl(...args: string[]): Promise<string> {
  const [command, ...prefix] = (process.env.JOBS_RABBITMQCTL ?? 'rabbitmqctl').split(/\s+/).filter(Boolean);
  const { stdout } = await run(command!, [...prefix, ...args], { timeout: 60_000 });
  return stdout;
}

/** Evaluates an Erlang expression on the broker node. */
export async function brokerEval(expression: string): Promise<string> {
  return (await rabbitmqctl('eval', expression)).trim();
}

/**
 * Closes the broker connections whose `connection_name` contains `name` (only this test's connections, not
 * other clients of the shared broker). Returns how many were closed.
 */
export async function closeConnectionsNamed(name: string, reason = 'closed by a jobs test'): Promise<number> {
  const listing = await rabbitmqctl('list_connections', '-q', 'pid', 'client_properties');
  const pids = listing
    .split('\n')
    .filter((line) => line.includes(`{"connection_name","${name}`))
    .map((line) => line.split('\t')[0]!)
    .filter((pid) => pid.startsWith('<'));
  for (const pid of pids) {
    await rabbitmqctl('close_connection', pid, reason).catch(() => {});
  }
  return pids.length;
}
