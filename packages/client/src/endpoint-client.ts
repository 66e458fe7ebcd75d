// The client of one endpoint: the methods of `EndpointClient`, on the requests of submit.ts, observe.ts
// and events.ts.
import { postBatch } from './batch.js';
import { createEndpointContext, type EndpointContext, type Settings } from './context.js';
import { JobCanceledError, JobFailedClientError, JobsProtocolError } from './errors.js';
import { waitUntilFinal } from './observe.js';
import { postJob } from './submit.js';
import { type RequestSpec, readJson, request } from './transport.js';
import type {
  CancelOutcome,
  EndpointClient,
  EndpointRef,
  EventsOptions,
  GetOptions,
  JobEvent,
  JobPage,
  JobRef,
  ListOptions,
  RequestOptions,
  RunOptions,
  ScheduleInfo,
  SubmitManyItem,
  SubmitManyResult,
  SubmitOptions,
  WaitOptions,
} from './types.js';
import { ACCEPT_JSON, isRecord, type Job, parseSchedule } from './wire.js';

export class HttpEndpointClient implements EndpointClient<any, any> {
  readonly name: string;
  readonly url: string;
  readonly #ep: EndpointContext;

  constructor(settings: Settings, url: string, ref: EndpointRef) {
    this.url = url;
    this.name = ref.name;
    this.#ep = createEndpointContext(settings, url, ref);
  }

  jobUrl(job: JobRef): string {
    return this.#ep.jobUrl(job);
  }

  async submit(input: unknown, options: SubmitOptions = {}): Promise<Job> {
    const submitted = await postJob(this.#ep, input, options);
    return submitted.job ?? (await this.#ep.observe(submitted.jobUrl, 0, options.signal, null)).job;
  }

  submitMany(items: readonly SubmitManyItem[], options: RequestOptions = {}): Promise<SubmitManyResult[]> {
    return postBatch(this.#ep, items, options.signal);
  }

  async get(job: JobRef, options: GetOptions = {}): Promise<Job> {
    const url = this.jobUrl(job);
    const wait = this.#ep.waitSeconds(options.wait);
    return (await this.#ep.observe(url, wait, options.signal, knownJob(job))).job;
  }

  wait(job: JobRef, options: WaitOptions = {}): Promise<Job> {
    return waitUntilFinal(this.#ep, this.jobUrl(job), null, options);
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
    const submitted = await postJob(this.#ep, input, {
      idempotencyKey: options.idempotencyKey,
      runAt: options.runAt,
      delayMs: options.delayMs,
      priority: options.priority,
      uniqueKey: options.uniqueKey,
      wait: holdPost ? Math.min(this.#ep.settings.maxWaitSeconds, Math.floor(timeoutMs / 1000)) : 0,
      signal,
    });
    try {
      let output: unknown;
      if (submitted.output) {
        output = this.#ep.validate(submitted.output.value);
      } else {
        const job = await waitUntilFinal(this.#ep, submitted.jobUrl, submitted.job, {
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

  retry(job: JobRef, options: RequestOptions = {}): Promise<Job> {
    const jobUrl = this.jobUrl(job);
    const url = `${jobUrl}/retry`;
    // Not repeated on a transient failure: a second retry of a job the first one queued answers 409.
    const spec: RequestSpec = {
      method: 'POST',
      url,
      headers: { accept: ACCEPT_JSON },
      idempotent: false,
      signal: options.signal,
    };
    return request(this.#ep.settings.transport, spec, async (response) =>
      this.#ep.parseJob(await readJson(response, url), jobUrl, response.url || url),
    );
  }

  async list(options: ListOptions = {}): Promise<JobPage> {
    const query = new URLSearchParams();
    if (options.status !== undefined) query.set('status', options.status);
    if (options.limit !== undefined) query.set('limit', String(options.limit));
    if (options.cursor !== undefined) query.set('cursor', options.cursor);
    const search = query.toString();
    const url = search ? `${this.url}?${search}` : this.url;
    return request(
      this.#ep.settings.transport,
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
            return this.#ep.parseJob(job, jobUrl, base);
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

  schedules(options: RequestOptions = {}): Promise<ScheduleInfo[]> {
    const url = `${this.url}/schedules`;
    const spec: RequestSpec = {
      method: 'GET',
      url,
      headers: { accept: ACCEPT_JSON },
      idempotent: true,
      signal: options.signal,
    };
    return request(this.#ep.settings.transport, spec, async (response) => {
      const body = await readJson(response, url);
      const schedules = isRecord(body) ? body.schedules : undefined;
      if (!Array.isArray(schedules)) throw new JobsProtocolError(url, 'expected { schedules: [...] }');
      try {
        return schedules.map(parseSchedule);
      } catch (error) {
        throw new JobsProtocolError(url, `not a schedule (${(error as Error).message})`, { cause: error });
      }
    });
  }

  events(job: JobRef, options: EventsOptions = {}): AsyncGenerator<JobEvent, void, undefined> {
    return this.#ep.events(this.jobUrl(job), options);
  }

  // --- internals: everything below works on job URLs ---

  async #readOutput(jobUrl: string, signal: AbortSignal | undefined): Promise<unknown> {
    const url = `${jobUrl}/output`;
    const value = await request(
      this.#ep.settings.transport,
      { method: 'GET', url, headers: { accept: ACCEPT_JSON }, idempotent: true, signal },
      (response) => readJson(response, url),
    );
    return this.#ep.validate(value);
  }

  async #delete(jobUrl: string, signal: AbortSignal | undefined): Promise<CancelOutcome> {
    const spec: RequestSpec = {
      method: 'DELETE',
      url: jobUrl,
      headers: { accept: ACCEPT_JSON },
      idempotent: true,
      signal,
    };
    return request(this.#ep.settings.transport, spec, async (response) => {
      await response.body?.cancel().catch(() => {});
      if (response.status === 200) return 'canceled';
      if (response.status === 202) return 'cancel_requested';
      if (response.status === 204) return 'removed';
      throw new JobsProtocolError(jobUrl, `unexpected ${response.status} answer to DELETE`);
    });
  }
}

/** A job the caller passed that names a state the server tagged: a full `Job` with its ETag. */
function knownJob(job: JobRef): Job | null {
  if (typeof job !== 'object' || job === null) return null;
  const candidate = job as Partial<Job>;
  return typeof candidate.etag === 'string' && typeof candidate.status === 'string' ? (job as Job) : null;
}
