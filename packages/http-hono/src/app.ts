import { consoleLogger } from '@jobs/core';
import { Hono } from 'hono';
import { cors as corsMiddleware } from 'hono/cors';
import { createAppContext, isGet, notAllowed } from './context.js';
import { UNIQUE_KEY_HEADER, UNIQUE_MATCH_HEADER } from './headers.js';
import type { JobsAppOptions, JobsCorsOptions } from './options.js';
import { resolveSettings } from './options.js';
import { errorResponse, notFoundProblem, problemResponse, problemTypeBaseMiddleware } from './problems.js';
import { submitBatch } from './routes/batch.js';
import { deleteJob } from './routes/delete.js';
import { events } from './routes/events.js';
import { getJob } from './routes/job.js';
import { list } from './routes/list.js';
import { getOutput } from './routes/output.js';
import { mountReference } from './routes/reference.js';
import { retryJob } from './routes/retry.js';
import { listSchedules } from './routes/schedules.js';
import { submit } from './routes/submit.js';
import { DELAY_HEADER, PRIORITY_HEADER, RUN_AT_HEADER } from './schedule.js';
import { limitWaiters } from './waiters.js';

export type { JobsAppOptions, JobsCorsOptions, OwnerResolver } from './options.js';

const EXPOSED_HEADERS = [
  'Location',
  'Content-Location',
  'Retry-After',
  'Preference-Applied',
  'Link',
  'Idempotent-Replayed',
  UNIQUE_MATCH_HEADER,
  'ETag',
  'Operation-Location',
];
const ALLOWED_HEADERS = [
  'Content-Type',
  'Prefer',
  'Idempotency-Key',
  'Last-Event-ID',
  'If-None-Match',
  RUN_AT_HEADER,
  DELAY_HEADER,
  PRIORITY_HEADER,
  UNIQUE_KEY_HEADER,
];

// The handlers are in routes/, one module per resource; they share the AppContext of context.ts (the
// options checked in options.ts, and the per-request helpers).

/**
 * The HTTP front end of the asynchronous job pattern as a Hono app; mount it with
 * `app.route('/jobs', createJobsApp({ service }))`. It owns every path below its mount.
 */
export function createJobsApp(options: JobsAppOptions): Hono {
  const ctx = createAppContext(resolveSettings(options, options.logger ?? consoleLogger));
  const app = new Hono();
  if (options.cors) app.use('*', cors(options.cors === true ? {} : options.cors));
  if (ctx.problemTypeBase !== undefined) app.use('*', problemTypeBaseMiddleware(ctx.problemTypeBase));
  app.onError((error, c) => errorResponse(error, ctx.logger, c.req.raw));
  app.notFound(() => problemResponse(notFoundProblem()));

  mountReference(app, ctx);
  // Before the routes: the cap of waiting requests per client (waiters.ts).
  limitWaiters(app, ctx);

  // POST submits, GET lists.
  app.all('/:endpoint', async (c) => {
    const endpoint = ctx.endpointOf(c);
    const method = c.req.method;
    if (method === 'POST') return submit(ctx, c, endpoint);
    if (method === 'GET' || method === 'HEAD') return list(ctx, c, endpoint);
    return notAllowed(c, ['GET', 'HEAD', 'POST']);
  });
  // Before /:endpoint/:id: job ids are UUIDs the server makes, so no job is ever called "batch" or "schedules".
  app.all('/:endpoint/batch', async (c) => {
    const endpoint = ctx.endpointOf(c);
    if (c.req.method === 'POST') return submitBatch(ctx, c, endpoint);
    return notAllowed(c, ['POST']);
  });
  app.all('/:endpoint/schedules', async (c) => {
    const endpoint = ctx.endpointOf(c);
    if (isGet(c)) return listSchedules(ctx, c, endpoint);
    return notAllowed(c, ['GET', 'HEAD']);
  });
  app.all('/:endpoint/:id', async (c) => {
    const endpoint = ctx.endpointOf(c);
    if (isGet(c)) return getJob(ctx, c, endpoint);
    if (c.req.method === 'DELETE') return deleteJob(ctx, c, endpoint);
    return notAllowed(c, ['GET', 'HEAD', 'DELETE']);
  });
  app.all('/:endpoint/:id/events', async (c) => {
    const endpoint = ctx.endpointOf(c);
    if (c.req.method !== 'GET') return notAllowed(c, ['GET']);
    return events(ctx, c, endpoint);
  });
  app.all('/:endpoint/:id/retry', async (c) => {
    const endpoint = ctx.endpointOf(c);
    if (c.req.method !== 'POST') return notAllowed(c, ['POST']);
    return retryJob(ctx, c, endpoint);
  });
  app.all('/:endpoint/:id/output', async (c) => {
    const endpoint = ctx.endpointOf(c);
    if (!isGet(c)) return notAllowed(c, ['GET', 'HEAD']);
    return getOutput(ctx, c, endpoint);
  });
  // Every other path below the mount is this app's, and unknown.
  app.all('*', () => problemResponse(notFoundProblem()));
  return app;
}

function cors(options: JobsCorsOptions) {
  return corsMiddleware({
    origin: (options.origin ?? '*') as never,
    credentials: options.credentials ?? false,
    maxAge: options.maxAge ?? 600,
    allowMethods: ['GET', 'HEAD', 'POST', 'DELETE', 'OPTIONS'],
    allowHeaders: [...ALLOWED_HEADERS, ...(options.allowHeaders ?? [])],
    exposeHeaders: [...EXPOSED_HEADERS, ...(options.exposeHeaders ?? [])],
  });
}
