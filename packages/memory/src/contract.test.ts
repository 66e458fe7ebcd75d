import {
  describeJobQueueContract,
  describeJobRepositoryContract,
  describeJobRepositoryModel,
} from '@jobs/testing';
import { createMemoryQueue, createMemoryRepository } from './index.js';

describeJobRepositoryContract('memory', () => createMemoryRepository());
describeJobRepositoryModel('memory', () => createMemoryRepository());
describeJobQueueContract('memory', () => createMemoryQueue());
