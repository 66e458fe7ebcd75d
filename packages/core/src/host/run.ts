import type { JobRecord } from '../types.js';
import type { AbortReason } from './execute.js';
import type { LeasedRun } from './lease.js';

/**
 * One claimed job running here. Its AbortSignal is made only when the worker asks for it (most short workers
 * never do, and a signal is the costliest object of a run); `aborted` tells the host either way.
 */
export class Run implements LeasedRun {
  reason: AbortReason | null = null;
  /** The worker returned or threw: its signal is no longer aborted (the result is being recorded). */
  finished = false;
  /** Resolves with the abort reason (a DOMException) when the run is aborted. */
  readonly aborted: Promise<DOMException>;
  #controller: AbortController | null = null;
  #abortError: DOMException | null = null;
  #onAbort!: (error: DOMException) => void;

  constructor(
    readonly job: JobRecord,
    readonly leaseToken: string,
    public renewedAt: number,
  ) {
    this.aborted = new Promise((resolve) => {
      this.#onAbort = resolve;
    });
  }

  get id(): string {
    return this.job.id;
  }

  get endpoint(): string {
    return this.job.endpoint;
  }

  get attempt(): number {
    return this.job.attempt;
  }

  get claimedVersion(): number {
    return this.job.updatedAt.getTime();
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#abortError) this.#controller.abort(this.#abortError);
    }
    return this.#controller.signal;
  }

  abort(reason: AbortReason): void {
    if (this.reason || this.finished) return;
    this.reason = reason;
    this.#abortError = new DOMException(
      `Job ${reason}`,
      reason === 'timeout' ? 'TimeoutError' : 'AbortError',
    );
    this.#controller?.abort(this.#abortError);
    this.#onAbort(this.#abortError);
  }
}
