// The dashboard's JSON API, under `api/`: what the page's script reads and does. Every route sees only what the
// request's access allows (an owner-limited user never reads or changes another owner's job: it is "not found").
import {
  CANCELED_PROBLEM,
  InvalidInputError,
  isFinalStatus,
  isJobId,
  isJobStatus,
  JOB_STATUSES,
  type JobRecord,
  type JobRecordHeader,
  type JobService,
  type JobStatus,
  type Logger,
} from '@jobs/core';
import { streamJobEvents } from '@jobs/http-hono';
import type { Context, Hono } from 'hono';
import { jobJson } from './json.js';
import type { DashboardAccess } from './options.js';
import { overview } from './overview.js';
import { notFound, problem } from './problems.js';

export interface ApiSettings {
  service: JobService;
  pageSize: number;
  heartbeatMs: number;
  logger: Logger;
  shutdown: AbortSignal | undefined;
  accessOf(c: Context): DashboardAccess;
}

export const MAX_PAGE_SIZE = 200;

export function mountApi(app: Hono, settings: ApiSettings): void {
  const { service } = settings;
  const endpoints = () => [...service.endpoints.values()];

  app.get('/api/overview', async (c) => {
    const access = settings.accessOf(c);
    c.header('Cache-Control', 'no-store');
    return c.json(await overview(service.repository, endpoints(), access.owner, Date.now()));
  });

  app.get('/api/jobs', async (c) => {
    const access = settings.accessOf(c);
    const query = searchQuery(c, service, settings.pageSize, access);
    const page = await service.repository.search(query);
    c.header('Cache-Control', 'no-store');
    return c.json({ jobs: page.jobs.map(jobJson), nextCursor: page.nextCursor });
  });

  app.get('/api/jobs/:id', async (c) => {
    const job = await visibleJob(c, settings, 'full');
    if (!job) return notFound();
    c.header('Cache-Control', 'no-store');
    return c.json(jobJson(job));
  });

  // The job's changes as Server-Sent Events: the stream of @jobs/http-hono (hono's streamSSE), whose data is the
  // job's representation; it ends after a final state (a retried job is watched again by the page).
  app.get('/api/jobs/:id/events', async (c) => {
    const job = await visibleJob(c, settings, 'header');
    if (!job) return notFound();
    return streamJobEvents(c, {
      service,
      endpoint: job.endpoint,
      id: job.id,
      owner: job.owner,
      basePath: '',
      heartbeatMs: settings.heartbeatMs,
      logger: settings.logger,
      shutdown: settings.shutdown,
    });
  });

  // Cancel: a queued job is canceled, a running one is asked to stop; a final job is left as it is (409).
  app.post('/api/jobs/:id/cancel', async (c) => {
    const job = await visibleJob(c, settings, 'header');
    if (!job) return notFound();
    if (isFinalStatus(job.status)) {
      return problem(409, 'not_cancelable', 'Not cancelable', `The job is ${job.status} already.`);
    }
    const after = await service.repository.requestCancel(job.id, {
      retentionMs: service.endpoint(job.endpoint).retentionMs,
      error: CANCELED_PROBLEM,
    });
    if (!after) return notFound();
    return c.json({ job: jobJson(after) });
  });

  // Delete: only a final job (cancel a live one first); a succeeded job's worker cleanup runs as for any removal.
  app.delete('/api/jobs/:id', async (c) => {
    const job = await visibleJob(c, settings, 'header');
    if (!job) return notFound();
    if (!isFinalStatus(job.status)) {
      return problem(
        409,
        'not_final',
        'Not final',
        `The job is ${job.status}: cancel it before deleting it.`,
      );
    }
    const removed = await service.repository.remove(job.id);
    if (!removed) return problem(409, 'not_final', 'Not final', 'The job changed meanwhile; reload it.');
    return c.body(null, 204);
  });

  // Retry: a failed or canceled job runs again under the same id (409 not_retryable otherwise).
  app.post('/api/jobs/:id/retry', async (c) => {
    const job = await visibleJob(c, settings, 'header');
    if (!job) return notFound();
    const retried = await service.retry(job.endpoint, job.id, { owner: job.owner });
    return c.json({ job: jobJson(retried) }, 202);
  });
}

/** The job the route names, if it exists, is of an endpoint the service serves, and the access allows it. */
async function visibleJob(c: Context, settings: ApiSettings, projection: 'full'): Promise<JobRecord | null>;
async function visibleJob(
  c: Context,
  settings: ApiSettings,
  projection: 'header',
): Promise<JobRecordHeader | null>;
async function visibleJob(
  c: Context,
  settings: ApiSettings,
  projection: 'full' | 'header',
): Promise<JobRecord | JobRecordHeader | null> {
  const access = settings.accessOf(c);
  const id = c.req.param('id') ?? '';
  if (!isJobId(id)) return null;
  const repository = settings.service.repository;
  const job = projection === 'full' ? await repository.get(id) : await repository.get(id, 'header');
  if (!job || !settings.service.endpoints.has(job.endpoint)) return null;
  if (access.owner !== undefined && job.owner !== access.owner) return null;
  return job;
}

/** The list's filters from the query string, checked; an owner-limited user's owner always applies. */
function searchQuery(c: Context, service: JobService, pageSize: number, access: DashboardAccess) {
  const endpoint = c.req.query('endpoint') || undefined;
  if (endpoint !== undefined && !service.endpoints.has(endpoint)) {
    throw InvalidInputError.field('endpoint', `No endpoint named ${JSON.stringify(endpoint)}.`);
  }
  const status = c.req.query('status') || undefined;
  if (status !== undefined && !isJobStatus(status)) {
    throw InvalidInputError.field('status', `status must be one of ${JOB_STATUSES.join(', ')}.`);
  }
  const limitText = c.req.query('limit');
  const limit = limitText === undefined ? pageSize : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
    throw InvalidInputError.field('limit', `limit must be an integer from 1 to ${MAX_PAGE_SIZE}.`);
  }
  const ownerFilter = c.req.query('owner');
  const owner =
    access.owner !== undefined
      ? access.owner
      : ownerFilter === undefined || ownerFilter === ''
        ? undefined
        : ownerFilter;
  return {
    endpoints: endpoint === undefined ? [...service.endpoints.keys()] : [endpoint],
    owner,
    status: status as JobStatus | undefined,
    createdFrom: dateParameter(c.req.query('from'), 'from'),
    createdBefore: dateParameter(c.req.query('to'), 'to'),
    limit,
    cursor: c.req.query('cursor') || undefined,
  };
}

function dateParameter(value: string | undefined, name: string): Date | undefined {
  if (value === undefined || value === '') return undefined;
  const date = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(date.getTime())) {
    throw InvalidInputError.field(name, `${name} must be an ISO 8601 date and time.`);
  }
  return date;
}
