export type { RepositoryModelOptions } from './property.js';
export { describeJobRepositoryModel } from './property.js';
export type { QueueContractOptions, QueueFactory } from './queue-contract.js';
export { describeJobQueueContract } from './queue-contract.js';
export type { RepositoryContractOptions, RepositoryFactory } from './repository-contract.js';
export { describeJobRepositoryContract } from './repository-contract.js';
export type { RuntimeBackend, RuntimeContractOptions, RuntimeFactory } from './runtime-contract.js';
export { describeJobRuntimeContract } from './runtime-contract.js';
