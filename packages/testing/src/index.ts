export * from './fixtures.js';
export type { WaitForOptions } from './helpers.js';
export { delay, makeNewJob, waitFor } from './helpers.js';
export { describeHttpFuzz, type HttpFuzzOptions } from './http/fuzz.js';
// The HTTP suites: hostile inputs, fuzzing and owner isolation of a server around a repository.
export { craftCursor, describeHttpHostileInputContract, nested } from './http/hostile.js';
export { describeHttpOwnerIsolation } from './http/isolation.js';
export {
  HTTP_SUITE_ENDPOINTS,
  type HttpSuiteFactory,
  type HttpSuiteSetup,
  type HttpSuiteTarget,
  httpSuiteSetup,
  OWNER_HEADER,
} from './http/target.js';
export type { RepositoryModelOptions } from './property.js';
export { describeJobRepositoryModel } from './property.js';
export type { QueueContractOptions, QueueFactory } from './queue-contract.js';
export { describeJobQueueContract } from './queue-contract.js';
// describeJobRepositoryContract, its sub-suites (describeClaimContract, ...) and their options.
export * from './repository-contract.js';
export type { RuntimeBackend, RuntimeContractOptions, RuntimeFactory } from './runtime-contract.js';
export { describeJobRuntimeContract } from './runtime-contract.js';
