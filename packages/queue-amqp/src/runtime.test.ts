import { silentLogger } from '@jobs/core';
import { createMemoryRepository } from '@jobs/memory';
import { createPostgresRepository } from '@jobs/repo-postgres';
import { describeJobRuntimeContract, type RuntimeBackend } from '@jobs/testing';
import { afterAll, beforeAll } from 'vitest';
import { createAmqpQueue } from './index.js';
import type { AmqpJobQueue } from './queue.js';
import { Admin, AMQP_URL, randomName } from './test-support.js';

const DATABASE_URL = process.env.JOBS_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `amqp_runtime_${crypto.randomUUID().replaceAll('-', '').slice(0, 12)}`;

let admin: Admin;
beforeAll(async () => {
  admin = await Admin.open();
  const repository = postgresRepository();
  await repository.migrate();
  await repository.close();
});
afterAll(async () => {
  await admin?.close();
  const repository = postgresRepository();
  try {
    await repository.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await repository.close();
  }
});

function postgresRepository() {
  return createPostgresRepository({
    connectionString: DATABASE_URL,
    schema,
    logger: silentLogger,
    poolConfig: { max: 10, application_name: 'jobs-test-amqp' },
  });
}

function amqpQueue() {
  return createAmqpQueue({
    url: AMQP_URL,
    prefix: randomName('t'),
    logger: silentLogger,
    redeliveryDelayMs: 100,
  });
}

const cleanup = async (backend: RuntimeBackend, endpoints: string[]) => {
  await admin.deleteTopology((backend.queue as AmqpJobQueue).prefix, endpoints);
};

// The runtime (service, worker host, sweeper) dispatching through RabbitMQ.
describeJobRuntimeContract(
  'memory repository + amqp queue',
  () => ({
    repository: createMemoryRepository(),
    queue: amqpQueue(),
  }),
  { cleanup },
);

describeJobRuntimeContract(
  'postgres repository + amqp queue',
  () => ({
    repository: postgresRepository(),
    queue: amqpQueue(),
  }),
  { cleanup },
);
