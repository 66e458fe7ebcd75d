// Change notifications. Within a process, every repository on the same file shares one channel (a registry by
// file path): a change is announced to all of them as soon as its transaction commits. Across processes, every
// change is also written to the `changes` table in its own transaction; a repository with subscribers checks
// `PRAGMA data_version` (a read of shared memory, no I/O while nothing changed) every `pollMs` and reads the
// changes other processes logged since. A reader that fell behind the pruned log tells its subscribers so
// (`onLiveChange(false)` then `(true)`), and they check what they watch.
import { describeError, type JobChange, type Logger, type SubscribeOptions, unrefTimer } from '@jobs/core';
import type { Database } from './database.js';
import { changeOfLog } from './rows.js';
import { SQL } from './statements.js';

type Listener = (change: JobChange) => void;

/** This process's mark on the changes it logs (its own changes reach its subscribers through the channel). */
export const ORIGIN = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;

/** The listeners of every repository of this process on one file. */
class Channel {
  readonly listeners = new Set<Listener>();
  users = 0;
}

const channels = new Map<string, Channel>();

/** The channel of a file (by its absolute path); `:memory:` databases get one each. */
export function joinChannel(key: string | null): { channel: Channel; leave: () => void } {
  const channel = key === null ? new Channel() : (channels.get(key) ?? new Channel());
  if (key !== null) channels.set(key, channel);
  channel.users++;
  let left = false;
  return {
    channel,
    leave: () => {
      if (left) return;
      left = true;
      channel.users--;
      if (key !== null && channel.users === 0 && channels.get(key) === channel) channels.delete(key);
    },
  };
}

/** Calls every listener later (a listener never runs inside a repository call); a failing one harms no other. */
export function deliver(listeners: Iterable<Listener>, changes: readonly JobChange[]): void {
  if (changes.length === 0) return;
  const targets = [...listeners];
  if (targets.length === 0) return;
  queueMicrotask(() => {
    for (const change of changes) {
      for (const listener of targets) {
        try {
          listener(change);
        } catch {
          // A failing listener must not break the repository or the other listeners.
        }
      }
    }
  });
}

/** Reads the changes other processes logged, for one repository's subscribers. */
export class LogReader {
  readonly #database: () => Database | null;
  readonly #pollMs: number;
  readonly #logger: Logger;
  readonly #subscriptions = new Map<Listener, SubscribeOptions | undefined>();
  #timer: ReturnType<typeof setInterval> | null = null;
  #lastSeq = 0;
  #dataVersion: number | null = null;
  #failing = false;

  constructor(database: () => Database | null, pollMs: number, logger: Logger) {
    this.#database = database;
    this.#pollMs = pollMs;
    this.#logger = logger;
  }

  add(listener: Listener, options: SubscribeOptions | undefined, database: Database): void {
    if (this.#pollMs === 0) return;
    if (this.#timer === null) {
      // Start from now: only changes logged after the first subscription are announced.
      this.#lastSeq = Number(
        database.read('subscribe', () => database.statement(SQL.changeRange).get('changes'))?.last ?? 0,
      );
      this.#dataVersion = null;
      this.#timer = setInterval(() => this.poll(), this.#pollMs);
      unrefTimer(this.#timer);
    }
    this.#subscriptions.set(listener, options);
  }

  remove(listener: Listener): void {
    this.#subscriptions.delete(listener);
    if (this.#subscriptions.size === 0) this.stop();
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    this.#subscriptions.clear();
  }

  /** One check: nothing to do unless another connection committed since the last one. */
  poll(): void {
    const database = this.#database();
    if (database === null || this.#subscriptions.size === 0) return;
    try {
      const version = Number(database.statement(SQL.dataVersion).get()?.data_version);
      if (version === this.#dataVersion) return;
      const range = database.statement(SQL.changeRange).get('changes');
      const first = range?.first === null || range?.first === undefined ? null : Number(range.first);
      const changes: JobChange[] = [];
      if (first !== null && first > this.#lastSeq + 1) this.#gap();
      for (;;) {
        const rows = database.statement(SQL.changesSince).all(this.#lastSeq);
        for (const row of rows) {
          this.#lastSeq = Number(row.seq);
          if (row.origin !== ORIGIN) changes.push(changeOfLog(row));
        }
        if (rows.length < 1000) break;
      }
      this.#dataVersion = version;
      deliver(this.#subscriptions.keys(), changes);
      if (this.#failing) {
        this.#failing = false;
        this.#live(true);
      }
    } catch (error) {
      // Busy or unreadable for now: subscribers fall back to polling until the next check succeeds.
      if (!this.#failing) {
        this.#failing = true;
        this.#logger.warn({ error: describeError(error) }, 'jobs repository: reading the change log failed');
        this.#live(false);
      }
    }
  }

  #gap(): void {
    this.#live(false);
    this.#live(true);
  }

  #live(live: boolean): void {
    for (const options of this.#subscriptions.values()) {
      try {
        options?.onLiveChange?.(live);
      } catch {
        // as for listeners
      }
    }
  }
}
