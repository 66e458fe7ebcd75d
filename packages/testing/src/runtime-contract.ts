import { describe } from 'vitest';
import { cleanupTests } from './runtime/cleanup.js';
import { dispatchTests } from './runtime/dispatch.js';
import { type RuntimeContractOptions, type RuntimeFactory, useRuntimeFixture } from './runtime/fixture.js';
import { lifecycleTests } from './runtime/lifecycle.js';
import { limitsTests } from './runtime/limits.js';
import { loggingTests } from './runtime/logging.js';
import { recoveryTests } from './runtime/recovery.js';
import { scheduleTests } from './runtime/schedules.js';
import { schedulingTests } from './runtime/scheduling.js';
import { serviceTests } from './runtime/service.js';

export type { RuntimeBackend, RuntimeContractOptions, RuntimeFactory } from './runtime/fixture.js';

/**
 * Registers a `describe` block that runs the @jobs/core runtime (JobService, worker host, dispatcher, sweeper,
 * cleanup runner) on the repository and queue from `factory` and checks the guarantees of the design end to
 * end: results are recorded exactly once, retries and timeouts, cancel reaching running code, recovery of a job
 * whose worker died or whose repository stopped answering, each job dispatched once, stale messages dropped,
 * expiry, durable cleanups, waiters woken by change notifications, and log lines that name their job and hold
 * no input or output.
 */
export function describeJobRuntimeContract(
  name: string,
  factory: RuntimeFactory,
  options: RuntimeContractOptions = {},
): void {
  const timeout = options.testTimeoutMs ?? 60_000;
  describe(`jobs runtime contract: ${name}`, () => {
    const fixture = useRuntimeFixture(factory, options);
    describe('lifecycle', () => lifecycleTests(fixture, timeout));
    describe('recovery', () => recoveryTests(fixture, timeout));
    describe('dispatch', () => dispatchTests(fixture, timeout));
    describe('cleanup', () => cleanupTests(fixture, timeout));
    describe('service', () => serviceTests(fixture, timeout));
    describe('scheduling', () => schedulingTests(fixture, timeout));
    describe('recurring schedules', () => scheduleTests(fixture, timeout));
    describe('flow limits', () => limitsTests(fixture, timeout));
    describe('logging', () => loggingTests(fixture, timeout));
  });
}
