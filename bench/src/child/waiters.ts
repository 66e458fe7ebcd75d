import type { Instance } from '../types.js';

export interface WaitersReport {
  /** Long-polls that returned (timed out, as expected, or answered) during the whole time. */
  returned: number;
  /** Jobs seen in a final status: should be 0, since no worker runs. */
  finished: number;
}

/**
 * One waiter per job: a loop of long-polls (`instance.longPoll`) on a job that stays queued, as a client
 * waiting for its result would do. Runs until `stop()`.
 */
export class Waiters {
  readonly #abort = new AbortController();
  readonly #loops: Promise<void>[];
  readonly #errors: unknown[] = [];
  #returned = 0;
  #finished = 0;

  constructor(instance: Instance, handles: readonly string[], waitSeconds: number) {
    const longPoll = instance.longPoll;
    if (!longPoll) throw new Error('this contender has no long-poll');
    const signal = this.#abort.signal;
    const loop = async (handle: string) => {
      while (!signal.aborted) {
        const status = await longPoll.call(instance, handle, waitSeconds, signal);
        if (signal.aborted) return;
        this.#returned++;
        if (status !== 'queued' && status !== 'running') {
          this.#finished++;
          return;
        }
      }
    };
    this.#loops = handles.map((handle) =>
      loop(handle).catch((error: unknown) => {
        if (!signal.aborted) this.#errors.push(error);
      }),
    );
  }

  /** Long-polls returned so far. */
  get returned(): number {
    return this.#returned;
  }

  async stop(): Promise<WaitersReport> {
    this.#abort.abort();
    await Promise.all(this.#loops);
    if (this.#errors.length > 0)
      throw new AggregateError(
        this.#errors,
        `${this.#errors.length} waiters failed: ${String(this.#errors[0])}`,
      );
    return { returned: this.#returned, finished: this.#finished };
  }
}
