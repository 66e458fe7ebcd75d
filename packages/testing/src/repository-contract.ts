import { describe } from 'vitest';
import { describeBatchContract } from './repository/batch.js';
import { describeCancelContract } from './repository/cancel.js';
import { describeClaimContract } from './repository/claim.js';
import { describeCleanupContract } from './repository/cleanup.js';
import { describeCreateContract } from './repository/create.js';
import { describeDispatchContract } from './repository/dispatch.js';
import { describeExpiryContract } from './repository/expiry.js';
import type { RepositoryContractOptions, RepositoryFactory } from './repository/fixture.js';
import { describeHeartbeatContract } from './repository/heartbeat.js';
import { describeLimitsContract } from './repository/limits.js';
import { describeListContract } from './repository/list.js';
import { describeNotificationContract } from './repository/notification.js';
import { describeRemoveContract } from './repository/remove.js';
import { describeRetryContract } from './repository/retry.js';
import { describeScheduleContract } from './repository/schedule.js';
import { describeScheduleStateContract } from './repository/schedule-state.js';
import { describeSearchContract, describeStatsContract } from './repository/search.js';
import { describeSettleContract } from './repository/settle.js';
import { describeUniqueContract } from './repository/unique.js';
import { describeUpdatedAtContract } from './repository/updated-at.js';
import { describeValueContract } from './repository/values.js';

export type {
  RepositoryContext,
  RepositoryContractOptions,
  RepositoryFactory,
} from './repository/fixture.js';
export {
  describeBatchContract,
  describeCancelContract,
  describeClaimContract,
  describeCleanupContract,
  describeCreateContract,
  describeDispatchContract,
  describeExpiryContract,
  describeHeartbeatContract,
  describeLimitsContract,
  describeListContract,
  describeNotificationContract,
  describeRemoveContract,
  describeRetryContract,
  describeScheduleContract,
  describeScheduleStateContract,
  describeSearchContract,
  describeSettleContract,
  describeStatsContract,
  describeUniqueContract,
  describeUpdatedAtContract,
  describeValueContract,
};

/** Every sub-suite, in the order `describeJobRepositoryContract` runs them. */
export const repositoryContractSuites = [
  describeCreateContract,
  describeValueContract,
  describeBatchContract,
  describeClaimContract,
  describeHeartbeatContract,
  describeSettleContract,
  describeCancelContract,
  describeRetryContract,
  describeUniqueContract,
  describeRemoveContract,
  describeUpdatedAtContract,
  describeDispatchContract,
  describeLimitsContract,
  describeScheduleContract,
  describeScheduleStateContract,
  describeExpiryContract,
  describeListContract,
  describeSearchContract,
  describeStatsContract,
  describeCleanupContract,
  describeNotificationContract,
] as const;

/**
 * Registers a `describe` block that checks everything `JobRepository` (packages/core/src/repository.ts)
 * promises: every sub-suite above. Each test gets a fresh repository from `factory` and closes it afterwards;
 * the jobs and cleanups it created are removed, so a store shared with other runs is fine (every test uses its
 * own endpoint names). An adapter that wants only some of it composes the sub-suites instead.
 */
export function describeJobRepositoryContract(
  name: string,
  factory: RepositoryFactory,
  options: RepositoryContractOptions = {},
): void {
  describe(`JobRepository contract: ${name}`, () => {
    for (const suite of repositoryContractSuites) suite(name, factory, options);
  });
}
