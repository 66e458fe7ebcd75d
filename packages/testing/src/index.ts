export * from './fixtures.js';
export type { WaitForOptions } from './helpers.js';
export { delay, makeNewJob, waitFor } from './helpers.js';
export type { RepositoryModelOptions } from './property.js';
export { describeJobRepositoryModel } from './property.js';
export type { QueueContractOptions, QueueFactory } from './queue-contract.js';
export { describeJobQueueContract } from './queue-contract.js';
// describeJobRepositoryContract, its sub-suites (describeClaimContract, ...) and their options.
export * from './repository-contract.js';
export type { RuntimeBackend, RuntimeContractOptions, RuntimeFactory } from './runtime-contract.js';
export { describeJobRuntimeContract } from './runtime-contract.js';
