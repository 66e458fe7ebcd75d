import { Fifo } from './fifo.js';
import { IndexedMinHeap } from './heap.js';
import type { Stored } from './stored.js';

/** An index entry of a first-in first-out list: stale once the job was placed again (slot moved on). */
interface Entry {
  job: Stored;
  slot: number;
}

const isCurrent = (entry: Entry, place: Stored['place']) =>
  entry.slot === entry.job.slot && entry.job.place === place;

/**
 * Where each job waits, so that every transition and every query of the dispatcher and the sweeper costs in
 * proportion to what it touches, not to the number of jobs stored:
 * - `ready`: queued, due and not handed to the queue, first in first out per endpoint and priority;
 * - `waiting`: queued, not due yet (a delayed retry), by runAt;
 * - `dispatched`: queued and handed to the queue, by dispatch time (first in first out: it only grows);
 * - `running`, by lease expiry; `final`, by expiry.
 * First-in first-out lists are cleaned lazily: placing a job again makes its old entry stale.
 */
export class JobIndexes {
  /** endpoint → priority → entries. */
  readonly #ready = new Map<string, Map<number, Fifo<Entry>>>();
  readonly #waiting = new IndexedMinHeap<Stored>();
  readonly #dispatched = new Fifo<Entry>();
  readonly #running = new IndexedMinHeap<Stored>();
  readonly #final = new IndexedMinHeap<Stored>();
  /** endpoint → jobs handed to the queue and not claimed yet. */
  readonly #dispatchedCounts = new Map<string, number>();
  /** Stale entries left in the lists; past a bound the lists are compacted. */
  #stale = 0;
  #listed = 0;

  /** Files the job under its current state (after any change of status, runAt, dispatch, lease or expiry). */
  place(job: Stored, now: number): void {
    this.remove(job);
    if (job.status === 'queued') {
      if (job.dispatchedAt !== null) this.#enter(job, 'dispatched', this.#dispatched);
      else if (job.runAt <= now) {
        // Jobs that became due before this one enter first, so each ready list stays in runAt order.
        this.#promoteDue(job.runAt);
        this.#enterReady(job);
      } else this.#file(job, 'waiting', this.#waiting, job.runAt);
    } else if (job.status === 'running') {
      this.#file(job, 'running', this.#running, job.leaseExpiresAt ?? Number.NEGATIVE_INFINITY);
    } else {
      this.#file(job, 'final', this.#final, job.expiresAt ?? Number.NEGATIVE_INFINITY);
    }
  }

  /** Takes the job out of every index. */
  remove(job: Stored): void {
    if (job.place === 'dispatched') this.#count(job.endpoint, -1);
    if (job.place === 'waiting') this.#waiting.delete(job.id);
    else if (job.place === 'running') this.#running.delete(job.id);
    else if (job.place === 'final') this.#final.delete(job.id);
    else if (job.place === 'ready' || job.place === 'dispatched') this.#stale++;
    job.place = 'none';
    job.slot++;
    if (this.#stale > 1024 && this.#stale * 2 > this.#listed) this.#compact();
  }

  /**
   * Takes up to `limit` due, undispatched jobs of the endpoints `wanted` accepts: highest priority first,
   * then oldest first. They leave the index (a concurrent take cannot see them); `place` files them again.
   */
  takeReady(now: number, limit: number, wanted: (endpoint: string) => boolean): Stored[] {
    this.#promoteDue(now);
    const lists: Array<Fifo<Entry>> = [];
    const priorities: number[] = [];
    for (const [endpoint, byPriority] of this.#ready) {
      if (!wanted(endpoint)) continue;
      for (const [priority, list] of byPriority) {
        lists.push(list);
        priorities.push(priority);
      }
    }
    const taken: Stored[] = [];
    while (taken.length < limit) {
      // The head with the highest priority, then the earliest runAt, among the lists.
      let best = -1;
      let bestJob: Stored | undefined;
      for (let i = 0; i < lists.length; i++) {
        const job = this.#head(lists[i]!)?.job;
        if (!job) continue;
        const better =
          !bestJob ||
          priorities[i]! > priorities[best]! ||
          (priorities[i] === priorities[best] && job.runAt < bestJob.runAt);
        if (better) {
          best = i;
          bestJob = job;
        }
      }
      if (!bestJob) break;
      lists[best]!.shift();
      this.#listed--;
      bestJob.place = 'none';
      bestJob.slot++;
      taken.push(bestJob);
    }
    return taken;
  }

  /**
   * Files again, in front of their ready lists in the order they were taken, due jobs that `takeReady` took and
   * that are still queued, undispatched and not placed elsewhere meanwhile (their publish failed).
   */
  putBack(jobs: readonly Stored[]): void {
    for (let i = jobs.length - 1; i >= 0; i--) {
      const job = jobs[i]!;
      if (job.place !== 'none' || job.status !== 'queued' || job.dispatchedAt !== null) continue;
      if (job.limitKey !== null) {
        job.place = 'limited';
        continue;
      }
      job.place = 'ready';
      this.#readyList(job).unshift({ job, slot: job.slot });
      this.#listed++;
    }
  }

  /** Visits queued jobs handed to the queue at or before `upTo`, oldest dispatch first, while `visit` says true. */
  forEachDispatchedUpTo(upTo: number, visit: (job: Stored) => boolean): void {
    this.#dropStaleHead(this.#dispatched, 'dispatched');
    for (const entry of this.#dispatched.values()) {
      if (!isCurrent(entry, 'dispatched')) continue;
      if (entry.job.dispatchedAt! > upTo || !visit(entry.job)) return;
    }
  }

  /** Visits running jobs whose lease expired at `now`. */
  forEachExpiredLease(now: number, visit: (job: Stored) => void): void {
    this.#running.forEachUpTo(now, visit);
  }

  /** Milliseconds until the next waiting job is due, or null. */
  nextDueIn(now: number): number | null {
    const next = this.#waiting.peek();
    return next ? Math.max(0, next.key - now) : null;
  }

  /** The final job that expires first, if it has expired by `now`. */
  firstExpired(now: number): Stored | undefined {
    const next = this.#final.peek();
    return next && next.key <= now ? next.value : undefined;
  }

  /** Moves waiting jobs due by `upTo` into their ready lists, earliest first. */
  #promoteDue(upTo: number): void {
    for (let next = this.#waiting.peek(); next && next.key <= upTo; next = this.#waiting.peek()) {
      const job = next.value;
      this.#waiting.delete(job.id);
      job.slot++;
      this.#enterReady(job);
    }
  }

  /**
   * A due job enters its ready list; one with a limit key is not listed (only a dispatch with limits takes it, from
   * the store's set of keyed jobs).
   */
  #enterReady(job: Stored): void {
    if (job.limitKey !== null) job.place = 'limited';
    else this.#enter(job, 'ready', this.#readyList(job));
  }

  #head(list: Fifo<Entry>): Entry | undefined {
    this.#dropStaleHead(list, 'ready');
    return list.peek();
  }

  #dropStaleHead(list: Fifo<Entry>, place: 'ready' | 'dispatched'): void {
    while (list.length > 0 && !isCurrent(list.peek()!, place)) {
      list.shift();
      this.#listed--;
      this.#stale--;
    }
  }

  #readyList(job: Stored): Fifo<Entry> {
    let byPriority = this.#ready.get(job.endpoint);
    if (!byPriority) {
      byPriority = new Map();
      this.#ready.set(job.endpoint, byPriority);
    }
    let list = byPriority.get(job.priority);
    if (!list) {
      list = new Fifo();
      byPriority.set(job.priority, list);
    }
    return list;
  }

  /** Jobs of the endpoint handed to the queue and not claimed yet. */
  dispatchedCount(endpoint: string): number {
    return this.#dispatchedCounts.get(endpoint) ?? 0;
  }

  #count(endpoint: string, change: number): void {
    const count = (this.#dispatchedCounts.get(endpoint) ?? 0) + change;
    if (count === 0) this.#dispatchedCounts.delete(endpoint);
    else this.#dispatchedCounts.set(endpoint, count);
  }

  #enter(job: Stored, place: 'ready' | 'dispatched', list: Fifo<Entry>): void {
    if (place === 'dispatched') this.#count(job.endpoint, 1);
    job.place = place;
    list.push({ job, slot: job.slot });
    this.#listed++;
  }

  /** Drops every stale entry (jobs claimed, canceled or deleted while listed). */
  #compact(): void {
    const keep = (list: Fifo<Entry>, place: 'ready' | 'dispatched') => {
      const current = [...list.values()].filter((entry) => isCurrent(entry, place));
      list.clear();
      for (const entry of current) list.push(entry);
      return current.length;
    };
    let listed = keep(this.#dispatched, 'dispatched');
    for (const [endpoint, byPriority] of this.#ready) {
      for (const [priority, list] of byPriority) {
        const left = keep(list, 'ready');
        listed += left;
        if (left === 0) byPriority.delete(priority);
      }
      if (byPriority.size === 0) this.#ready.delete(endpoint);
    }
    this.#listed = listed;
    this.#stale = 0;
  }

  #file(
    job: Stored,
    place: 'waiting' | 'running' | 'final',
    heap: IndexedMinHeap<Stored>,
    key: number,
  ): void {
    job.place = place;
    heap.set(job.id, key, job);
  }
}
