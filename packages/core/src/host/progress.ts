import { unrefTimer } from '../timers.js';
import type { JobProgress } from '../types.js';

/** A progress report or ETA not yet stored. */
export interface ProgressUpdate {
  progress?: JobProgress;
  /** The ETA as milliseconds from now (the repository turns it into a time by its own clock). */
  estimatedRemainingMs?: number;
}

/**
 * Throttles a run's progress reports and ETA: nothing is written before `intervalMs` has passed since the run
 * started or since the previous write, and only the latest report is kept meanwhile. So a quick job never
 * pays a write for its progress: what is still held back when it ends is stored with its result.
 */
export class ProgressReporter {
  readonly #intervalMs: number;
  readonly #startedAt: number;
  readonly #write: (update: ProgressUpdate) => void;
  #pending: ProgressUpdate | null = null;
  #lastWrite: number;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #closed = false;

  constructor(intervalMs: number, write: (update: ProgressUpdate) => void) {
    this.#intervalMs = intervalMs;
    this.#startedAt = Date.now();
    this.#lastWrite = this.#startedAt;
    this.#write = write;
  }

  /** The worker's `ctx.progress(fraction, message)`. */
  report(fraction: number, message: string | undefined): void {
    if (typeof fraction !== 'number' || Number.isNaN(fraction))
      throw new TypeError('progress fraction must be a number from 0 to 1.');
    if (this.#closed) return;
    const clamped = Math.min(1, Math.max(0, fraction));
    const elapsed = Date.now() - this.#startedAt;
    const progress: JobProgress =
      message === undefined ? { fraction: clamped } : { fraction: clamped, message: String(message) };
    this.#hold(
      clamped > 0
        ? { progress, estimatedRemainingMs: Math.round((elapsed * (1 - clamped)) / clamped) }
        : { progress },
    );
  }

  /**
   * The worker's own estimate of the whole run's duration. A run expected to outlast the throttle interval has
   * its ETA stored at once (clients polling it want it from the start); a quicker one's goes with its result.
   */
  estimate(durationMs: number): void {
    if (this.#closed) return;
    this.#hold({ estimatedRemainingMs: Math.max(0, durationMs - (Date.now() - this.#startedAt)) });
    if (durationMs > this.#intervalMs) {
      if (this.#timer) clearTimeout(this.#timer);
      this.#flush();
    }
  }

  /** The update still held back, which the caller stores with the result; nothing is written afterwards. */
  close(): ProgressUpdate | null {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const pending = this.#pending;
    this.#pending = null;
    return pending;
  }

  #hold(update: ProgressUpdate): void {
    this.#pending = { ...this.#pending, ...update };
    if (this.#timer) return;
    this.#timer = setTimeout(
      () => this.#flush(),
      Math.max(0, this.#lastWrite + this.#intervalMs - Date.now()),
    );
    unrefTimer(this.#timer);
  }

  #flush(): void {
    this.#timer = null;
    const pending = this.#pending;
    if (!pending || this.#closed) return;
    this.#pending = null;
    this.#lastWrite = Date.now();
    this.#write(pending);
  }
}

const DURATION_SAMPLES = 20;

/** Rolling mean of the last successful runs' durations per endpoint: the ETA of a run that gives none. */
export class DurationStats {
  readonly #samples = new Map<string, number[]>();

  record(endpoint: string, ms: number): void {
    let samples = this.#samples.get(endpoint);
    if (!samples) {
      samples = [];
      this.#samples.set(endpoint, samples);
    }
    samples.push(ms);
    if (samples.length > DURATION_SAMPLES) samples.shift();
  }

  mean(endpoint: string): number | null {
    const samples = this.#samples.get(endpoint);
    if (!samples || samples.length === 0) return null;
    return Math.round(samples.reduce((sum, value) => sum + value, 0) / samples.length);
  }
}
