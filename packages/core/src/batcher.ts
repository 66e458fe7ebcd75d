import type { ItemResult } from './repository.js';

export interface BatcherOptions {
  /** Largest batch handed to `run`. */
  maxBatch: number;
  /** Batches `run` may have in flight at once. Default 1. */
  maxInFlight?: number;
}

interface Pending<Item, Result> {
  item: Item;
  resolve(value: Result): void;
  reject(error: unknown): void;
}

/**
 * Group commit: calls made while a batch is in flight are collected and handed to `run` together as soon as
 * it returns. A call made when nothing is in flight goes out at once (on the next microtask, so calls of the
 * same turn share it): a lone call never waits for a batch to fill.
 */
export class Batcher<Item, Result> {
  readonly #run: (items: Item[]) => Promise<ItemResult<Result>[]>;
  readonly #maxBatch: number;
  readonly #maxInFlight: number;
  #pending: Pending<Item, Result>[] = [];
  #inFlight = 0;
  #scheduled = false;

  constructor(run: (items: Item[]) => Promise<ItemResult<Result>[]>, options: BatcherOptions) {
    this.#run = run;
    this.#maxBatch = options.maxBatch;
    this.#maxInFlight = options.maxInFlight ?? 1;
  }

  /** Items waiting for a batch (not yet handed to `run`). */
  get waiting(): number {
    return this.#pending.length;
  }

  add(item: Item): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      this.#pending.push({ item, resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled || this.#inFlight >= this.#maxInFlight || this.#pending.length === 0) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    while (this.#inFlight < this.#maxInFlight && this.#pending.length > 0) {
      const batch = this.#pending.splice(0, this.#maxBatch);
      this.#inFlight++;
      void this.#send(batch).finally(() => {
        this.#inFlight--;
        this.#schedule();
      });
    }
  }

  async #send(batch: Pending<Item, Result>[]): Promise<void> {
    let results: ItemResult<Result>[];
    try {
      results = await this.#run(batch.map((pending) => pending.item));
      if (results.length !== batch.length) {
        throw new Error(`a batch of ${batch.length} items returned ${results.length} results`);
      }
    } catch (error) {
      for (const pending of batch) pending.reject(error);
      return;
    }
    for (let i = 0; i < batch.length; i++) {
      const result = results[i]!;
      if (result.ok) batch[i]!.resolve(result.value);
      else batch[i]!.reject(result.error);
    }
  }
}

/** Wraps plain per-item values as successful item results. */
export function allOk<T>(values: readonly T[]): ItemResult<T>[] {
  return values.map((value) => ({ ok: true, value }));
}
