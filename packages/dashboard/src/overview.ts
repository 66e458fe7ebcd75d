import type { EndpointStats, JobRepository, JobStatus, RunTimeStats } from '@jobs/core';
import { zeroCounts } from '@jobs/core';

/** The chart's window: the last hour in minutes, the current minute last. */
export const WINDOW_BUCKETS = 60;
export const BUCKET_MS = 60_000;

export interface EndpointOverview {
  endpoint: string;
  description: string | null;
  /** queued and running now; succeeded, failed and canceled within the window. */
  counts: Record<JobStatus, number>;
  /** One entry per minute of the window, oldest first: jobs that finished in it, by status. */
  series: Array<{ succeeded: number; failed: number; canceled: number }>;
  /** Finished jobs per minute over the window. */
  throughputPerMinute: number;
  /** failed / (succeeded + failed) over the window; null when none finished. */
  failureRate: number | null;
  runTime: RunTimeStats | null;
}

export interface Overview {
  since: string;
  bucketMs: number;
  endpoints: EndpointOverview[];
}

/** Every endpoint's numbers over the last hour (the window ends with the current minute). */
export async function overview(
  repository: JobRepository,
  endpoints: ReadonlyArray<{ name: string; description?: string | undefined }>,
  owner: string | null | undefined,
  now: number,
): Promise<Overview> {
  const since = (Math.floor(now / BUCKET_MS) + 1 - WINDOW_BUCKETS) * BUCKET_MS;
  const stats = await repository.stats({
    endpoints: endpoints.map((endpoint) => endpoint.name),
    owner,
    since: new Date(since),
    bucketMs: BUCKET_MS,
  });
  const byName = new Map(stats.map((entry) => [entry.endpoint, entry]));
  return {
    since: new Date(since).toISOString(),
    bucketMs: BUCKET_MS,
    endpoints: endpoints.map((endpoint) => summarize(endpoint, byName.get(endpoint.name), since)),
  };
}

function summarize(
  endpoint: { name: string; description?: string | undefined },
  stats: EndpointStats | undefined,
  since: number,
): EndpointOverview {
  const series = Array.from({ length: WINDOW_BUCKETS }, () => ({ succeeded: 0, failed: 0, canceled: 0 }));
  for (const bucket of stats?.buckets ?? []) {
    const index = Math.round((bucket.start.getTime() - since) / BUCKET_MS);
    const slot = series[index];
    if (!slot) continue;
    slot.succeeded += bucket.succeeded;
    slot.failed += bucket.failed;
    slot.canceled += bucket.canceled;
  }
  const counts = stats?.counts ?? zeroCounts();
  const finished = counts.succeeded + counts.failed + counts.canceled;
  const ran = counts.succeeded + counts.failed;
  return {
    endpoint: endpoint.name,
    description: endpoint.description ?? null,
    counts,
    series,
    throughputPerMinute: finished / WINDOW_BUCKETS,
    failureRate: ran === 0 ? null : counts.failed / ran,
    runTime: stats?.runTime ?? null,
  };
}
