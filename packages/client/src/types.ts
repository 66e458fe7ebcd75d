// The public types of an endpoint client: what its methods take and answer.
import type { JobStatus, ScheduleInfo } from '@jobs/core';
import type { JobsHttpError } from './errors.js';
import type { Job } from './wire.js';

/** The shape of an output schema the client needs: any zod schema fits. */
export interface OutputSchema {
  safeParse(value: unknown):
    | { success: true; data: unknown }
    | {
        success: false;
        error: { issues: ReadonlyArray<{ path: PropertyKey[]; message: string; code?: string }> };
      };
}

/** What `client.endpoint()` accepts besides a full endpoint: a name, with an optional output schema. */
export interface EndpointRef {
  name: string;
  output?: OutputSchema;
}

/** A job id, or anything with one (a `Job`). */
export type JobRef = string | { id: string };

export interface RequestOptions {
  signal?: AbortSignal;
}

/**
 * When a submitted job may start, its priority and its unique key: sent as the `Job-Run-At`, `Job-Delay`,
 * `Job-Priority` and `Job-Unique-Key` headers (the fields of a batch item).
 */
export interface ScheduleOptions {
  /** Not started before this time (`Job-Run-At`). */
  runAt?: Date;
  /** Not started before this many milliseconds from now, by the server's clock (`Job-Delay`, in seconds, to the millisecond). Not with `runAt`. */
  delayMs?: number;
  /** An integer from -1000 to 1000: among due jobs of the endpoint, a higher one starts first (`Job-Priority`). Default: the endpoint's. */
  priority?: number;
  /**
   * The job's unique key (`Job-Unique-Key`; 1 to 255 printable ASCII characters, replacing the endpoint's own): while
   * a queued or running job of this endpoint and owner holds it, the server stores nothing and answers that job.
   */
  uniqueKey?: string;
}

export interface SubmitOptions extends RequestOptions, ScheduleOptions {
  /** Sent as `Idempotency-Key: "…"`: a retried submit returns the original job. `true` generates a random key for this call, which also makes the POST safe to retry. */
  idempotencyKey?: string | true;
  /** Seconds the server may hold the request for the job to finish (`Prefer: wait=N`), capped by `maxWaitSeconds`. */
  wait?: number;
}

export interface GetOptions extends RequestOptions {
  /** Seconds the server may hold the request until the job changes (`Prefer: wait=N`), capped by `maxWaitSeconds`. */
  wait?: number;
}

export type WaitMode = 'poll' | 'long-poll';

export interface WaitOptions extends RequestOptions {
  /** Give up after this long with a `JobWaitTimeoutError`. Default: no limit (use `signal` to stop). */
  timeoutMs?: number;
  /** Called with the job whenever a new state is seen (status, progress, ...), the first and the final one included. */
  onProgress?: (job: Job) => void;
  /** `long-poll` (default) asks the server to hold each request (`Prefer: wait=N`) and sleeps `Retry-After` only when the server does not; `poll` sleeps `Retry-After` between plain requests. */
  mode?: WaitMode;
}

export interface RunOptions extends WaitOptions, ScheduleOptions {
  idempotencyKey?: string | true;
  /** DELETE the job once its output is read, as the pattern's last step. Default false. */
  deleteAfter?: boolean;
  /** When `signal` aborts, DELETE the job (cancel it) before rethrowing. Default false. */
  cancelOnAbort?: boolean;
}

/** One job of `submitMany`: its input, and its own key and schedule. */
export interface SubmitManyItem<Input = unknown> extends ScheduleOptions {
  input: Input;
  /** As `submit`'s: the same key and input give back the original job; `true` generates a key. */
  idempotencyKey?: string | true;
}

/** What `submitMany` answers for one item: its job, or why the server refused that item alone. */
export type SubmitManyResult =
  | {
      ok: true;
      job: Job;
      /** true when the item's idempotency key gave back an existing job (nothing new was stored). */
      replayed: boolean;
      /** true when the job holding the item's unique key was given back (nothing new was stored). */
      uniqueMatch: boolean;
    }
  | {
      ok: false;
      /** The item's problem (`status`, `problem`, `code`), as a single `submit` of it would have thrown. */
      error: JobsHttpError;
    };

export interface ListOptions extends RequestOptions {
  status?: JobStatus;
  /** Jobs per page (the server allows 1 to 100; its default is 20). */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

export interface JobPage {
  jobs: Job[];
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

export interface EventsOptions extends RequestOptions {
  /** Resume after this event id (sent as `Last-Event-ID`). */
  lastEventId?: string;
}

/** One Server-Sent Event of a job's stream. */
export interface JobEvent {
  /** The SSE event name the server used. */
  type: string;
  /** The event id, null when the server sent none. */
  id: string | null;
  /** The job as of this event. */
  job: Job;
}

/**
 * A recurring schedule of the endpoint, as `schedules()` lists it: `cron` (in `timeZone`) or `everyMs`, what
 * happens to `missed` occurrences, its jobs' `priority`, the last occurrence handled and the next one. Its input
 * is not shown.
 */
export type { ScheduleInfo };

/** `DELETE` outcomes: queued → `canceled`; running → `cancel_requested`; final → `removed`. */
export type CancelOutcome = 'canceled' | 'cancel_requested' | 'removed';

export interface EndpointClient<Input = unknown, Output = unknown> {
  readonly name: string;
  /** Absolute (or, with a relative base, relative) URL of the endpoint. */
  readonly url: string;
  /** URL of a job of this endpoint. */
  jobUrl(job: JobRef): string;
  /** POSTs a job. Answers the job as created (202), or as finished when `wait` was given and it finished in time. */
  submit(input: Input, options?: SubmitOptions): Promise<Job>;
  /**
   * POSTs up to 1000 jobs in one request (`{endpoint}/batch`). Not atomic: each item is stored or refused on its
   * own; the results are in item order. Retried on transient failures only when every item has an idempotency key.
   */
  submitMany(items: readonly SubmitManyItem<Input>[], options?: RequestOptions): Promise<SubmitManyResult[]>;
  get(job: JobRef, options?: GetOptions): Promise<Job>;
  /** Resolves with the job once it is final (succeeded, failed or canceled; it does not throw for those). */
  wait(job: JobRef, options?: WaitOptions): Promise<Job>;
  /** The output of a succeeded job, checked against the endpoint's output schema. */
  output(job: JobRef, options?: RequestOptions): Promise<Output>;
  /** submit + wait + output. Throws `JobFailedClientError` / `JobCanceledError` when the job did not succeed. */
  run(input: Input, options?: RunOptions): Promise<Output>;
  cancel(job: JobRef, options?: RequestOptions): Promise<CancelOutcome>;
  /** Same as `cancel`: DELETE the job. */
  delete(job: JobRef, options?: RequestOptions): Promise<CancelOutcome>;
  /**
   * Runs a failed or canceled job again under the same id (`POST {job}/retry`) and answers it queued. A queued,
   * running or succeeded job is refused with a `JobsHttpError` whose code is `not_retryable` (409).
   */
  retry(job: JobRef, options?: RequestOptions): Promise<Job>;
  list(options?: ListOptions): Promise<JobPage>;
  /** Every page, following `nextCursor`. */
  listPages(options?: ListOptions): AsyncGenerator<JobPage, void, undefined>;
  /** Every job of every page, newest first. */
  listAll(options?: ListOptions): AsyncGenerator<Job, void, undefined>;
  /** The endpoint's recurring schedules (`GET {endpoint}/schedules`), with their last and next occurrences. */
  schedules(options?: RequestOptions): Promise<ScheduleInfo[]>;
  /** The job's Server-Sent Events; ends after the event with a final state. Reconnects (with `Last-Event-ID`) when the stream drops early. */
  events(job: JobRef, options?: EventsOptions): AsyncGenerator<JobEvent, void, undefined>;
}
