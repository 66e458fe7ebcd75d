import type { RunTimeStats } from './repository.js';
import { JOB_STATUSES, type JobStatus } from './types.js';

/** Every status at 0: the counts of an endpoint before its jobs are counted. */
export function zeroCounts(): Record<JobStatus, number> {
  return Object.fromEntries(JOB_STATUSES.map((status) => [status, 0])) as Record<JobStatus, number>;
}

/**
 * Count, nearest-rank percentiles (the smallest value with at least p of the values at or below it, as
 * PostgreSQL's `percentile_disc`) and maximum of run times; null for none. For repositories that compute them
 * in JavaScript, so that every store answers the same.
 */
export function runTimeStats(durations: readonly number[]): RunTimeStats | null {
  if (durations.length === 0) return null;
  const sorted = [...durations].sort((a, b) => a - b);
  const rank = (p: number) => sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!;
  return { count: sorted.length, p50: rank(0.5), p90: rank(0.9), p99: rank(0.99), max: sorted.at(-1)! };
}
