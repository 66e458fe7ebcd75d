import type { JobHeader, JobProgress, JobStatus, ProblemDetails } from '@jobs/core';
import { withProblemTypeBase } from './problems.js';

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
  /** A queued job is not started before this time (a delayed job, a retry's backoff). */
  runAt: string;
  /** -1000 to 1000: among due jobs of the endpoint, a higher priority runs first. */
  priority: number;
  attempt: number;
  maxAttempts: number;
  progress: JobProgress | null;
  error: JobError | null;
  cancelRequested: boolean;
  /** The output URL, only when the job succeeded (for clients that do not follow the `303`). */
  resourceLocation?: string;
  links: JobLinks;
}

/**
 * Why a job failed or was canceled: its problem details, plus `message` (the detail, else the title), which
 * clients of Azure-style status monitors read with `code` (`@azure/core-lro` reports `code. message`).
 */
export type JobError = ProblemDetails & { message: string };

export interface RepresentationOptions {
  /** Base of the problem `type` URIs (createJobsApp's `problemTypeBase`); default `@jobs/core`'s. */
  problemTypeBase?: string;
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

export function toRepresentation(
  basePath: string,
  job: JobHeader,
  options: RepresentationOptions = {},
): JobRepresentation {
  const links = jobLinks(basePath, job);
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
    runAt: job.runAt.toISOString(),
    priority: job.priority,
    attempt: job.attempt,
    maxAttempts: job.maxAttempts,
    progress: job.progress
      ? {
          fraction: job.progress.fraction,
          ...(job.progress.message === undefined ? {} : { message: job.progress.message }),
        }
      : null,
    error: job.error ? jobError(job.error, options.problemTypeBase) : null,
    cancelRequested: job.cancelRequested,
    ...(links.output === undefined ? {} : { resourceLocation: links.output }),
    links,
  };
}

function jobError(problem: ProblemDetails, problemTypeBase: string | undefined): JobError {
  const rebased = withProblemTypeBase(problem, problemTypeBase);
  return { ...rebased, message: problem.detail ?? problem.title };
}

function iso(date: Date | null): string | null {
  return date ? date.toISOString() : null;
}

/**
 * The entity tag of a job's state, `"<updatedAt in epoch ms>-<fingerprint>"` (a strong validator: the same
 * state gives the same JSON). `updatedAt` changes with every announced change, and the fingerprint of the
 * state tells apart two changes within the same millisecond, which `updatedAt` alone cannot.
 */
export function jobETag(job: JobHeader): string {
  return `"${job.updatedAt.getTime()}-${fingerprint(stateText(job))}"`;
}

/** Every field of the job's state that the representation shows, as one string. */
function stateText(job: JobHeader): string {
  const time = (date: Date | null) => (date ? date.getTime() : null);
  return JSON.stringify([
    job.id,
    job.status,
    job.createdAt.getTime(),
    time(job.startedAt),
    time(job.finishedAt),
    time(job.expiresAt),
    time(job.estimatedCompletionAt),
    job.runAt.getTime(),
    job.priority,
    job.attempt,
    job.maxAttempts,
    job.progress ? [job.progress.fraction, job.progress.message ?? null] : null,
    job.error,
    job.cancelRequested,
  ]);
}

/** A 53-bit hash of `text` in base 36 (two multiplicative 32-bit lanes; not cryptographic, not needed). */
function fingerprint(text: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ code, 2654435761);
    h2 = Math.imul(h2 ^ code, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
}
