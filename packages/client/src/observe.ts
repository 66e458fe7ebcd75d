// GET of a job: once (maybe long-polling, maybe conditional), and in a loop until the job is final.

import type { EndpointContext, Observation } from './context.js';
import { JobsProtocolError, JobWaitTimeoutError } from './errors.js';
import { type RequestSpec, readJson, request, sleep } from './transport.js';
import type { WaitOptions } from './types.js';
import { ACCEPT_JSON, isFinal, type Job, parseAppliedWait, parseRetryAfter, withETag } from './wire.js';

const MIN_POLL_MS = 100;

/**
 * One GET of the job, long-polling for `wait` seconds when > 0. With a `known` state that has an ETag, the
 * GET is conditional (`If-None-Match`): the server answers as soon as the job is in another state, or 304
 * (`notModified`, the known job is returned) when it is still in that one.
 */
export async function observeJob(
  ep: EndpointContext,
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
  const observation = await request(ep.settings.transport, spec, async (response) => {
    if (response.type === 'opaqueredirect') return null;
    const retryAfterSeconds = parseRetryAfter(response.headers.get('retry-after'));
    const appliedWaitSeconds = parseAppliedWait(response.headers.get('preference-applied'));
    if (response.status === 304) {
      await response.body?.cancel().catch(() => {});
      if (!known) throw new JobsProtocolError(jobUrl, '304 Not Modified to an unconditional request');
      return { job: known, notModified: true, retryAfterSeconds, appliedWaitSeconds };
    }
    const body = await readJson(response, jobUrl);
    const job = withETag(ep.parseJob(body, jobUrl, response.url || jobUrl), response);
    return { job, notModified: false, retryAfterSeconds, appliedWaitSeconds };
  });
  if (observation) return observation;
  // A browser turned the 303 (the job succeeded) into an opaque redirect and hid the body: the job's event
  // stream starts with its current state.
  for await (const event of ep.events(jobUrl, { signal })) {
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
export async function waitUntilFinal(
  ep: EndpointContext,
  jobUrl: string,
  known: Job | null,
  options: WaitOptions,
): Promise<Job> {
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
      const wait = longPoll && last ? Math.max(0, Math.min(ep.settings.maxWaitSeconds, remainingSeconds)) : 0;
      observation = await ep.observe(jobUrl, wait, signal, last);
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
          ? ep.settings.pollIntervalMs
          : observation.retryAfterSeconds * 1000;
      await sleep(Math.min(remaining, Math.max(MIN_POLL_MS, delay)), signal);
    }
    observation = null;
    longPolled = false;
  }
}

/** Whether `job` is another state than `last` (by ETag when both have one, else by update time and status). */
function isNewState(last: Job | null, job: Job): boolean {
  if (!last) return true;
  if (last.etag && job.etag) return last.etag !== job.etag;
  return last.updatedAt.getTime() !== job.updatedAt.getTime() || last.status !== job.status;
}
