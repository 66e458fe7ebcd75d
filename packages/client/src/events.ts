// A job's Server-Sent Events, reconnecting like an EventSource until the job is final.

import type { EndpointContext } from './context.js';
import { JobsClientError, JobsHttpError, JobsNetworkError, JobsProtocolError } from './errors.js';
import { EventStreamParser, readEventStream, type ServerSentEvent } from './sse.js';
import { type RequestSpec, request, sleep } from './transport.js';
import type { EventsOptions, JobEvent } from './types.js';
import { isFinal, isRecord, type Job, parseProblem } from './wire.js';

const DEFAULT_RECONNECT_MS = 1000;

/**
 * The job's events until one has a final state. A stream that ends or breaks before that is reopened after
 * the server's `retry:` delay with `Last-Event-ID`, up to `retries` times in a row without an event; a 204
 * (nothing after that id) answers the job as it is. An `error` event is thrown as a `JobsHttpError`.
 */
export async function* jobEvents(
  ep: EndpointContext,
  jobUrl: string,
  options: EventsOptions,
): AsyncGenerator<JobEvent, void, undefined> {
  const { signal } = options;
  const url = `${jobUrl}/events`;
  const transport = ep.settings.transport;
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
      const { job } = await ep.observe(jobUrl, 0, signal, null);
      yield { type: 'status', id: parser.lastEventId || null, job };
      if (isFinal(job.status)) return;
      throw new JobsProtocolError(url, `the stream ended while the job is ${job.status}`);
    }
    let dropped: unknown = null;
    try {
      for await (const event of readEventStream(stream.body, parser)) {
        const job = eventJob(ep, event, jobUrl, url);
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
function eventJob(ep: EndpointContext, event: ServerSentEvent, jobUrl: string, url: string): Job | null {
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
  return ep.parseJob(data, jobUrl, url);
}

/** A backend outage reported inside an event stream: worth reconnecting. */
function isUnavailable(error: JobsClientError): boolean {
  return error instanceof JobsHttpError && (error.status === 503 || error.code === 'unavailable');
}
