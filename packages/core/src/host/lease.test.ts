import { describe, expect, it } from 'vitest';
import { silentLogger } from '../logger.js';
import { ChangeNotifier } from '../notifier.js';
import type { JobRepository } from '../repository.js';
import type { JobChange } from '../types.js';
import type { AbortReason } from './execute.js';
import { type LeasedRun, LeaseKeeper } from './lease.js';

/** Only what the keeper calls: heartbeats, and a subscription that never announces anything. */
function repositoryWith(heartbeat: JobRepository['heartbeat']): JobRepository {
  return { heartbeat, subscribe: async () => () => {} } as Partial<JobRepository> as JobRepository;
}

function run(id: string, renewedAt = Date.now()) {
  const aborts: Array<{ reason: AbortReason; at: number }> = [];
  const leased: LeasedRun = {
    id,
    endpoint: 'lease-test',
    leaseToken: 'token',
    attempt: 1,
    claimedVersion: 0,
    renewedAt,
    abort: (reason) => void aborts.push({ reason, at: Date.now() }),
  };
  return { leased, aborts };
}

describe('LeaseKeeper', () => {
  it('stops a run whose renewals hang, on its own clock, once the last confirmed renewal is a lease old', async () => {
    // The repository stops answering heartbeats: they never resolve (a black-holed network).
    const hanging = repositoryWith(() => new Promise(() => {}));
    const keeper = new LeaseKeeper({
      repository: hanging,
      notifier: new ChangeNotifier(hanging, silentLogger),
      leaseMs: 300,
      heartbeatIntervalMs: 50,
      maxBatch: 10,
      logger: silentLogger,
    });
    keeper.start();
    const startedAt = Date.now();
    const { leased, aborts } = run('job-1', startedAt);
    keeper.add(leased);
    try {
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(aborts.map((abort) => abort.reason)).toEqual(['lease_lost']);
      // Not before the lease has passed since the claim (the last confirmed renewal).
      expect(aborts[0]!.at - startedAt).toBeGreaterThanOrEqual(300);
    } finally {
      keeper.stop();
    }
  });

  it('keeps a run whose renewals get through, and stops it when the repository says the lease is gone', async () => {
    let held = true;
    const answering = repositoryWith(async (requests) =>
      requests.map(() => ({ ok: true, value: { held, cancelRequested: false } })),
    );
    const keeper = new LeaseKeeper({
      repository: answering,
      notifier: new ChangeNotifier(answering, silentLogger),
      leaseMs: 200,
      heartbeatIntervalMs: 40,
      maxBatch: 10,
      logger: silentLogger,
    });
    keeper.start();
    const { leased, aborts } = run('job-2');
    keeper.add(leased);
    try {
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(aborts).toEqual([]);
      held = false;
      await new Promise((resolve) => setTimeout(resolve, 150));
      // (A run ignores aborts after the first; the keeper may say it again until the host lets the run go.)
      expect(new Set(aborts.map((abort) => abort.reason))).toEqual(new Set(['lease_lost']));
    } finally {
      keeper.stop();
    }
  });

  it('ignores a notification of a change from before the claim, and stops the run on a later takeover', async () => {
    let announce: (change: JobChange) => void = () => {};
    const repository = {
      heartbeat: async (requests: unknown[]) =>
        requests.map(() => ({ ok: true, value: { held: true, cancelRequested: false } })),
      subscribe: async (listener: (change: JobChange) => void) => {
        announce = listener;
        return () => {};
      },
    } as Partial<JobRepository> as JobRepository;
    const notifier = new ChangeNotifier(repository, silentLogger);
    await notifier.ready();
    const keeper = new LeaseKeeper({
      repository,
      notifier,
      leaseMs: 10_000,
      heartbeatIntervalMs: 1_000,
      maxBatch: 10,
      logger: silentLogger,
    });
    const { leased, aborts } = run('job-3');
    const claimed = { ...leased, claimedVersion: 1_000 };
    keeper.add(claimed);
    try {
      const change = (updatedAt: number, status: JobChange['status'], attempt: number): JobChange => ({
        id: 'job-3',
        status,
        updatedAt: new Date(updatedAt),
        attempt,
        cancelRequested: false,
        runAt: null,
      });
      // The job's creation, announced late (after the claim that made this run).
      announce(change(999, 'queued', 0));
      announce(change(1_000, 'running', 1));
      expect(aborts).toEqual([]);
      // Another worker took the job over (its lease had expired): a later attempt.
      announce(change(1_500, 'running', 2));
      expect(aborts.map((abort) => abort.reason)).toEqual(['lease_lost']);
    } finally {
      keeper.stop();
      await notifier.close();
    }
  });
});
