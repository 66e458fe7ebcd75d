import type { Endpoint, EndpointInput, EndpointOutput, JobStatus, ValidationIssue } from '@jobs/core';
import {
  JobCanceledError,
  JobFailedClientError,
  JobsClientError,
  JobsHttpError,
  JobsNetworkError,
  JobsProtocolError,
  JobWaitTimeoutError,
  OutputValidationError,
} from './errors.js';
import { EventStreamParser, readEventStream, type ServerSentEvent } from './sse.js';
import {
  type HeadersOption,
  type RequestSpec,
  readJson,
  request,
  sleep,
  type TransportOptions,
} from './transport.js';
import {
  isFinal,
  type Job,
  parseAppliedWait,
  parseJob,
  parseProblem,
  parseRetryAfter,
  structuredFieldString,
} from './wire.js';

export interface JobsClientOptions {
  /** Where the jobs app is mounted, e.g. `https://api.example.com/jobs`. Relative URLs work where `fetch` accepts them (browsers). */
  baseUrl: string | URL;
  /** The fetch to use; default `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** Headers sent with every request, or a function called before every request (e.g. to refresh a token). */
  headers?: HeadersOption;
  /** Longest `Prefer: wait=N` one request asks for while long-polling. Default 30. */
  maxWaitSeconds?: number;
  /** Retries of a transient failure (network error, timeout, 429/502/503/504) of an idempotent request. Default 2. */
  retries?: number;
  /** Time limit of one request, added to the wait a long-poll asks for. Default 30 000. */
  requestTimeoutMs?: number;
  /** A transient failure is retried only when the server's `Retry-After` asks for at most this long. Default 30 000. */
  maxRetryDelayMs?: number;
  /** Poll interval when the server sends no `Retry-After` while polling. Default 1 000. */
  pollIntervalMs?: number;
}

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

export interface SubmitOptions extends RequestOptions {
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

export interface RunOptions extends WaitOptions {
  idempotencyKey?: string | true;
  /** DELETE the job once its output is read, as the pattern's last step. Default false. */
  deleteAfter?: boolean;
  /** When `signal` aborts, DELETE the job (cancel it) before rethrowing. Default false. */
  cancelOnAbort?: boolean;
}

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
  list(options?: ListOptions): Promise<JobPage>;
  /** Every page, following `nextCursor`. */
  listPages(options?: ListOptions): AsyncGenerator<JobPage, void, undefined>;
  /** Every job of every page, newest first. */
  listAll(options?: ListOptions): AsyncGenerator<Job, void, undefined>;
  /** The job's Server-Sent Events; ends after the event with a final state. Reconnects (with `Last-Event-ID`) when the stream drops early. */
  events(job: JobRef, options?: EventsOptions): AsyncGenerator<JobEvent, void, undefined>;
}

export interface JobsClient {
  readonly baseUrl: string;
  endpoint<E extends Endpoint>(endpoint: E): EndpointClient<EndpointInput<E>, EndpointOutput<E>>;
  endpoint(endpoint: string | EndpointRef): EndpointClient<unknown, unknown>;
}

interface Settings {
  transport: TransportOptions;
  maxWaitSeconds: number;
  pollIntervalMs: number;
}

const ACCEPT_JSON = 'application/json, application/problem+json';
const MIN_POLL_MS = 100;
const DEFAULT_RECONNECT_MS = 1000;

export function createJobsClient(options: JobsClientOptions): JobsClient {
  const baseUrl = String(options.baseUrl).replace(/\/+$/, '');
  if (!baseUrl) throw new TypeError('createJobsClient: baseUrl is required.');
  const settings: Settings = {
    transport: {
      fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
      headers: options.headers,
      retries: nonNegativeInteger('retries', options.retries ?? 2),
      requestTimeoutMs: nonNegative('requestTimeoutMs', options.requestTimeoutMs ?? 30_000),
      maxRetryDelayMs: nonNegative('maxRetryDelayMs', options.maxRetryDelayMs ?? 30_000),
    },
    maxWaitSeconds: nonNegativeInteger('maxWaitSeconds', options.maxWaitSeconds ?? 30),
    pollIntervalMs: nonNegative('pollIntervalMs', options.pollIntervalMs ?? 1000),
  };
  return {
    baseUrl,
    endpoint(endpoint: string | EndpointRef) {
      const ref = typeof endpoint === 'string' ? { name: endpoint } : endpoint;
      if (!ref || typeof ref.name !== 'string' || ref.name === '') {
        throw new TypeError('client.endpoint() needs an endpoint or an endpoint name.');
      }
      return new HttpEndpointClient(settings, `${baseUrl}/${encodeURIComponent(ref.name)}`, ref);
    },
  } as JobsClient;
}

interface Submitted {
  jobUrl: string;
  job: Job | null;
  /** Present when the POST was answered with 303 and the output was read by following it. */
  output?: { value: unknown };
}

interface Observation {
  job: Job;
  /** The server answered 304: the job is still in the state of the job the request named. */
  notModified: boolean;
  retryAfterSeconds: number | null;
  appliedWaitSeconds: number | null;
}

class HttpEndpointClient implements EndpointClient<any, any> {
  readonly name: string;
  readonly url: string;
  readonly #settings: Settings;
  readonly #output: OutputSchema | undefined;

  constructor(settings: Settings, url: string, ref: EndpointRef) {
    this.#settings = settings;
    this.url = url;
    this.name = ref.name;
    this.#output = ref.output;
  }

  jobUrl(job: JobRef): string {
    const id = typeof job === 'string' ? job : job?.id;
    if (typeof id !== 'string' || id === '') throw new TypeError('A job id is required.');
    return `${this.url}/${encodeURIComponent(id)}`;
  }

  async submit(input: unknown, options: SubmitOptions = {}): Promise<Job> {
    const submitted = await this.#post(input, options);
    return submitted.job ?? (await this.#observe(submitted.jobUrl, 0, options.signal, null)).job;
  }

  async get(job: JobRef, options: GetOptions = {}): Promise<Job> {
    const url = this.jobUrl(job);
    return (await this.#observe(url, this.#waitSeconds(options.wait), options.signal, knownJob(job))).job;
  }

  wait(job: JobRef, options: WaitOptions = {}): Promise<Job> {
    return this.#wait(this.jobUrl(job), null, options);
  }

  output(job: JobRef, options: RequestOptions = {}): Promise<unknown> {
    return this.#readOutput(this.jobUrl(job), options.signal);
  }

  async run(input: unknown, options: RunOptions = {}): Promise<unknown> {
    const { signal, timeoutMs = Number.POSITIVE_INFINITY } = options;
    const deadline = Date.now() + timeoutMs;
    // Let the POST itself wait for the job (one round trip for a fast job), unless the caller needs the job
    // at once: to report its progress, or to cancel it on abort.
    const holdPost =
      (options.mode ?? 'long-poll') === 'long-poll' && !options.onProgress && !options.cancelOnAbort;
    const submitted = await this.#post(input, {
      idempotencyKey: options.idempotencyKey,
      wait: holdPost ? Math.min(this.#settings.maxWaitSeconds, Math.floor(timeoutMs / 1000)) : 0,
      signal,
    });
    try {
      let output: unknown;
      if (submitted.output) {
        output = this.#validate(submitted.output.value);
      } else {
        const job = await this.#wait(submitted.jobUrl, submitted.job, {
          ...options,
          timeoutMs: Math.max(0, deadline - Date.now()),
        });
        if (job.status === 'failed') throw new JobFailedClientError(job);
        if (job.status === 'canceled') throw new JobCanceledError(job);
        output = await this.#readOutput(submitted.jobUrl, signal);
      }
      if (options.deleteAfter) await this.#delete(submitted.jobUrl, signal);
      return output;
    } catch (error) {
      if (options.cancelOnAbort && signal?.aborted) {
        // Best effort, without the aborted signal: the caller gave up, so should the server.
        await this.#delete(submitted.jobUrl, undefined).catch(() => {});
      }
      throw error;
    }
  }

  cancel(job: JobRef, options: RequestOptions = {}): Promise<CancelOutcome> {
    return this.#delete(this.jobUrl(job), options.signal);
  }

  delete(job: JobRef, options: RequestOptions = {}): Promise<CancelOutcome> {
    return this.cancel(job, options);
  }

  async list(options: ListOptions = {}): Promise<JobPage> {
    const query = new URLSearchParams();
    if (options.status !== undefined) query.set('status', options.status);
    if (options.limit !== undefined) query.set('limit', String(options.limit));
    if (options.cursor !== undefined) query.set('cursor', options.cursor);
    const search = query.toString();
    const url = search ? `${this.url}?${search}` : this.url;
    return request(
      this.#settings.transport,
      { method: 'GET', url, headers: { accept: ACCEPT_JSON }, idempotent: true, signal: options.signal },
      async (response) => {
        const body = await readJson(response, url);
        const jobs = isRecord(body) ? body.jobs : undefined;
        const nextCursor = isRecord(body) ? body.nextCursor : undefined;
        if (!Array.isArray(jobs) || (nextCursor != null && typeof nextCursor !== 'string')) {
          throw new JobsProtocolError(url, 'expected { jobs: [...], nextCursor } as the list answer');
        }
        const base = response.url || url;
        return {
          jobs: jobs.map((job) => {
            const jobUrl = isRecord(job) && typeof job.id === 'string' ? this.jobUrl(job.id) : url;
            return this.#parseJob(job, jobUrl, base);
          }),
          nextCursor: nextCursor ?? null,
        };
      },
    );
  }

  async *listPages(options: ListOptions = {}): AsyncGenerator<JobPage, void, undefined> {
    let cursor = options.cursor;
    for (;;) {
      const page = await this.list({ ...options, cursor });
      yield page;
      if (page.nextCursor === null) return;
      cursor = page.nextCursor;
    }
  }

  async *listAll(options: ListOptions = {}): AsyncGenerator<Job, void, undefined> {
    for await (const page of this.listPages(options)) yield* page.jobs;
  }

  events(job: JobRef, options: EventsOptions = {}): AsyncGenerator<JobEvent, void, undefined> {
    return this.#events(this.jobUrl(job), options);
  }

  // --- internals: everything below works on job URLs ---

  async #post(
    input: unknown,
    options: {
      idempotencyKey?: string | true | undefined;
      wait?: number | undefined;
      signal?: AbortSignal | undefined;
    },
  ): Promise<Submitted> {
    const key = options.idempotencyKey === true ? randomKey() : options.idempotencyKey;
    const wait = this.#waitSeconds(options.wait);
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: ACCEPT_JSON };
    if (key !== undefined) headers['idempotency-key'] = structuredFieldString(key);
    if (wait > 0) headers.prefer = `wait=${wait}`;
    const spec: RequestSpec = {
      method: 'POST',
      url: this.url,
      headers,
      body: JSON.stringify(input ?? null),
      idempotent: key !== undefined,
      // Follow the 303 to the output: a browser hides a manual redirect's Location, and a POST cannot be replayed.
      redirect: 'follow',
      signal: options.signal,
      extraTimeoutMs: wait * 1000,
    };
    return request(this.#settings.transport, spec, async (response) => {
      const followedTo = response.redirected ? jobUrlOfOutput(response.url) : null;
      if (followedTo) {
        // The fetch followed a 303 to the output: the job succeeded, and its URL is the output URL's parent.
        return { jobUrl: followedTo, job: null, output: { value: await readJson(response, response.url) } };
      }
      if (response.status === 303) {
        // A fetch that does not follow redirects (e.g. an in-process app): Location is the output.
        const location = response.headers.get('location');
        const jobUrl = location ? jobUrlOfOutput(new URL(location, response.url || this.url).href) : null;
        if (!jobUrl)
          throw new JobsProtocolError(this.url, `303 to ${JSON.stringify(location)}, not to an output`);
        // The contract puts the finished job in the 303's body; without it, the caller GETs the job.
        const job = await readJson(response, jobUrl)
          .then((body) => withETag(this.#parseJob(body, jobUrl, response.url || jobUrl), response))
          .catch(() => null);
        return { jobUrl, job };
      }
      if (response.type === 'opaqueredirect' || response.status >= 300) {
        throw new JobsProtocolError(this.url, `unexpected ${response.status} answer to a submit`);
      }
      const body = await readJson(response, this.url);
      const id = isRecord(body) && typeof body.id === 'string' ? body.id : '';
      const jobUrl = this.jobUrl(id);
      return { jobUrl, job: withETag(this.#parseJob(body, jobUrl, response.url || jobUrl), response) };
    });
  }

  /**
   * One GET of the job, long-polling for `wait` seconds when > 0. With a `known` state that has an ETag, the
   * GET is conditional (`If-None-Match`): the server answers as soon as the job is in another state, or 304
   * (`notModified`, the known job is returned) when it is still in that one.
   */
  async #observe(
    jobUrl: string,
    wait: number,
    signal: AbortSignal | undefined,
    known: Job | null,
  ): Promise<Observation> {
    const headers: Record<string, string> = { accept: ACCEPT_JSON };
    if (wait > 0) headers.prefer = `wait=${wait}`;
    if (known?.etag) headers['if-none-match'] = known.etag;
    const spec: RequestSpec = {
      method: 'GET',
      url: jobUrl,
      headers,
      idempotent: true,
      // Read the 303's body (the job) instead of following it to the output.
      redirect: 'manual',
      signal,
      extraTimeoutMs: wait * 1000,
    };
    const observation = await request(this.#settings.transport, spec, async (response) => {
      if (response.type === 'opaqueredirect') return null;
      const retryAfterSeconds = parseRetryAfter(response.headers.get('retry-after'));
      const appliedWaitSeconds = parseAppliedWait(response.headers.get('preference-applied'));
      if (response.status === 304) {
        await response.body?.cancel().catch(() => {});
        if (!known) throw new JobsProtocolError(jobUrl, '304 Not Modified to an unconditional request');
        return { job: known, notModified: true, retryAfterSeconds, appliedWaitSeconds };
      }
      const body = await readJson(response, jobUrl);
      const job = withETag(this.#parseJob(body, jobUrl, response.url || jobUrl), response);
      return { job, notModified: false, retryAfterSeconds, appliedWaitSeconds };
    });
    if (observation) return observation;
    // A browser turned the 303 (the job succeeded) into an opaque redirect and hid the body: the job's event
    // stream starts with its current state.
    for await (const event of this.#events(jobUrl, { signal })) {
      return { job: event.job, notModified: false, retryAfterSeconds: null, appliedWaitSeconds: null };
    }
    throw new JobsProtocolError(jobUrl, 'the event stream ended without an event');
  }

  /**
   * Observes the job until it is final. In long-poll mode the first request is a plain GET (so the current
   * state is reported at once), every later one asks the server to hold it; when the server does not say it
   * honoured the wait (`Preference-Applied`), the client sleeps `Retry-After` between requests, as in poll mode.
   * Every request after the first names the last state seen (`If-None-Match` with its ETag), so the server
   * answers at once when the job changed between two requests, and 304 while it did not.
   */
  async #wait(jobUrl: string, known: Job | null, options: WaitOptions): Promise<Job> {
    const { signal, onProgress, timeoutMs = Number.POSITIVE_INFINITY } = options;
    const longPoll = (options.mode ?? 'long-poll') === 'long-poll';
    const deadline = Date.now() + timeoutMs;
    let last: Job | null = null;
    let observation: Observation | null = known
      ? { job: known, notModified: false, retryAfterSeconds: null, appliedWaitSeconds: null }
      : null;
    let longPolled = false;
    for (;;) {
      signal?.throwIfAborted();
      if (!observation) {
        const remainingSeconds = Math.floor((deadline - Date.now()) / 1000);
        const wait =
          longPoll && last ? Math.max(0, Math.min(this.#settings.maxWaitSeconds, remainingSeconds)) : 0;
        observation = await this.#observe(jobUrl, wait, signal, last);
        longPolled = wait > 0;
      }
      const { job } = observation;
      if (!observation.notModified && isNewState(last, job)) onProgress?.(job);
      last = job;
      if (isFinal(job.status)) return job;
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new JobWaitTimeoutError(job, timeoutMs);
      // Long-polling goes on at once after a plain GET and after a wait the server honoured.
      const sleepNow = !longPoll || (longPolled && (observation.appliedWaitSeconds ?? 0) === 0);
      if (sleepNow) {
        const delay =
          observation.retryAfterSeconds === null
            ? this.#settings.pollIntervalMs
            : observation.retryAfterSeconds * 1000;
        await sleep(Math.min(remaining, Math.max(MIN_POLL_MS, delay)), signal);
      }
      observation = null;
      longPolled = false;
    }
  }

  async #readOutput(jobUrl: string, signal: AbortSignal | undefined): Promise<unknown> {
    const url = `${jobUrl}/output`;
    const value = await request(
      this.#settings.transport,
      { method: 'GET', url, headers: { accept: ACCEPT_JSON }, idempotent: true, signal },
      (response) => readJson(response, url),
    );
    return this.#validate(value);
  }

  async #delete(jobUrl: string, signal: AbortSignal | undefined): Promise<CancelOutcome> {
    const spec: RequestSpec = {
      method: 'DELETE',
      url: jobUrl,
      headers: { accept: ACCEPT_JSON },
      idempotent: true,
      signal,
    };
    return request(this.#settings.transport, spec, async (response) => {
      await response.body?.cancel().catch(() => {});
      if (response.status === 200) return 'canceled';
      if (response.status === 202) return 'cancel_requested';
      if (response.status === 204) return 'removed';
      throw new JobsProtocolError(jobUrl, `unexpected ${response.status} answer to DELETE`);
    });
  }

  async *#events(jobUrl: string, options: EventsOptions): AsyncGenerator<JobEvent, void, undefined> {
    const { signal } = options;
    const url = `${jobUrl}/events`;
    const transport = this.#settings.transport;
    const parser = new EventStreamParser();
    parser.lastEventId = options.lastEventId ?? '';
    let failures = 0;
    for (;;) {
      const headers: Record<string, string> = { accept: 'text/event-stream', 'cache-control': 'no-cache' };
      if (parser.lastEventId) headers['last-event-id'] = parser.lastEventId;
      const spec: RequestSpec = { method: 'GET', url, headers, idempotent: true, signal, streaming: true };
      const stream = await request(transport, spec, async (response, release) => {
        if (response.status === 204) {
          // The server has nothing after Last-Event-ID: the job is final.
          release();
          return null;
        }
        const type = response.headers.get('content-type') ?? '';
        if (!response.body || !/^text\/event-stream\b/i.test(type)) {
          release();
          throw new JobsProtocolError(url, `expected text/event-stream, got ${JSON.stringify(type)}`);
        }
        return { body: response.body, release };
      });
      if (!stream) {
        const { job } = await this.#observe(jobUrl, 0, signal, null);
        yield { type: 'status', id: parser.lastEventId || null, job };
        if (isFinal(job.status)) return;
        throw new JobsProtocolError(url, `the stream ended while the job is ${job.status}`);
      }
      let dropped: unknown = null;
      try {
        for await (const event of readEventStream(stream.body, parser)) {
          const job = this.#eventJob(event, jobUrl, url);
          if (!job) continue;
          failures = 0;
          yield { type: event.event, id: event.id === '' ? null : event.id, job };
          if (isFinal(job.status)) return;
        }
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        if (error instanceof JobsClientError && !isUnavailable(error)) throw error;
        dropped = error;
      } finally {
        stream.release();
      }
      // The stream ended (or broke) before a final state: reconnect like an EventSource would.
      failures++;
      if (failures > transport.retries) {
        if (dropped instanceof JobsClientError) throw dropped;
        if (dropped) throw new JobsNetworkError({ method: 'GET', url, cause: dropped });
        throw new JobsProtocolError(url, 'the event stream keeps ending before the job is final');
      }
      await sleep(parser.reconnectionMs ?? DEFAULT_RECONNECT_MS, signal);
      signal?.throwIfAborted();
    }
  }

  /**
   * The job an event carries (its data is the job representation). An `error` event carries a problem and
   * throws it as a `JobsHttpError`; events of other shapes are skipped.
   */
  #eventJob(event: ServerSentEvent, jobUrl: string, url: string): Job | null {
    let data: unknown;
    try {
      data = JSON.parse(event.data);
    } catch {
      return null;
    }
    if (event.event === 'error') {
      const problem = parseProblem(data);
      if (!problem) return null;
      const status = typeof problem.status === 'number' ? problem.status : 500;
      throw new JobsHttpError({ status, problem, retryAfterSeconds: null, method: 'GET', url });
    }
    if (!isRecord(data) || typeof data.status !== 'string' || typeof data.id !== 'string') return null;
    return this.#parseJob(data, jobUrl, url);
  }

  #parseJob(body: unknown, jobUrl: string, base: string): Job {
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
  }

  #validate(value: unknown): unknown {
    if (!this.#output) return value;
    const result = this.#output.safeParse(value);
    if (result.success) return result.data;
    const issues: ValidationIssue[] = result.error.issues.map((issue) => ({
      path: issue.path.map((segment) => (typeof segment === 'number' ? segment : String(segment))),
      message: issue.message,
      ...(issue.code ? { code: issue.code } : {}),
    }));
    throw new OutputValidationError(this.name, issues, value);
  }

  #waitSeconds(wait: number | undefined): number {
    if (wait === undefined || !Number.isFinite(wait) || wait < 1) return 0;
    return Math.min(this.#settings.maxWaitSeconds, Math.floor(wait));
  }
}

/** A job the caller passed that names a state the server tagged: a full `Job` with its ETag. */
function knownJob(job: JobRef): Job | null {
  if (typeof job !== 'object' || job === null) return null;
  const candidate = job as Partial<Job>;
  return typeof candidate.etag === 'string' && typeof candidate.status === 'string' ? (job as Job) : null;
}

/** Records the response's ETag on the job parsed from its body. */
function withETag(job: Job, response: Response): Job {
  const etag = response.headers.get('etag');
  if (etag) job.etag = etag;
  return job;
}

/** Whether `job` is another state than `last` (by ETag when both have one, else by update time and status). */
function isNewState(last: Job | null, job: Job): boolean {
  if (!last) return true;
  if (last.etag && job.etag) return last.etag !== job.etag;
  return last.updatedAt.getTime() !== job.updatedAt.getTime() || last.status !== job.status;
}

/** The job URL of an output URL (`…/{id}/output`), or null when `url` is not one. */
function jobUrlOfOutput(url: string): string | null {
  const match = /^(.*)\/output\/?(?:\?.*)?$/.exec(url);
  return match?.[1] ? match[1] : null;
}

/** A backend outage reported inside an event stream: worth reconnecting. */
function isUnavailable(error: JobsClientError): boolean {
  return error instanceof JobsHttpError && (error.status === 503 || error.code === 'unavailable');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function randomKey(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

function nonNegative(option: string, value: number): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw new TypeError(`createJobsClient: ${option} must be zero or more, got ${value}.`);
  }
  return value;
}

function nonNegativeInteger(option: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) {
    throw new TypeError(`createJobsClient: ${option} must be a non-negative integer, got ${value}.`);
  }
  return value;
}
