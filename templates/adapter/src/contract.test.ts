// The definition of a correct adapter: the @jobs/testing contract suites. Keep the suites for what your
// package provides (repository, queue, or both) and give them a store and a broker that tests may share.
import { createMemoryQueue, createMemoryRepository } from '@jobs/memory';
import {
  describeJobQueueContract,
  describeJobRepositoryContract,
  describeJobRepositoryModel,
  describeJobRuntimeContract,
} from '@jobs/testing';
import { createExampleQueue, createExampleRepository } from './index.js';

// One store (a schema, a database, a file, a key prefix) and one queue prefix per test run, so parallel runs and
// other test files never see each other's jobs. Point these at the real service and fail loudly when it is
// missing (an embedded store: a file in a temp folder of the run, removed in an afterAll).
const url = process.env.EXAMPLE_URL ?? 'example://127.0.0.1';
const run = `test_${process.pid}_${Date.now().toString(36)}`;

// `({ now }) => ...`: with `controllableClock: true` the suites hand the factory a clock and move it instead of
// waiting, and also run the tests of exact time boundaries. Give it to a repository that takes an injectable clock
// (see ExampleRepositoryOptions.clock); a store with its own clock drops the option and ignores the argument.
describeJobRepositoryContract('example', ({ now }) => createExampleRepository({ url, clock: now }), {
  controllableClock: true,
  // Runs after each test, before the repository is closed: remove what the test left, if anything (the suites
  // already remove the jobs and cleanups they created).
  cleanup: async () => {},
});
// And on the store's real clock, as a deployment runs it.
describeJobRepositoryContract('example (real clock)', () => createExampleRepository({ url }));

// Random sequences of batches, compared with a reference model of the interface.
describeJobRepositoryModel('example', ({ now }) => createExampleRepository({ url, clock: now }), {
  controllableClock: true,
});

describeJobQueueContract('example', () => createExampleQueue({ url, prefix: run }), {
  // Runs after each test, before the queue is closed: delete the broker queues of these endpoints.
  cleanup: async (_queue, _endpoints) => {},
});

// The whole runtime on the adapter: a repository adapter runs it with the in-memory queue, a queue adapter with
// the in-memory repository (or both halves together, as here, when the package has both).
describeJobRuntimeContract('example repository + memory queue', () => ({
  repository: createExampleRepository({ url }),
  queue: createMemoryQueue(),
}));
describeJobRuntimeContract('memory repository + example queue', () => ({
  repository: createMemoryRepository(),
  queue: createExampleQueue({ url, prefix: run }),
}));
