import { isFinalStatus, type JobRecord, type JobService, type Logger, problemType } from '@jobs/core';
import { toRepresentation } from './representation.js';

export interface EventStreamOptions {
  service: JobService;
  endpoint: string;
  id: string;
  owner: string | null;
  basePath: string;
  heartbeatMs: number;
  logger: Logger;
  /** Aborts when the client goes away (where the runtime reports it) or the app shuts down. */
  signals: AbortSignal[];
}

/** The SSE event id of a job state: its updatedAt in epoch milliseconds (increases with every change). */
export function eventId(job: Pick<JobRecord, 'updatedAt'>): string {
  return String(job.updatedAt.getTime());
}

/**
 * Server-Sent Events of one job: an event with the current state at once, then one per change, named
 * `status` (status, attempt, error or cancel request changed) or `progress` (only progress or ETA changed),
 * each with `id:` and the job JSON as data; `: heartbeat` comments while nothing happens; the stream
 * closes after the event of a final state, or with an `error` event if the job disappears or the backend
 * fails. It stops watching when the client disconnects (the stream is canceled).
 */
export function jobEventStream(options: EventStreamOptions): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const abort = new AbortController();
  const onAbort = () => abort.abort();
  for (const signal of options.signals) {
    if (signal.aborted) abort.abort();
    else signal.addEventListener('abort', onAbort, { once: true });
  }
  let closed = false;
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  const cleanup = () => {
    if (heartbeat !== undefined) clearInterval(heartbeat);
    for (const signal of options.signals) signal.removeEventListener('abort', onAbort);
  };
  return new ReadableStream<Uint8Array>({
    start(controller) {
      const send = (text: string) => {
        if (closed) return;
        try {
          controller.enqueue(encoder.encode(text));
        } catch {
          closed = true;
        }
      };
      heartbeat = setInterval(() => send(': heartbeat\n\n'), options.heartbeatMs);
      void (async () => {
        let last: JobRecord | null = null;
        let lastData = '';
        try {
          send('retry: 3000\n\n');
          for await (const job of options.service.watch(options.endpoint, options.id, {
            owner: options.owner,
            signal: abort.signal,
          })) {
            const data = JSON.stringify(toRepresentation(options.basePath, job));
            if (data === lastData) continue;
            const name = last === null || !onlyProgress(last, job) ? 'status' : 'progress';
            send(`event: ${name}\nid: ${eventId(job)}\ndata: ${data}\n\n`);
            last = job;
            lastData = data;
          }
          if (!abort.signal.aborted && (last === null || !isFinalStatus(last.status))) {
            send(
              `event: error\ndata: ${JSON.stringify({
                type: problemType('not_found'),
                title: 'Not found',
                status: 404,
                code: 'not_found',
                detail: 'The job no longer exists.',
              })}\n\n`,
            );
          }
        } catch (error) {
          if (!abort.signal.aborted) {
            options.logger.error('event stream failed', {
              jobId: options.id,
              error: error instanceof Error ? (error.stack ?? error.message) : String(error),
            });
            const unavailable =
              typeof error === 'object' &&
              error !== null &&
              (error as { code?: unknown }).code === 'unavailable';
            send(
              `event: error\ndata: ${JSON.stringify(
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
              )}\n\n`,
            );
          }
        } finally {
          cleanup();
          if (!closed) {
            closed = true;
            try {
              controller.close();
            } catch {
              // already errored or canceled
            }
          }
        }
      })();
    },
    cancel() {
      closed = true;
      abort.abort();
      cleanup();
    },
  });
}

function onlyProgress(before: JobRecord, after: JobRecord): boolean {
  return (
    before.status === after.status &&
    before.attempt === after.attempt &&
    before.cancelRequested === after.cancelRequested &&
    JSON.stringify(before.error) === JSON.stringify(after.error)
  );
}
