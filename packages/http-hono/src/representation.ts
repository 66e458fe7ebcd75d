import type { JobHeader, JobProgress, JobStatus, ProblemDetails } from '@jobs/core';

/** The JSON representation of a job. The input is not echoed (responses stay small). */
export interface JobRepresentation {
  id: string;
  endpoint: string;
  status: JobStatus;
  createdAt: string;
  updatedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  expiresAt: string | null;
  estimatedCompletionAt: string | null;
  attempt: number;
  maxAttempts: number;
  progress: JobProgress | null;
  error: ProblemDetails | null;
  cancelRequested: boolean;
  links: JobLinks;
}

export interface JobLinks {
  self: string;
  events: string;
  /** Only when the job succeeded. */
  output?: string;
}

export interface JobListRepresentation {
  jobs: JobRepresentation[];
  nextCursor: string | null;
}

/** Path of a job under the mount, e.g. `/jobs/ping/0b7c…`. */
export function jobPath(basePath: string, endpoint: string, id: string): string {
  return `${basePath}/${encodeURIComponent(endpoint)}/${encodeURIComponent(id)}`;
}

export function jobLinks(basePath: string, job: Pick<JobHeader, 'endpoint' | 'id' | 'status'>): JobLinks {
  const self = jobPath(basePath, job.endpoint, job.id);
  const links: JobLinks = { self, events: `${self}/events` };
  if (job.status === 'succeeded') links.output = `${self}/output`;
  return links;
}

export function toRepresentation(basePath: string, job: JobHeader): JobRepresentation {
  return {
    id: job.id,
    endpoint: job.endpoint,
    status: job.status,
    createdAt: job.createdAt.toISOString(),
    updatedAt: job.updatedAt.toISOString(),
    startedAt: iso(job.startedAt),
    finishedAt: iso(job.finishedAt),
    expiresAt: iso(job.expiresAt),
    estimatedCompletionAt: iso(job.estimatedCompletionAt),
    attempt: job.attempt,
    maxAttempts: job.maxAttempts,
    progress: job.progress
      ? {
          fraction: job.progress.fraction,
          ...(job.progress.message === undefined ? {} : { message: job.progress.message }),
        }
      : null,
    error: job.error,
    cancelRequested: job.cancelRequested,
    links: jobLinks(basePath, job),
  };
}

function iso(date: Date | null): string | null {
  return date ? date.toISOString() : null;
}
