import { createMemoryQueue } from '@jobs/memory';
import { describeJobRuntimeContract } from '@jobs/testing';
import { afterAll, beforeAll } from 'vitest';
import { dropSchema, randomSchema, testRepository } from './test-support.js';

const schema = randomSchema('runtime');
const silent = { debug() {}, info() {}, warn() {}, error() {} };

beforeAll(async () => {
  const repository = testRepository(schema);
  await repository.migrate();
  await repository.close();
});

afterAll(async () => {
  await dropSchema(schema);
});

// The runtime (service, worker host, dispatcher, sweeper, cleanups) on PostgreSQL, with the in-memory queue.
describeJobRuntimeContract('postgres + memory queue', () => ({
  repository: testRepository(schema, { logger: silent }),
  queue: createMemoryQueue(),
}));
