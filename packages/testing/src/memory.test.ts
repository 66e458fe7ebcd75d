import { createMemoryQueue, createMemoryRepository } from '@jobs/memory';
import {
  describeJobQueueContract,
  describeJobRepositoryContract,
  describeJobRepositoryModel,
  describeJobRuntimeContract,
} from './index.js';

describeJobRepositoryContract('memory', () => createMemoryRepository());
describeJobRepositoryModel('memory', () => createMemoryRepository());
describeJobQueueContract('memory', () => createMemoryQueue());
describeJobRuntimeContract('memory', () => ({
  repository: createMemoryRepository(),
  queue: createMemoryQueue(),
}));
