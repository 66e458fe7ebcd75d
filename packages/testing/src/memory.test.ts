import { createMemoryQueue, createMemoryRepository } from '@jobs/memory';
import {
  describeJobQueueContract,
  describeJobRepositoryContract,
  describeJobRepositoryModel,
} from './index.js';

describeJobRepositoryContract('memory', () => createMemoryRepository());
describeJobRepositoryModel('memory', () => createMemoryRepository());
describeJobQueueContract('memory', () => createMemoryQueue());
