import { percentiles } from '../stats.js';
import { delay } from '../support.js';
import type { Instance, LatencyResult } from '../types.js';

/** Submits every job with `producers` submits in flight; resolves with the handles, in `seqs` order. */
export async function submitAll(instance: Instance, seqs: readonly number[], producers: number) {
  const handles: string[] = new Array(seqs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(producers, seqs.length) }, async () => {
      while (next < seqs.length) {
        const index = next++;
        handles[index] = await instance.submit(seqs[index]!);
      }
    }),
  );
  return handles;
}

/**
 * Waits until the store holds no pending job, polled every 20 ms (≤ 20 ms added to a run of seconds).
 * Fails when the count has not gone down for `stallTimeoutMs`.
 */
export async function waitUntilDone(instance: Instance, stallTimeoutMs: number): Promise<void> {
  let last = Number.POSITIVE_INFINITY;
  let lastChange = performance.now();
  for (;;) {
    const pending = await instance.pending();
    if (pending === 0) return;
    if (pending < last) {
      last = pending;
      lastChange = performance.now();
    } else if (performance.now() - lastChange > stallTimeoutMs) {
      throw new Error(`No progress for ${stallTimeoutMs} ms with ${pending} jobs pending`);
    }
    await delay(20);
  }
}

export interface ThroughputTiming {
  /** First submit started → last submit resolved. */
  enqueueMs: number;
  /** First submit started → no job pending. */
  totalMs: number;
}

/** The workers are running: submits every job, then waits until none is pending. */
export async function throughputRun(
  instance: Instance,
  seqs: readonly number[],
  producers: number,
  stallTimeoutMs: number,
): Promise<ThroughputTiming> {
  const before = await instance.pending();
  if (before !== 0) throw new Error(`${before} jobs still pending before a throughput run`);
  const started = performance.now();
  await submitAll(instance, seqs, producers);
  const enqueueMs = performance.now() - started;
  await waitUntilDone(instance, stallTimeoutMs);
  return { enqueueMs, totalMs: performance.now() - started };
}

/** One job at a time on an idle system, with a random 5–25 ms pause between jobs (no phase lock with pollers). */
export async function latencyRun(
  instance: Instance,
  seqs: readonly number[],
  starts: ReadonlyMap<number, number>,
): Promise<LatencyResult> {
  const start: number[] = [];
  const complete: number[] = [];
  for (const seq of seqs) {
    await delay(5 + Math.random() * 20);
    const submitted = performance.now();
    const handle = await instance.submit(seq);
    await instance.awaitCompletion(handle);
    const completed = performance.now();
    const workerStart = starts.get(seq);
    if (workerStart === undefined) throw new Error(`job ${seq} completed but its handler never started`);
    start.push(workerStart - submitted);
    complete.push(completed - submitted);
  }
  return { jobs: seqs.length, start: percentiles(start), complete: percentiles(complete) };
}
