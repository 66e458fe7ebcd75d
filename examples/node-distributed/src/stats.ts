import type { Endpoint } from '@jobs/core';
import type { Backends } from './backends.js';

export interface EndpointStats {
  queued: number;
  running: number;
  succeeded: number;
  failed: number;
  canceled: number;
  /** Age of the oldest job that is due and still queued: how far behind the workers are. */
  oldestQueuedMs: number | null;
  /** Running jobs whose lease ran out: their worker died or stalled; the sweeper hands them out again. */
  expiredLeases: number;
  /** Messages ready in the endpoint's RabbitMQ queue (null when the broker cannot be asked now). */
  queueDepth: number | null;
}

/**
 * What to watch in a deployment, read from the shared database and broker. One query per call, cheap
 * enough for a scrape every few seconds; in a large table, `oldestQueuedMs` uses the partial index of
 * queued jobs.
 */
export async function readStats(
  backends: Backends,
  endpoints: readonly Endpoint[],
): Promise<Record<string, EndpointStats>> {
  const table = `"${backends.repository.schema}".jobs`; // the schema name was validated by the repository
  const result = await backends.repository.pool.query<{
    endpoint: string;
    status: string;
    count: number;
    oldest_queued_ms: number | null;
    expired_leases: number;
  }>(
    `SELECT endpoint, status, count(*)::int AS count,
            (extract(epoch FROM now() - min(run_at) FILTER (WHERE status = 'queued' AND run_at <= now())) * 1000)::float8
              AS oldest_queued_ms,
            (count(*) FILTER (WHERE status = 'running' AND lease_expires_at <= now()))::int AS expired_leases
     FROM ${table} GROUP BY endpoint, status`,
  );
  const stats: Record<string, EndpointStats> = {};
  await Promise.all(
    endpoints.map(async (endpoint) => {
      stats[endpoint.name] = {
        queued: 0,
        running: 0,
        succeeded: 0,
        failed: 0,
        canceled: 0,
        oldestQueuedMs: null,
        expiredLeases: 0,
        queueDepth: await backends.queue.depth(endpoint.name).catch(() => null),
      };
    }),
  );
  for (const row of result.rows) {
    const entry = stats[row.endpoint];
    if (!entry) continue;
    if (row.status in entry) (entry as unknown as Record<string, number>)[row.status] = row.count;
    if (row.oldest_queued_ms !== null) entry.oldestQueuedMs = Math.max(0, Math.round(row.oldest_queued_ms));
    entry.expiredLeases += row.expired_leases;
  }
  return stats;
}
