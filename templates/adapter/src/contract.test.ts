// The definition of a correct adapter: the @jobs/testing contract suites. Keep the suites for what your
// package provides (repository, queue, or both) and give them a store and a broker that tests may share.
import {
  describeJobQueueContract,
  describeJobRepositoryContract,
  describeJobRepositoryModel,
  describeJobRuntimeContract,
} from '@jobs/testing';
import { createExampleQueue, createExampleRepository } from './index.js';

// One store (a schema, a database, a key prefix) and one queue prefix per test run, so parallel runs and other
// test files never see each other's jobs. Point these at the real service and fail loudly when it is missing.
const url = process.env.EXAMPLE_URL ?? 'example://127.0.0.1';
const run = `test_${process.pid}_${Date.now().toString(36)}`;

describeJobRepositoryContract('example', () => createExampleRepository({ url }), {
  // Runs after each test, before the repository is closed: remove what the test left, if anything.
  cleanup: async () => {},
});

describeJobRepositoryModel('example', () => createExampleRepository({ url }));

describeJobQueueContract('example', () => createExampleQueue({ url, prefix: run }), {
  // Runs after each test, before the queue is closed: delete the broker queues of these endpoints.
  cleanup: async (_queue, _endpoints) => {},
});

describeJobRuntimeContract('example repository + example queue', () => ({
  repository: createExampleRepository({ url }),
  queue: createExampleQueue({ url, prefix: run }),
}));
