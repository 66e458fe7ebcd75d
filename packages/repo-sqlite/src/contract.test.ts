// The definition of a correct repository: the @jobs/testing suites, on a file (with the repository's clock
// under the suites' control, and on the real clock) and in memory, with the default driver (better-sqlite3 on
// Node). The node:sqlite driver runs the same suites in node-sqlite.test.ts.
import { createMemoryQueue } from '@jobs/memory';
import {
  describeJobRepositoryContract,
  describeJobRepositoryModel,
  describeJobRuntimeContract,
} from '@jobs/testing';
import { createSqliteRepository } from './index.js';
import { useTempFolder } from './test-support.js';

const file = useTempFolder();
const shared = file('contract.sqlite');
const silent = { debug() {}, info() {}, warn() {}, error() {} };

// Every test's repository opens the same file: the suites remove what each test left.
describeJobRepositoryContract(
  'sqlite file',
  ({ now }) => createSqliteRepository({ path: shared, clock: now }),
  {
    controllableClock: true,
  },
);
describeJobRepositoryContract('sqlite file (real clock)', () => createSqliteRepository({ path: shared }));
describeJobRepositoryContract(
  'sqlite :memory:',
  ({ now }) => createSqliteRepository({ path: ':memory:', clock: now }),
  {
    controllableClock: true,
  },
);
describeJobRepositoryModel('sqlite file', ({ now }) => createSqliteRepository({ path: shared, clock: now }), {
  controllableClock: true,
});
describeJobRepositoryModel('sqlite file (real clock)', () => createSqliteRepository({ path: shared }), {
  numRuns: 20,
});

// The runtime (service, worker host, dispatcher, sweeper, cleanups) on SQLite with the in-memory queue.
describeJobRuntimeContract('sqlite + memory queue', () => ({
  repository: createSqliteRepository({ path: file('runtime.sqlite'), logger: silent }),
  queue: createMemoryQueue(),
}));
