import type { JobRecord, JobRecordHeader } from '@jobs/core';

const iso = (date: Date | null) => (date === null ? null : date.toISOString());

/** A job as the dashboard's API answers it: its header with the owner, and with input and output when read whole. */
export function jobJson(job: JobRecordHeader | JobRecord): Record<string, unknown> {
  const json: Record<string, unknown> = {
    id: job.id,
    endpoint: job.endpoint,
    status: job.status,
    owner: job.owner,
    priority: job.priority,
    attempt: job.attempt,
    maxAttempts: job.maxAttempts,
    progress: job.progress,
    error: job.error,
    cancelRequested: job.cancelRequested,
    createdAt: iso(job.createdAt),
    updatedAt: iso(job.updatedAt),
    runAt: iso(job.runAt),
    startedAt: iso(job.startedAt),
    finishedAt: iso(job.finishedAt),
    expiresAt: iso(job.expiresAt),
    estimatedCompletionAt: iso(job.estimatedCompletionAt),
  };
  if ('input' in job) {
    json.input = job.input;
    json.output = job.output;
  }
  return json;
}
