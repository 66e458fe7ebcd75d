// @jobs/testing's declarations seen from a CommonJS TypeScript module (tsc node16 reads the .d.cts files).
// Type-checked only: the suites run under vitest, in memory-contract.test.ts.
import { createMemoryQueue, createMemoryRepository } from '@jobs/memory';
import {
  describeJobQueueContract,
  describeJobRepositoryContract,
  type QueueFactory,
  type RepositoryContractOptions,
  type RepositoryFactory,
} from '@jobs/testing';

const repositories: RepositoryFactory = () => createMemoryRepository();
const queues: QueueFactory = async () => createMemoryQueue();
const options: RepositoryContractOptions = { testTimeoutMs: 60_000, cleanup: async () => {} };

export function register(): void {
  describeJobRepositoryContract('memory', repositories, options);
  describeJobQueueContract('memory', queues);
  // @ts-expect-error the factory must return a JobRepository
  describeJobRepositoryContract('memory', () => 42);
}
