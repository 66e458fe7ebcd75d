// POST of a job, and what its answer says: the job (202, 200), or that it succeeded (303 to its output).
import type { EndpointContext } from './context.js';
import { JobsProtocolError } from './errors.js';
import { type RequestSpec, readJson, request } from './transport.js';
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
  options: {
    idempotencyKey?: string | true | undefined;
    wait?: number | undefined;
    signal?: AbortSignal | undefined;
  },
): Promise<Submitted> {
  const key = options.idempotencyKey === true ? randomKey() : options.idempotencyKey;
  const wait = ep.waitSeconds(options.wait);
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: ACCEPT_JSON };
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

function randomKey(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}
