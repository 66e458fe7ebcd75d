import { consoleLogger, describeError, type Logger } from './logger.js';
import type { JobRepository, Unsubscribe } from './repository.js';
import { unrefTimer } from './timers.js';
import type { JobChange } from './types.js';

/** What a watcher hears: a change of its job, or null when changes may have been missed (check again). */
export type ChangeCallback = (change: JobChange | null) => void;

const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 5_000;

/**
 * One repository subscription shared by every waiter, worker host and dispatcher of a process: watchers
 * register per job id (or for every change), and a change notification wakes only the watchers of its job.
 * It subscribes on first use and keeps trying while the repository refuses; `live` says whether
 * notifications flow now. When they flow again after a gap, every watcher is called with null.
 */
export class ChangeNotifier {
  readonly #repository: JobRepository;
  readonly #logger: Logger;
  readonly #watchers = new Map<string, Set<ChangeCallback>>();
  readonly #everything = new Set<ChangeCallback>();
  #subscription: Promise<Unsubscribe> | null = null;
  #unsubscribe: Unsubscribe | null = null;
  #live = false;
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  #failures = 0;
  #closed = false;

  constructor(repository: JobRepository, logger: Logger = consoleLogger) {
    this.#repository = repository;
    this.#logger = logger;
  }

  /** Whether change notifications flow now (watchers poll more often while they do not). */
  get live(): boolean {
    return this.#live;
  }

  /** Resolves once notifications flow; rejects when the repository refuses now (a retry is scheduled). */
  ready(): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('The change notifier is closed.'));
    this.#subscription ??= this.#subscribe();
    return this.#subscription.then(() => {});
  }

  /** Calls `callback` on every change of job `id` (and with null after a gap) until the returned function is called. */
  watch(id: string, callback: ChangeCallback): () => void {
    let set = this.#watchers.get(id);
    if (!set) {
      set = new Set();
      this.#watchers.set(id, set);
    }
    set.add(callback);
    return () => {
      set.delete(callback);
      if (set.size === 0 && this.#watchers.get(id) === set) this.#watchers.delete(id);
    };
  }

  /** Calls `callback` on every change of every job (and with null after a gap). */
  watchAll(callback: ChangeCallback): () => void {
    this.#everything.add(callback);
    return () => {
      this.#everything.delete(callback);
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    this.#live = false;
    this.#watchers.clear();
    this.#everything.clear();
    const subscription = this.#subscription;
    this.#subscription = null;
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    // A subscription still being set up is ended once it is (not awaited: it may never come up).
    subscription?.then(
      (unsubscribe) => unsubscribe(),
      () => {},
    );
  }

  async #subscribe(): Promise<Unsubscribe> {
    try {
      const unsubscribe = await this.#repository.subscribe((change) => this.#deliver(change), {
        onLiveChange: (live) => this.#setLive(live),
      });
      if (this.#closed) {
        unsubscribe();
        return unsubscribe;
      }
      this.#unsubscribe = unsubscribe;
      this.#failures = 0;
      this.#setLive(true);
      return unsubscribe;
    } catch (error) {
      this.#subscription = null;
      if (!this.#closed) this.#scheduleRetry(error);
      throw error;
    }
  }

  #scheduleRetry(error: unknown): void {
    if (this.#retryTimer) return;
    this.#failures++;
    if (this.#failures === 1) {
      this.#logger.warn(
        { error: describeError(error) },
        'change notifications unavailable; waiters poll until they are back',
      );
    }
    const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(this.#failures - 1, 10));
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      if (!this.#closed && !this.#subscription) this.ready().catch(() => {});
    }, delay);
    unrefTimer(this.#retryTimer);
  }

  #setLive(live: boolean): void {
    const wasLive = this.#live;
    this.#live = live;
    // Back after a gap: what changed meanwhile was not announced; everyone checks again.
    if (live && !wasLive) this.#deliverToAll(null);
  }

  #deliver(change: JobChange): void {
    const set = this.#watchers.get(change.id);
    if (set) for (const callback of [...set]) this.#call(callback, change);
    for (const callback of this.#everything) this.#call(callback, change);
  }

  #deliverToAll(change: null): void {
    for (const set of [...this.#watchers.values()])
      for (const callback of [...set]) this.#call(callback, change);
    for (const callback of [...this.#everything]) this.#call(callback, change);
  }

  #call(callback: ChangeCallback, change: JobChange | null): void {
    try {
      callback(change);
    } catch (error) {
      this.#logger.error({ error: describeError(error) }, 'a change watcher threw');
    }
  }
}

/** A promise that resolves on the first of: a wake-up, a timeout, an abort. */
export function waitForWake(
  ms: number,
  signal: AbortSignal | undefined,
  arm: (wake: () => void) => () => void,
): Promise<void> {
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
