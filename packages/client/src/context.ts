// What the requests of an endpoint client share: its settings, URLs, the parsing and validation of what
// the server answers, and the two requests the others build on (observe a job, follow its events).
import type { ValidationIssue } from '@jobs/core';
import { JobsProtocolError, OutputValidationError } from './errors.js';
import { jobEvents } from './events.js';
import { observeJob } from './observe.js';
import type { TransportOptions } from './transport.js';
import type { EndpointRef, EventsOptions, JobEvent, JobRef, OutputSchema } from './types.js';
import { isRecord, type Job, parseJob } from './wire.js';

export interface Settings {
  transport: TransportOptions;
  maxWaitSeconds: number;
  pollIntervalMs: number;
}

/** One answer to a GET of a job. */
export interface Observation {
  job: Job;
  /** The server answered 304: the job is still in the state of the job the request named. */
  notModified: boolean;
  retryAfterSeconds: number | null;
  appliedWaitSeconds: number | null;
}

export interface EndpointContext {
  readonly name: string;
  /** The endpoint's URL (`${baseUrl}/${name}`). */
  readonly url: string;
  readonly settings: Settings;
  /** URL of a job of this endpoint. */
  jobUrl(job: JobRef): string;
  /** A job representation from the server; `jobUrl` fills in links it lacks; a `JobsProtocolError` if it is none. */
  parseJob(body: unknown, jobUrl: string, base: string): Job;
  /** An output checked with the endpoint's output schema (as it is without one). */
  validate(output: unknown): unknown;
  /** `wait` (seconds) as sent in `Prefer: wait=N`: whole seconds up to `maxWaitSeconds`, 0 for none. */
  waitSeconds(wait: number | undefined): number;
  /** See `observeJob` in observe.ts. */
  observe(
    jobUrl: string,
    wait: number,
    signal: AbortSignal | undefined,
    known: Job | null,
  ): Promise<Observation>;
  /** See `jobEvents` in events.ts. */
  events(jobUrl: string, options: EventsOptions): AsyncGenerator<JobEvent, void, undefined>;
}

export function createEndpointContext(settings: Settings, url: string, ref: EndpointRef): EndpointContext {
  const output: OutputSchema | undefined = ref.output;
  const context: EndpointContext = {
    name: ref.name,
    url,
    settings,
    jobUrl(job) {
      const id = typeof job === 'string' ? job : job?.id;
      if (typeof id !== 'string' || id === '') throw new TypeError('A job id is required.');
      return `${url}/${encodeURIComponent(id)}`;
    },
    parseJob(body, jobUrl, base) {
      try {
        const job = parseJob(body, base);
        // Links are the server's; without them, point at the URLs this client uses.
        if (!isRecord(body) || !isRecord(body.links) || typeof body.links.self !== 'string') {
          job.links = { self: jobUrl, events: `${jobUrl}/events` };
          if (job.status === 'succeeded') job.links.output = `${jobUrl}/output`;
        }
        return job;
      } catch (error) {
        throw new JobsProtocolError(jobUrl, `not a job representation (${(error as Error).message})`, {
          cause: error,
        });
      }
    },
    validate(value) {
      if (!output) return value;
      const result = output.safeParse(value);
      if (result.success) return result.data;
      const issues: ValidationIssue[] = result.error.issues.map((issue) => ({
        path: issue.path.map((segment) => (typeof segment === 'number' ? segment : String(segment))),
        message: issue.message,
        ...(issue.code ? { code: issue.code } : {}),
      }));
      throw new OutputValidationError(ref.name, issues, value);
    },
    waitSeconds(wait) {
      if (wait === undefined || !Number.isFinite(wait) || wait < 1) return 0;
      return Math.min(settings.maxWaitSeconds, Math.floor(wait));
    },
    observe: (jobUrl, wait, signal, known) => observeJob(context, jobUrl, wait, signal, known),
    events: (jobUrl, options) => jobEvents(context, jobUrl, options),
  };
  return context;
}
