import {
  describeJobQueueContract,
  describeJobRepositoryContract,
  describeJobRepositoryModel,
  describeJobRuntimeContract,
} from '@jobs/testing';
import { createMemoryQueue, createMemoryRepository } from './index.js';

describeJobRepositoryContract('memory', () => createMemoryRepository());
describeJobRepositoryModel('memory', () => createMemoryRepository());
describeJobQueueContract('memory', () => createMemoryQueue());
describeJobRuntimeContract('memory repository + memory queue', () => ({
  repository: createMemoryRepository(),
  queue: createMemoryQueue(),
}));
