import { NotFoundError } from './errors.js';
import type { JobRecordHeader } from './types.js';

export interface CallerOptions {
  /** The caller's owner key; jobs of another owner are "not found". */
  owner?: string | null | undefined;
}

/** The job, if it exists, belongs to this endpoint and to the caller's owner key; else "not found". */
export function visibleTo<T extends JobRecordHeader>(
  job: T | null,
  endpointName: string,
  owner: string | null | undefined,
): T {
  if (!job || job.endpoint !== endpointName || job.owner !== (owner ?? null)) throw new NotFoundError();
  return job;
}
