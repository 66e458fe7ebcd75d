import type { JobRepository, Unsubscribe } from './repository.js';

/**
 * One repository subscription shared by every waiter of a process: waiters register per job id, and a
 * change notification wakes only the waiters of that id.
 */
export class ChangeNotifier {
  readonly #repository: JobRepository;
  readonly #waiters = new Map<string, Set<() => void>>();
  #subscription: Promise<Unsubscribe> | null = null;

  constructor(repository: JobRepository) {
    this.#repository = repository;
  }

  /** Resolves once notifications flow; a failure leaves waiters to their polling backstop. */
  async ready(): Promise<void> {
    if (!this.#subscription) {
      this.#subscription = this.#repository.subscribe((id) => this.#notify(id));
      this.#subscription.catch(() => {
        this.#subscription = null;
      });
    }
    await this.#subscription;
  }

  /** Calls `wake` on every change of job `id` until the returned function is called. */
  watch(id: string, wake: () => void): () => void {
    let set = this.#waiters.get(id);
    if (!set) {
      set = new Set();
      this.#waiters.set(id, set);
    }
    set.add(wake);
    return () => {
      set.delete(wake);
      if (set.size === 0 && this.#waiters.get(id) === set) this.#waiters.delete(id);
    };
  }

  async close(): Promise<void> {
    const subscription = this.#subscription;
    this.#subscription = null;
    this.#waiters.clear();
    if (subscription) (await subscription.catch(() => () => {}))();
  }

  #notify(id: string): void {
    const set = this.#waiters.get(id);
    if (!set) return;
    for (const wake of [...set]) wake();
  }
}

/** A promise that resolves on the first of: a wake-up, a timeout, an abort. */
export function waitForWake(
  ms: number,
  signal: AbortSignal | undefined,
  arm: (wake: () => void) => () => void,
) {
  return new Promise<void>((resolve) => {
    const disarm = arm(done);
    const timer = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      disarm();
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}

/** Lets the process exit while the timer is pending: Node and Bun timers have unref(), Deno has Deno.unrefTimer. */
export function unrefTimer(timer: unknown): void {
  if (timer && typeof timer === 'object' && 'unref' in timer && typeof timer.unref === 'function') {
    timer.unref();
    return;
  }
  const deno = (globalThis as { Deno?: { unrefTimer?: (id: number) => void } }).Deno;
  if (typeof timer === 'number' && typeof deno?.unrefTimer === 'function') deno.unrefTimer(timer);
}
