import type { JobStatus, SettleOutcome } from '@jobs/core';
import { isFinalStatus } from '@jobs/core';
import type { DispatchRank } from '../helpers.js';

/**
 * The reference state machine of `describeJobRepositoryModel`: what a repository must hold after each operation,
 * computed the simplest way (a list of jobs scanned every time). Times are milliseconds of the model's clock:
 * the repository's clock when the suite controls it, else a clock that stands still at 0 (durations are then 0
 * or far longer than a test, so that no lease, delay or retention passes by itself).
 */
export interface ModelJob {
  id: string;
  owner: string | null;
  key: string | null;
  /** false once removed or deleted by deleteExpired. */
  stored: boolean;
  status: JobStatus;
  attempt: number;
  cancelRequested: boolean;
  /** The token holding the lease while running. */
  token: string | null;
  /** Tokens of earlier runs: refused from now on. */
  staleTokens: string[];
  runAt: number;
  leaseExpiresAt: number | null;
  expiresAt: number | null;
  dispatchedAt: number | null;
  /** Settled succeeded with `cleanup: true`. */
  cleanup: boolean;
}

export interface ModelCleanup {
  id: string;
  attempt: number;
  dueAt: number;
  token: string | null;
  staleTokens: string[];
  leaseExpiresAt: number;
}

export type SettleKind =
  | 'succeeded'
  | 'succeededCleanup'
  | 'failed'
  | 'canceled'
  | 'retry'
  | 'retryLater'
  | 'release';

export class RepositoryModel {
  readonly jobs: ModelJob[] = [];
  readonly cleanups: ModelCleanup[] = [];

  constructor(
    /** The model's clock. */
    readonly now: () => number,
  ) {}

  /** A stored job that is not expired: what every method but deleteExpired sees. */
  live(job: ModelJob | null | undefined): job is ModelJob {
    return !!job && job.stored && !(job.expiresAt !== null && job.expiresAt <= this.now());
  }

  expired(job: ModelJob): boolean {
    return job.stored && job.expiresAt !== null && job.expiresAt <= this.now();
  }

  /** The live job holding (owner, key), if any. */
  keyHolder(owner: string | null, key: string | null): ModelJob | undefined {
    if (key === null) return undefined;
    return this.jobs.find((job) => this.live(job) && job.owner === owner && job.key === key);
  }

  add(id: string, owner: string | null, key: string | null): ModelJob {
    const job: ModelJob = {
      id,
      owner,
      key,
      stored: true,
      status: 'queued',
      attempt: 0,
      cancelRequested: false,
      token: null,
      staleTokens: [],
      runAt: this.now(),
      leaseExpiresAt: null,
      expiresAt: null,
      dispatchedAt: null,
      cleanup: false,
    };
    this.jobs.push(job);
    return job;
  }

  claimable(job: ModelJob): boolean {
    const now = this.now();
    if (!this.live(job)) return false;
    if (job.status === 'queued') return job.runAt <= now;
    return job.status === 'running' && job.leaseExpiresAt !== null && job.leaseExpiresAt <= now;
  }

  claim(job: ModelJob, token: string, leaseMs: number): void {
    if (job.token) job.staleTokens.push(job.token);
    job.status = 'running';
    job.attempt += 1;
    job.token = token;
    job.leaseExpiresAt = this.now() + leaseMs;
    job.dispatchedAt = null;
  }

  /** Whether `token` holds the job (heartbeat and settle accept it). */
  holds(job: ModelJob | null, token: string): job is ModelJob {
    return !!job && this.live(job) && job.status === 'running' && job.token === token;
  }

  settle(job: ModelJob, kind: SettleKind, outcome: SettleOutcome): void {
    const now = this.now();
    job.staleTokens.push(job.token!);
    job.token = null;
    job.leaseExpiresAt = null;
    if (outcome.status === 'queued') {
      job.status = 'queued';
      job.runAt = now + outcome.delayMs;
      job.dispatchedAt = null;
      if (outcome.refundAttempt) job.attempt = Math.max(0, job.attempt - 1);
    } else {
      job.status = outcome.status;
      job.expiresAt = now + outcome.retentionMs;
      job.cleanup = kind === 'succeededCleanup';
    }
  }

  cancel(job: ModelJob, retentionMs: number): void {
    if (job.status === 'queued') {
      job.status = 'canceled';
      job.expiresAt = this.now() + retentionMs;
    } else if (job.status === 'running') {
      job.cancelRequested = true;
    }
  }

  removable(job: ModelJob | null): job is ModelJob {
    return this.live(job) && isFinalStatus(job.status);
  }

  /** Removes a job (by remove or deleteExpired), leaving its pending cleanup. */
  delete(job: ModelJob): void {
    job.stored = false;
    if (job.status === 'succeeded' && job.cleanup) {
      this.cleanups.push({
        id: job.id,
        attempt: 0,
        dueAt: this.now(),
        token: null,
        staleTokens: [],
        leaseExpiresAt: 0,
      });
    }
  }

  /**
   * The jobs `dispatch` may hand out, with their rank: never dispatched (0, earlier runAt first), then running
   * with an expired lease (1), then dispatched long ago (2), these two in any order.
   */
  dispatchable(redispatchAfterMs: number | null): Array<{ id: string; rank: DispatchRank }> {
    const now = this.now();
    const stale = (job: ModelJob) =>
      redispatchAfterMs !== null && job.dispatchedAt !== null && job.dispatchedAt <= now - redispatchAfterMs;
    const kind = (job: ModelJob): number | null => {
      if (!this.live(job)) return null;
      if (job.status === 'queued' && job.runAt <= now) {
        if (job.dispatchedAt === null) return 0;
        return stale(job) ? 2 : null;
      }
      const expired = job.status === 'running' && job.leaseExpiresAt !== null && job.leaseExpiresAt <= now;
      return expired && (job.dispatchedAt === null || stale(job)) ? 1 : null;
    };
    return this.jobs.flatMap((job) => {
      const k = kind(job);
      return k === null ? [] : [{ id: job.id, rank: k === 0 ? [k, job.runAt] : [k] }];
    });
  }

  /** Pending cleanups `claimCleanups` may take, oldest first. */
  claimableCleanups(): ModelCleanup[] {
    const now = this.now();
    return this.cleanups
      .filter((cleanup) => cleanup.dueAt <= now && (cleanup.token === null || cleanup.leaseExpiresAt <= now))
      .sort((a, b) => a.dueAt - b.dueAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  claimCleanup(cleanup: ModelCleanup, token: string, leaseMs: number): void {
    if (cleanup.token) cleanup.staleTokens.push(cleanup.token);
    cleanup.attempt += 1;
    cleanup.token = token;
    cleanup.leaseExpiresAt = this.now() + leaseMs;
  }

  holdsCleanup(cleanup: ModelCleanup | undefined, token: string): cleanup is ModelCleanup {
    return !!cleanup && cleanup.token === token && cleanup.leaseExpiresAt > this.now();
  }

  finishCleanup(cleanup: ModelCleanup, retryAfterMs: number | null): void {
    if (retryAfterMs === null) {
      this.cleanups.splice(this.cleanups.indexOf(cleanup), 1);
    } else {
      cleanup.staleTokens.push(cleanup.token!);
      cleanup.token = null;
      cleanup.dueAt = this.now() + retryAfterMs;
    }
  }
}
