import { createMemoryQueue, createMemoryRepository } from '@jobs/memory';
import {
  describeJobQueueContract,
  describeJobRepositoryContract,
  describeJobRepositoryModel,
  describeJobRuntimeContract,
} from './index.js';

// The memory repository honours an injected clock: the suites move it instead of waiting.
describeJobRepositoryContract('memory', ({ now }) => createMemoryRepository({ clock: now }), {
  controllableClock: true,
});
// And on the real clock, as an adapter whose clock cannot be controlled runs them.
describeJobRepositoryContract('memory (real clock)', () => createMemoryRepository());
describeJobRepositoryModel('memory', ({ now }) => createMemoryRepository({ clock: now }), {
  controllableClock: true,
});
describeJobRepositoryModel('memory (real clock)', () => createMemoryRepository(), { numRuns: 20 });
describeJobQueueContract('memory', () => createMemoryQueue());
describeJobRuntimeContract('memory', () => ({
  repository: createMemoryRepository(),
  queue: createMemoryQueue(),
}));
