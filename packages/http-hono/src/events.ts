import {
  isFinalStatus,
  type JobHeader,
  type JobService,
  type Logger,
  type ProblemDetails,
  problemType,
} from '@jobs/core';
import type { Context } from 'hono';
import { type SSEStreamingApi, streamSSE } from 'hono/streaming';
import { anySignal } from './context.js';
import { notFoundProblem, withProblemTypeBase } from './problems.js';
import { toRepresentation } from './representation.js';

export interface EventStreamOptions {
  service: JobService;
  endpoint: string;
  id: string;
  owner: string | null;
  basePath: string;
  heartbeatMs: number;
  logger: Logger;
  /** Aborting it ends the stream (the app shuts down). */
  shutdown: AbortSignal | undefined;
  /** Base of problem `type` URIs (createJobsApp's `problemTypeBase`); default `@jobs/core`'s. */
  problemTypeBase?: string | undefined;
}

/** The SSE event id of a job state: its updatedAt in epoch milliseconds (increases with every change). */
export function eventId(job: Pick<JobHeader, 'updatedAt'>): string {
  return String(job.updatedAt.getTime());
}

/**
 * Server-Sent Events of one job (hono's `streamSSE`): an event with the current state at once, then one per
 * change, named `status` (status, attempt, error or cancel request changed) or `progress` (only progress or
 * ETA changed), each with `id:` and the job JSON as data; `: heartbeat` comments while nothing happens; the
 * stream closes after the event of a final state, or with an `error` event if the job disappears or the
 * backend fails. It stops watching when the client disconnects or the app shuts down.
 */
export function streamJobEvents(c: Context, options: EventStreamOptions): Response {
  const response = streamSSE(c, async (stream) => {
    const disconnected = new AbortController();
    stream.onAbort(() => disconnected.abort());
    // The request's signal too: not every runtime cancels the response stream when the client goes away.
    const { signal, dispose } = anySignal([disconnected.signal, c.req.raw.signal, options.shutdown]);
    const heartbeat = setInterval(() => void stream.write(': heartbeat\n\n'), options.heartbeatMs);
    try {
      await stream.write('retry: 3000\n\n');
      await sendChanges(stream, options, signal);
    } catch (error) {
      if (!signal.aborted) await sendFailure(stream, options, error);
    } finally {
      clearInterval(heartbeat);
      dispose();
    }
  });
  // streamSSE's defaults made to match the contract; the hop-by-hop headers it adds are the server's business.
  response.headers.set('Content-Type', 'text/event-stream; charset=utf-8');
  response.headers.set('Cache-Control', 'no-store');
  response.headers.set('X-Accel-Buffering', 'no');
  response.headers.delete('Connection');
  response.headers.delete('Transfer-Encoding');
  return response;
}

/** Sends the job's states until it is final, the watch ends, or `signal` aborts. */
async function sendChanges(stream: SSEStreamingApi, options: EventStreamOptions, signal: AbortSignal) {
  let last: JobHeader | null = null;
  let lastData = '';
  const changes = options.service.watch(options.endpoint, options.id, { owner: options.owner, signal });
  for await (const job of changes) {
    const data = JSON.stringify(toRepresentation(options.basePath, job, options));
    if (data === lastData) continue;
    const event = last === null || !onlyProgress(last, job) ? 'status' : 'progress';
    await stream.writeSSE({ event, id: eventId(job), data });
    last = job;
    lastData = data;
  }
  if (!signal.aborted && (last === null || !isFinalStatus(last.status))) {
    await sendProblem(stream, options, notFoundProblem('The job no longer exists.'));
  }
}

/** Logs a failed watch and ends the stream with a problem that says nothing about the cause. */
async function sendFailure(stream: SSEStreamingApi, options: EventStreamOptions, error: unknown) {
  options.logger.error(
    {
      jobId: options.id,
      endpoint: options.endpoint,
      error: error instanceof Error ? (error.stack ?? error.message) : String(error),
    },
    'event stream failed',
  );
  const unavailable =
    typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'unavailable';
  await sendProblem(
    stream,
    options,
    unavailable
      ? {
          type: problemType('unavailable'),
          title: 'Service unavailable',
          status: 503,
          code: 'unavailable',
          detail: 'A backend service is temporarily unavailable; reconnect later.',
        }
      : {
          type: problemType('internal'),
          title: 'Internal server error',
          status: 500,
          code: 'internal',
          detail: 'The event stream failed. The error was logged.',
        },
  );
}

function sendProblem(
  stream: SSEStreamingApi,
  options: EventStreamOptions,
  problem: ProblemDetails,
): Promise<void> {
  const data = JSON.stringify(withProblemTypeBase(problem, options.problemTypeBase));
  return stream.writeSSE({ event: 'error', data });
}

function onlyProgress(before: JobHeader, after: JobHeader): boolean {
  return (
    before.status === after.status &&
    before.attempt === after.attempt &&
    before.cancelRequested === after.cancelRequested &&
    JSON.stringify(before.error) === JSON.stringify(after.error)
  );
}
