export { createMemoryQueue, type DeadLetter, type MemoryJobQueue, type MemoryQueueOptions } from './queue.js';
export { createMemoryRepository, type MemoryRepositoryOptions } from './repository.js';
