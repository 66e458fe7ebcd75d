// POST of a job, and what its answer says: the job (202, 200), or that it succeeded (303 to its output).
import type { EndpointContext } from './context.js';
import { JobsProtocolError } from './errors.js';
import { type RequestSpec, readJson, request } from './transport.js';
import type { ScheduleOptions } from './types.js';
import { ACCEPT_JSON, isRecord, type Job, structuredFieldString, withETag } from './wire.js';

export interface Submitted {
  jobUrl: string;
  job: Job | null;
  /** Present when the POST was answered with 303 and the output was read by following it. */
  output?: { value: unknown };
}

/** POSTs a job; the `303` of a `Prefer: wait` that the job met is followed to its output. */
export async function postJob(
  ep: EndpointContext,
  input: unknown,
  options: ScheduleOptions & {
    idempotencyKey?: string | true | undefined;
    wait?: number | undefined;
    signal?: AbortSignal | undefined;
  },
): Promise<Submitted> {
  const key = idempotencyKeyOf(options.idempotencyKey);
  const wait = ep.waitSeconds(options.wait);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: ACCEPT_JSON,
    ...scheduleHeaders(checkSchedule(options)),
  };
  if (key !== undefined) headers['idempotency-key'] = structuredFieldString(key);
  if (wait > 0) headers.prefer = `wait=${wait}`;
  const spec: RequestSpec = {
    method: 'POST',
    url: ep.url,
    headers,
    body: JSON.stringify(input ?? null),
    idempotent: key !== undefined,
    // Follow the 303 to the output: a browser hides a manual redirect's Location, and a POST cannot be replayed.
    redirect: 'follow',
    signal: options.signal,
    extraTimeoutMs: wait * 1000,
  };
  return request(ep.settings.transport, spec, async (response) => {
    const followedTo = response.redirected ? jobUrlOfOutput(response.url) : null;
    if (followedTo) {
      // The fetch followed a 303 to the output: the job succeeded, and its URL is the output URL's parent.
      return { jobUrl: followedTo, job: null, output: { value: await readJson(response, response.url) } };
    }
    if (response.status === 303) {
      // A fetch that does not follow redirects (e.g. an in-process app): Location is the output.
      const location = response.headers.get('location');
      const jobUrl = location ? jobUrlOfOutput(new URL(location, response.url || ep.url).href) : null;
      if (!jobUrl)
        throw new JobsProtocolError(ep.url, `303 to ${JSON.stringify(location)}, not to an output`);
      // The contract puts the finished job in the 303's body; without it, the caller GETs the job.
      const job = await readJson(response, jobUrl)
        .then((body) => withETag(ep.parseJob(body, jobUrl, response.url || jobUrl), response))
        .catch(() => null);
      return { jobUrl, job };
    }
    if (response.type === 'opaqueredirect' || response.status >= 300) {
      throw new JobsProtocolError(ep.url, `unexpected ${response.status} answer to a submit`);
    }
    const body = await readJson(response, ep.url);
    const id = isRecord(body) && typeof body.id === 'string' ? body.id : '';
    const jobUrl = ep.jobUrl(id);
    return { jobUrl, job: withETag(ep.parseJob(body, jobUrl, response.url || jobUrl), response) };
  });
}

/** The job URL of an output URL (`…/{id}/output`), or null when `url` is not one. */
function jobUrlOfOutput(url: string): string | null {
  const match = /^(.*)\/output\/?(?:\?.*)?$/.exec(url);
  return match?.[1] ? match[1] : null;
}

/** The scheduling options, checked; the fields the request sends (the server checks the ranges). */
export function checkSchedule(options: ScheduleOptions): {
  runAt?: string;
  delaySeconds?: string;
  priority?: number;
  uniqueKey?: string;
} {
  const { runAt, delayMs, priority, uniqueKey } = options;
  if (runAt !== undefined && delayMs !== undefined) {
    throw new TypeError('runAt and delayMs exclude each other: give one of them.');
  }
  const checked: ReturnType<typeof checkSchedule> = {};
  if (runAt !== undefined) {
    if (!(runAt instanceof Date) || Number.isNaN(runAt.getTime()))
      throw new TypeError('runAt must be a valid Date.');
    checked.runAt = runAt.toISOString();
  }
  if (delayMs !== undefined) {
    if (typeof delayMs !== 'number' || !Number.isFinite(delayMs) || delayMs < 0) {
      throw new TypeError(`delayMs must be a number of milliseconds, zero or more, got ${String(delayMs)}.`);
    }
    checked.delaySeconds = delaySeconds(delayMs);
  }
  if (priority !== undefined) {
    if (!Number.isInteger(priority))
      throw new TypeError(`priority must be an integer, got ${String(priority)}.`);
    checked.priority = priority;
  }
  if (uniqueKey !== undefined) {
    // What the header can carry (the server trims it): 1 to 255 printable ASCII characters.
    if (typeof uniqueKey !== 'string' || !/^[\x21-\x7e]([\x20-\x7e]{0,253}[\x21-\x7e])?$/.test(uniqueKey)) {
      throw new TypeError(
        'uniqueKey must be 1 to 255 printable ASCII characters, without spaces at either end.',
      );
    }
    checked.uniqueKey = uniqueKey;
  }
  return checked;
}

/** Milliseconds as the seconds of `Job-Delay`: to the millisecond, without trailing zeros (`1500` → `1.5`). */
export function delaySeconds(delayMs: number): string {
  const ms = Math.round(delayMs);
  const fraction = ms % 1000;
  const whole = String((ms - fraction) / 1000);
  return fraction === 0 ? whole : `${whole}.${String(fraction).padStart(3, '0').replace(/0+$/, '')}`;
}

function scheduleHeaders(schedule: ReturnType<typeof checkSchedule>): Record<string, string> {
  const headers: Record<string, string> = {};
  if (schedule.uniqueKey !== undefined) headers['job-unique-key'] = schedule.uniqueKey;
  if (schedule.runAt !== undefined) headers['job-run-at'] = schedule.runAt;
  if (schedule.delaySeconds !== undefined) headers['job-delay'] = schedule.delaySeconds;
  if (schedule.priority !== undefined) headers['job-priority'] = String(schedule.priority);
  return headers;
}

/** The key to send: a random one for `true`. */
export function idempotencyKeyOf(key: string | true | undefined): string | undefined {
  return key === true ? randomKey() : key;
}

function randomKey(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}
