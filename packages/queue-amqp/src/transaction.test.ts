// submitInTransaction of @jobs/repo-postgres with the real broker: a job submitted in the caller's transaction is
// published to RabbitMQ and run once that transaction commits, and a rollback leaves no job and no message.
import {
  createJobsRuntime,
  defineEndpoint,
  implement,
  type JobQueue,
  type JobsRuntime,
  newJobId,
  type QueueMessage,
  silentLogger,
} from '@jobs/core';
import {
  createPostgresRepository,
  type PostgresJobRepository,
  submitInTransaction,
} from '@jobs/repo-postgres';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createAmqpQueue } from './index.js';
import type { AmqpJobQueue } from './queue.js';
import { Admin, AMQP_URL, delay, randomName } from './test-support.js';

const DATABASE_URL = process.env.JOBS_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `amqp_tx_${crypto.randomUUID().replaceAll('-', '').slice(0, 12)}`;

const mail = defineEndpoint({
  name: 'tx-mail',
  input: z.object({ order: z.string() }),
  output: z.object({ sent: z.string() }),
  maxAttempts: 1,
});

function postgresRepository(): PostgresJobRepository {
  return createPostgresRepository({
    connectionString: DATABASE_URL,
    schema,
    logger: silentLogger,
    poolConfig: { max: 5, application_name: 'jobs-test-amqp-tx' },
  });
}

/** The queue, with every job id it was asked to publish recorded. */
function recordingQueue(queue: AmqpJobQueue, published: string[]): JobQueue {
  return new Proxy(queue, {
    get(target, property, receiver) {
      if (property === 'publishMany') {
        return (messages: readonly QueueMessage[]) => {
          published.push(...messages.map((message) => message.jobId));
          return target.publishMany!(messages);
        };
      }
      if (property === 'publish') {
        return (endpoint: string, jobId: string) => {
          published.push(jobId);
          return target.publish(endpoint, jobId);
        };
      }
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

let admin: Admin;
let repository: PostgresJobRepository;
let queue: AmqpJobQueue;
let runtime: JobsRuntime;
/** The caller's connection, from its own pool (here the repository's). */
let caller: Parameters<typeof submitInTransaction>[0] & { release(): void };
let runs: string[];
let published: string[];

beforeAll(async () => {
  admin = await Admin.open();
  const setup = postgresRepository();
  await setup.migrate();
  await setup.pool.query(`CREATE TABLE "${schema}".orders (id text PRIMARY KEY, job_id text)`);
  await setup.close();
});

afterAll(async () => {
  await admin?.close();
  const cleanup = postgresRepository();
  try {
    await cleanup.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await cleanup.close();
  }
});

beforeEach(async () => {
  runs = [];
  published = [];
  repository = postgresRepository();
  queue = createAmqpQueue({ url: AMQP_URL, prefix: randomName('tx'), logger: silentLogger });
  runtime = createJobsRuntime({
    repository,
    queue: recordingQueue(queue, published),
    logger: silentLogger,
    workers: [
      implement(mail, (input) => {
        runs.push(input.order);
        return { sent: input.order };
      }),
    ],
    // No poll within a test: the commit's change notification is what wakes the dispatcher.
    dispatcher: { pollIntervalMs: 600_000 },
    sweeper: false,
  });
  await runtime.start();
  caller = await repository.pool.connect();
});

afterEach(async () => {
  caller.release();
  await runtime.stop({ timeoutMs: 2_000 });
  await repository.close();
  const prefix = queue.prefix;
  await queue.close();
  await admin.deleteTopology(prefix, [mail.name]);
});

/** A job submitted the ordinary way and run to its end: what was dispatched before it was handed out too. */
async function barrier(): Promise<void> {
  const { job } = await runtime.service.submit(mail.name, { order: `barrier-${newJobId()}` });
  expect(await runtime.service.wait(mail.name, job.id, { until: 'final', timeoutMs: 20_000 })).toMatchObject({
    status: 'succeeded',
  });
}

describe('submitInTransaction with RabbitMQ', () => {
  it('commit: published and run after the commit, never before', async () => {
    await caller.query('BEGIN');
    const { job } = await submitInTransaction(caller, runtime.service, mail, { order: 'amqp-commit' });
    await caller.query(`INSERT INTO "${schema}".orders (id, job_id) VALUES ($1, $2)`, [
      'amqp-commit',
      job.id,
    ]);
    await barrier();
    await delay(200);
    expect(published).not.toContain(job.id);
    expect(runs).not.toContain('amqp-commit');

    await caller.query('COMMIT');
    const final = await runtime.service.wait(mail.name, job.id, { until: 'final', timeoutMs: 20_000 });
    expect(final).toMatchObject({ id: job.id, status: 'succeeded' });
    expect(published.filter((id) => id === job.id)).toHaveLength(1);
    expect(runs.filter((order) => order === 'amqp-commit')).toHaveLength(1);
  });

  it('rollback: no job, no message on the queue, nothing runs', async () => {
    await caller.query('BEGIN');
    await caller.query(`INSERT INTO "${schema}".orders (id) VALUES ($1)`, ['amqp-rollback']);
    const { job } = await submitInTransaction(caller, runtime.service, mail.name, { order: 'amqp-rollback' });
    await caller.query('ROLLBACK');

    expect(await repository.get(job.id)).toBeNull();
    await barrier();
    expect(published).not.toContain(job.id);
    expect(runs).not.toContain('amqp-rollback');
    expect(await admin.messageCount(`${queue.prefix}.${mail.name}`)).toBe(0);
    const orders = await repository.pool.query(`SELECT 1 FROM "${schema}".orders WHERE id = 'amqp-rollback'`);
    expect(orders.rowCount).toBe(0);
  });
});
