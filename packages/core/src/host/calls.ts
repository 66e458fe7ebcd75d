import { allOk, Batcher } from '../batcher.js';
import { UnavailableError } from '../errors.js';
import { describeError, jobLogFields, type Logger } from '../logger.js';
import type { ClaimRequest, JobRepository, SettleOutcome, SettleRequest } from '../repository.js';
import { sleep } from '../timers.js';
import type { JobRecord } from '../types.js';
import { invalidOutput } from './execute.js';

export interface RepositoryCallsOptions {
  repository: JobRepository;
  /** How long a claim holds a job: claims and results are retried for up to this long. */
  leaseMs: number;
  maxBatch: number;
  logger: Logger;
  /** Whether the host still takes work (a claim is not retried once it stops). */
  running: () => boolean;
}

/**
 * A host's claims and results: each goes to the repository in one call with those of concurrent runs, and is
 * retried while the repository is unreachable, for up to a lease.
 */
export class RepositoryCalls {
  readonly #leaseMs: number;
  readonly #logger: Logger;
  readonly #running: () => boolean;
  readonly #claims: Batcher<ClaimRequest, JobRecord | null>;
  readonly #settles: Batcher<SettleRequest, boolean>;

  constructor(options: RepositoryCallsOptions) {
    const { repository, maxBatch } = options;
    this.#leaseMs = options.leaseMs;
    this.#logger = options.logger;
    this.#running = options.running;
    this.#claims = new Batcher(async (requests) => allOk(await repository.claim(requests)), { maxBatch });
    this.#settles = new Batcher((requests) => repository.settle(requests), { maxBatch });
  }

  /**
   * Claims, retrying while the repository is unreachable (for up to a lease), so a short outage does not burn
   * the message's deliveries and send it to the dead letters while the job waits behind a backlog.
   */
  async claim(request: ClaimRequest): Promise<JobRecord | null> {
    const giveUpAt = Date.now() + this.#leaseMs;
    for (let delay = 200; ; delay = Math.min(delay * 2, 5_000)) {
      try {
        return await this.#claims.add(request);
      } catch (error) {
        const retry = error instanceof UnavailableError && this.#running() && Date.now() + delay <= giveUpAt;
        if (!retry) throw error;
        await sleep(delay);
      }
    }
  }

  /** Records the outcome; retries while the repository is unreachable, up to the lease's end. */
  async settle(job: JobRecord, leaseToken: string, outcome: SettleOutcome): Promise<boolean> {
    const giveUpAt = Date.now() + this.#leaseMs;
    for (let delay = 100; ; delay = Math.min(delay * 2, 5_000)) {
      try {
        const recorded = await this.#settles.add({ id: job.id, leaseToken, outcome });
        if (!recorded) this.#logger.warn(jobLogFields(job), 'result refused: the lease is no longer held');
        return recorded;
      } catch (error) {
        if (!(error instanceof UnavailableError)) return this.#settleRefused(job, leaseToken, outcome, error);
        if (Date.now() + delay > giveUpAt) {
          this.#logger.error(
            { ...jobLogFields(job), error: describeError(error) },
            'could not record the result; the job will run again after its lease',
          );
          return false;
        }
        await sleep(delay);
      }
    }
  }

  /** The store refused the outcome itself (e.g. an output it cannot hold): fail the job, saying why. */
  async #settleRefused(
    job: JobRecord,
    leaseToken: string,
    outcome: SettleOutcome,
    error: unknown,
  ): Promise<boolean> {
    this.#logger.error(
      { ...jobLogFields(job), error: describeError(error) },
      'the repository refused the result',
    );
    if (outcome.status !== 'succeeded') return false;
    const failure = invalidOutput(`The output could not be stored: ${describeError(error)}`);
    if (failure.status !== 'failed') return false;
    try {
      return await this.#settles.add({
        id: job.id,
        leaseToken,
        outcome: { status: 'failed', error: failure.error, retentionMs: outcome.retentionMs },
      });
    } catch (fallbackError) {
      this.#logger.warn(
        { ...jobLogFields(job), error: describeError(fallbackError) },
        'could not record the invalid_output failure; the job will run again after its lease',
      );
      return false;
    }
  }

  async release(job: JobRecord, leaseToken: string): Promise<void> {
    await this.settle(job, leaseToken, { status: 'queued', delayMs: 0, error: null, refundAttempt: true });
  }
}
