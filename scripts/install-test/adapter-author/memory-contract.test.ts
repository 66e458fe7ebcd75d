// What an adapter author does with the published @jobs/testing: run the contract suites in their own vitest
// project. Here against @jobs/memory, installed from its tarball like @jobs/testing and @jobs/core, with the
// lowest vitest the peer range allows (the workspace runs the latest).
import { createMemoryQueue, createMemoryRepository } from '@jobs/memory';
import {
  describeJobQueueContract,
  describeJobRepositoryContract,
  describeJobRepositoryModel,
  describeJobRuntimeContract,
} from '@jobs/testing';

describeJobRepositoryContract('memory (installed)', () => createMemoryRepository());
describeJobRepositoryModel('memory (installed)', () => createMemoryRepository(), { numRuns: 20 });
describeJobQueueContract('memory (installed)', () => createMemoryQueue());
describeJobRuntimeContract('memory (installed)', () => ({
  repository: createMemoryRepository(),
  queue: createMemoryQueue(),
}));
