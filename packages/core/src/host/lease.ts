import { Batcher } from '../batcher.js';
import { describeError, jobLogFields, type Logger } from '../logger.js';
import type { ChangeNotifier } from '../notifier.js';
import type { HeartbeatRequest, HeartbeatResult, JobRepository } from '../repository.js';
import { unrefTimer } from '../timers.js';
import type { JobChange } from '../types.js';
import type { AbortReason } from './execute.js';
import type { ProgressUpdate } from './progress.js';

/** A job this host runs under a lease. */
export interface LeasedRun {
  readonly id: string;
  readonly endpoint: string;
  readonly leaseToken: string;
  readonly attempt: number;
  /** The job's `updatedAt` (ms) as claimed: a change notification not newer than this is from before the claim. */
  readonly claimedVersion: number;
  /** Local time (ms) at which the last renewal the repository confirmed was sent (the claim's, at first). */
  renewedAt: number;
  abort(reason: AbortReason): void;
}

export interface LeaseKeeperOptions {
  repository: JobRepository;
  notifier: ChangeNotifier;
  leaseMs: number;
  heartbeatIntervalMs: number;
  /** Renewals in one repository call at most. */
  maxBatch: number;
  logger: Logger;
}

const NOTIFICATIONS_DOWN_INTERVAL_MS = 1_000;

interface Tracked {
  run: LeasedRun;
  unwatch: () => void;
}

/**
 * Keeps the leases of a host's runs: renews all of them in one batched call every heartbeat interval, writes
 * their progress through the same batch, and stops a run (lease lost) as soon as its lease may have passed on
 * this host's own clock — when the last confirmed renewal is older than the lease — whatever calls are still in
 * flight, so a hung repository never lets a job run twice at once. Change notifications bring cancel requests
 * and a takeover by another worker without a read.
 */
export class LeaseKeeper {
  readonly #options: LeaseKeeperOptions;
  readonly #runs = new Map<string, Tracked>();
  readonly #heartbeats: Batcher<HeartbeatRequest, HeartbeatResult>;
  #ticker: ReturnType<typeof setInterval> | null = null;
  #expiryTimer: ReturnType<typeof setTimeout> | null = null;
  #expiryAt = Number.POSITIVE_INFINITY;
  #renewing = false;
  #lastRound = 0;

  constructor(options: LeaseKeeperOptions) {
    this.#options = options;
    this.#heartbeats = new Batcher((requests) => options.repository.heartbeat(requests), {
      maxBatch: options.maxBatch,
    });
  }

  start(): void {
    if (this.#ticker) return;
    // Every heartbeat interval; every second while change notifications do not flow, so that a cancel request
    // still reaches the run within about a second.
    const tick = Math.min(this.#options.heartbeatIntervalMs, NOTIFICATIONS_DOWN_INTERVAL_MS);
    this.#ticker = setInterval(() => {
      const due = Date.now() - this.#lastRound >= this.#options.heartbeatIntervalMs;
      if (due || !this.#options.notifier.live) void this.#renewAll();
    }, tick);
    unrefTimer(this.#ticker);
  }

  stop(): void {
    if (this.#ticker) clearInterval(this.#ticker);
    this.#ticker = null;
    if (this.#expiryTimer) clearTimeout(this.#expiryTimer);
    this.#expiryTimer = null;
    this.#expiryAt = Number.POSITIVE_INFINITY;
  }

  add(run: LeasedRun): void {
    const unwatch = this.#options.notifier.watch(run.id, (change) => this.#onChange(run, change));
    this.#runs.set(run.id, { run, unwatch });
    this.#armExpiry(run.renewedAt + this.#options.leaseMs);
  }

  remove(run: LeasedRun): void {
    const tracked = this.#runs.get(run.id);
    if (tracked?.run !== run) return;
    tracked.unwatch();
    this.#runs.delete(run.id);
  }

  /** Stores a progress report or ETA (with a renewal of the lease), batched with other heartbeats. */
  write(run: LeasedRun, update: ProgressUpdate): void {
    void this.#heartbeat(run, update);
  }

  async #renewAll(): Promise<void> {
    // One round at a time: a repository that hangs gets no pile of renewals; the own clock stops the runs.
    if (this.#renewing || this.#runs.size === 0) return;
    this.#renewing = true;
    this.#lastRound = Date.now();
    try {
      await Promise.all([...this.#runs.values()].map(({ run }) => this.#heartbeat(run, {})));
    } finally {
      this.#renewing = false;
    }
  }

  async #heartbeat(run: LeasedRun, update: ProgressUpdate): Promise<void> {
    const sentAt = Date.now();
    try {
      const result = await this.#heartbeats.add({
        id: run.id,
        leaseToken: run.leaseToken,
        leaseMs: this.#options.leaseMs,
        ...update,
      });
      if (!result.held) run.abort('lease_lost');
      else {
        if (sentAt > run.renewedAt) {
          run.renewedAt = sentAt;
          this.#armExpiry(sentAt + this.#options.leaseMs);
        }
        if (result.cancelRequested) run.abort('canceled');
      }
    } catch (error) {
      this.#options.logger.warn({ ...jobLogFields(run), error: describeError(error) }, 'heartbeat failed');
    }
  }

  #onChange(run: LeasedRun, change: JobChange | null): void {
    if (change === null) {
      // Changes may have been missed (a cancel request, a takeover): ask the repository now.
      void this.#heartbeat(run, {});
      return;
    }
    // A notification of a change made before the claim (it may arrive after it) says nothing about this run.
    if (change.updatedAt.getTime() <= run.claimedVersion) return;
    if (change.status !== 'running' || change.attempt !== run.attempt) run.abort('lease_lost');
    else if (change.cancelRequested) run.abort('canceled');
  }

  /** Makes sure a check runs at `at` (or earlier); the check stops every run whose lease may have passed. */
  #armExpiry(at: number): void {
    if (this.#expiryTimer && this.#expiryAt <= at) return;
    if (this.#expiryTimer) clearTimeout(this.#expiryTimer);
    this.#expiryAt = at;
    this.#expiryTimer = setTimeout(() => this.#expire(), Math.max(0, at - Date.now()));
    unrefTimer(this.#expiryTimer);
  }

  #expire(): void {
    this.#expiryTimer = null;
    this.#expiryAt = Number.POSITIVE_INFINITY;
    const now = Date.now();
    let next = Number.POSITIVE_INFINITY;
    for (const { run } of this.#runs.values()) {
      const deadline = run.renewedAt + this.#options.leaseMs;
      if (deadline <= now) run.abort('lease_lost');
      else next = Math.min(next, deadline);
    }
    if (next !== Number.POSITIVE_INFINITY) this.#armExpiry(next);
  }
}
