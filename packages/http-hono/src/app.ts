import {
  consoleLogger,
  type Endpoint,
  InvalidInputError,
  isFinalStatus,
  JOB_STATUSES,
  type JobRecord,
  type JobService,
  type JobStatus,
  type Logger,
  NotFoundError,
} from '@jobs/core';
import { type Context, Hono } from 'hono';
import { cors as corsMiddleware } from 'hono/cors';
import { readJsonBody } from './body.js';
import { referencePage } from './docs.js';
import { eventId, jobEventStream } from './events.js';
import { ifNoneMatchMatches, parseIdempotencyKey, parseIfNoneMatch, parsePreferWait } from './headers.js';
import { buildOpenApiDocument, type OpenApiOptions } from './openapi.js';
import { errorResponse, methodNotAllowed, notFoundProblem, problemResponse } from './problems.js';
import { type JobListRepresentation, jobETag, jobLinks, toRepresentation } from './representation.js';

export type OwnerResolver = (
  c: Context<any, any, any>,
) => string | null | undefined | Promise<string | null | undefined>;

export interface JobsCorsOptions {
  /** Allowed origins: `*` (default), one origin, a list, or a function returning the origin to allow (or null). */
  origin?: string | string[] | ((origin: string, c: Context<any, any, any>) => string | null | undefined);
  /** Send `Access-Control-Allow-Credentials: true` (needs an explicit origin). Default false. */
  credentials?: boolean;
  /** Preflight cache lifetime in seconds (`Access-Control-Max-Age`). Default 600. */
  maxAge?: number;
  /** Request headers allowed besides Content-Type, Prefer, Idempotency-Key, Last-Event-ID, If-None-Match (e.g. Authorization). */
  allowHeaders?: string[];
  /** Response headers exposed besides Location, Content-Location, Retry-After, Preference-Applied, Link, Idempotent-Replayed, ETag. */
  exposeHeaders?: string[];
}

export interface JobsAppOptions {
  /** The JobService (from `createJobsRuntime(...).service` or `createJobService`). */
  service: JobService;
  /** Endpoints to expose (names or endpoints registered with the service). Default: all of the service's. */
  endpoints?: readonly (string | Endpoint)[];
  /**
   * Resolves the caller's owner key from the request. Jobs are stored with it, another owner's job is 404 on
   * every route, and lists show only the caller's jobs. Returning null/undefined means "no owner" (one shared
   * space). Throw an `HTTPException` (hono/http-exception) to reject the request, e.g. with 401.
   */
  owner?: OwnerResolver;
  /** Largest accepted request body in bytes, enforced while reading. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Cap of `Prefer: wait=N`, in seconds. Default 60. */
  maxWaitSeconds?: number;
  /** Seconds between `: heartbeat` comments on an idle event stream. Default 15. */
  heartbeatSeconds?: number;
  /** CORS for browser clients: true for any origin, or options. Default off. */
  cors?: boolean | JobsCorsOptions;
  /** OpenAPI document (`GET /openapi.json`) and reference page (`GET /docs`) options, or false for neither. */
  openapi?: OpenApiOptions | false;
  /**
   * Path prefix for the links and Location headers. Default: derived from each request URL (the mount path).
   * Set it when a proxy rewrites paths in front of the app.
   */
  basePath?: string;
  /** Aborting it ends open event streams and long-polls (call it before closing the server). */
  signal?: AbortSignal;
  /** Where unexpected errors (with their stack) and backend outages are logged. Default: console. */
  logger?: Logger;
}

const MIB = 1024 * 1024;
const EXPOSED_HEADERS = [
  'Location',
  'Content-Location',
  'Retry-After',
  'Preference-Applied',
  'Link',
  'Idempotent-Replayed',
  'ETag',
];
const ALLOWED_HEADERS = ['Content-Type', 'Prefer', 'Idempotency-Key', 'Last-Event-ID', 'If-None-Match'];
const RESERVED = new Set(['openapi.json']);

/**
 * The HTTP front end of the asynchronous job pattern as a Hono app; mount it with
 * `app.route('/jobs', createJobsApp({ service }))`. It owns every path below its mount.
 */
export function createJobsApp(options: JobsAppOptions): Hono {
  const service = options.service;
  const logger = options.logger ?? consoleLogger;
  const maxBodyBytes = positive('maxBodyBytes', options.maxBodyBytes ?? MIB);
  const maxWaitSeconds = nonNegative('maxWaitSeconds', options.maxWaitSeconds ?? 60);
  const heartbeatMs = positive('heartbeatSeconds', options.heartbeatSeconds ?? 15) * 1000;
  const shutdown = options.signal;
  const endpoints = selectEndpoints(service, options.endpoints);
  const openapi = options.openapi === false ? null : (options.openapi ?? {});
  const docsPath =
    openapi === null || openapi.docsPath === false ? null : normalizePath(openapi.docsPath ?? '/docs');
  if (docsPath && endpoints.has(docsPath.slice(1))) {
    throw new TypeError(
      `The reference page path ${docsPath} collides with the endpoint of that name; set openapi.docsPath.`,
    );
  }
  const fixedBase = options.basePath === undefined ? null : normalizeBase(options.basePath);

  const app = new Hono();

  if (options.cors) {
    const cors = options.cors === true ? {} : options.cors;
    app.use(
      '*',
      corsMiddleware({
        origin: (cors.origin ?? '*') as never,
        credentials: cors.credentials ?? false,
        maxAge: cors.maxAge ?? 600,
        allowMethods: ['GET', 'HEAD', 'POST', 'DELETE', 'OPTIONS'],
        allowHeaders: [...ALLOWED_HEADERS, ...(cors.allowHeaders ?? [])],
        exposeHeaders: [...EXPOSED_HEADERS, ...(cors.exposeHeaders ?? [])],
      }),
    );
  }

  app.onError((error, c) => errorResponse(error, logger, c.req.raw));
  app.notFound(() => problemResponse(notFoundProblem()));

  /** The mount path: the request path minus the route's own `segments` trailing segments. */
  const baseOf = (c: Context, segments: number): string => {
    if (fixedBase !== null) return fixedBase;
    const parts = new URL(c.req.url).pathname.split('/');
    return parts.slice(0, Math.max(1, parts.length - segments)).join('/');
  };

  const resolveOwner = async (c: Context): Promise<string | null> => {
    if (!options.owner) return null;
    const owner = await options.owner(c);
    if (owner === undefined || owner === null) return null;
    if (typeof owner !== 'string')
      throw new TypeError('The owner hook must return a string, null or undefined.');
    return owner;
  };

  const endpointOf = (c: Context): Endpoint => {
    const name = c.req.param('endpoint') ?? '';
    const endpoint = endpoints.get(name);
    if (!endpoint) throw new NotFoundError(`No endpoint named ${JSON.stringify(name)}.`);
    return endpoint;
  };

  /** Runs `wait` with a signal that aborts when the client goes away or the app shuts down. */
  const waiting = async <T>(c: Context, wait: (signal: AbortSignal) => Promise<T>): Promise<T> => {
    const { signal, dispose } = anySignal([c.req.raw.signal, shutdown]);
    try {
      return await wait(signal);
    } finally {
      dispose();
    }
  };

  /** Applies `Prefer: wait=N`: returns the honoured seconds (and says so) or null. */
  const preferredWait = (c: Context): number | null => {
    c.header('Vary', 'Prefer', { append: true });
    const wait = parsePreferWait(c.req.header('prefer'));
    if (wait === null) return null;
    const applied = Math.min(wait, maxWaitSeconds);
    c.header('Preference-Applied', `wait=${applied}`);
    return applied;
  };

  if (openapi !== null) {
    const documents = new Map<string, Record<string, unknown>>();
    app.all('/openapi.json', (c) => {
      if (!isGet(c)) return notAllowed(c, ['GET', 'HEAD']);
      const base = baseOf(c, 1);
      let document = documents.get(base);
      if (!document) {
        document = buildOpenApiDocument({
          ...openapi,
          endpoints: [...endpoints.values()],
          basePath: base,
          maxWaitSeconds,
          maxBodyBytes,
          docsPath: docsPath ?? false,
        });
        if (documents.size > 16) documents.clear();
        documents.set(base, document);
      }
      c.header('Cache-Control', 'no-cache');
      return c.json(document);
    });
    if (docsPath) {
      const segments = docsPath.split('/').length - 1;
      app.all(docsPath, (c) => {
        if (!isGet(c)) return notAllowed(c, ['GET', 'HEAD']);
        c.header('Cache-Control', 'no-cache');
        return c.html(
          referencePage({
            title: openapi.title ?? 'Jobs API',
            specUrl: `${baseOf(c, segments)}/openapi.json`,
          }),
        );
      });
    }
  }

  // POST submits, GET lists.
  app.all('/:endpoint', async (c) => {
    const endpoint = endpointOf(c);
    const method = c.req.method;
    if (method === 'POST') return submit(c, endpoint);
    if (method === 'GET' || method === 'HEAD') return list(c, endpoint);
    return notAllowed(c, ['GET', 'HEAD', 'POST']);
  });

  app.all('/:endpoint/:id', async (c) => {
    const endpoint = endpointOf(c);
    if (isGet(c)) return getJob(c, endpoint);
    if (c.req.method === 'DELETE') return deleteJob(c, endpoint);
    return notAllowed(c, ['GET', 'HEAD', 'DELETE']);
  });

  app.all('/:endpoint/:id/events', async (c) => {
    const endpoint = endpointOf(c);
    if (c.req.method !== 'GET') return notAllowed(c, ['GET']);
    return events(c, endpoint);
  });

  app.all('/:endpoint/:id/output', async (c) => {
    const endpoint = endpointOf(c);
    if (!isGet(c)) return notAllowed(c, ['GET', 'HEAD']);
    const owner = await resolveOwner(c);
    const output = await service.output(endpoint.name, c.req.param('id'), { owner });
    c.header('Cache-Control', 'no-store');
    return c.json(output ?? null);
  });

  // Every other path below the mount is this app's, and unknown.
  app.all('*', () => problemResponse(notFoundProblem()));

  async function submit(c: Context, endpoint: Endpoint): Promise<Response> {
    const owner = await resolveOwner(c);
    const idempotencyKey = parseIdempotencyKey(c.req.header('idempotency-key'));
    const input = await readJsonBody(c.req.raw, maxBodyBytes);
    const { job, created } = await service.submit(endpoint.name, input, { owner, idempotencyKey });
    const base = baseOf(c, 1);
    const wait = preferredWait(c);
    let current: JobRecord = job;
    if (wait !== null && wait > 0 && !isFinalStatus(job.status)) {
      try {
        current = await waiting(c, (signal) =>
          service.wait(endpoint.name, job.id, { owner, timeoutMs: wait * 1000, until: 'final', signal }),
        );
      } catch (error) {
        // Deleted meanwhile: the job was still created; answer as without waiting.
        if (!(error instanceof NotFoundError)) throw error;
      }
    }
    const links = jobLinks(base, current);
    c.header('Content-Location', links.self);
    c.header('ETag', jobETag(current));
    c.header('Cache-Control', 'no-store');
    if (!created) c.header('Idempotent-Replayed', 'true');
    if (wait !== null && current.status === 'succeeded' && links.output) {
      c.header('Location', links.output);
      return c.json(toRepresentation(base, current), 303);
    }
    c.header('Location', links.self);
    // A job that already failed or was canceled (during the wait, or on a replay) is no longer "accepted
    // for processing": 200 with the final state, so clients do not poll it.
    if (current.status === 'failed' || current.status === 'canceled') {
      return c.json(toRepresentation(base, current), 200);
    }
    if (!isFinalStatus(current.status)) c.header('Retry-After', String(service.retryAfterSeconds(current)));
    return c.json(toRepresentation(base, current), 202);
  }

  async function getJob(c: Context, endpoint: Endpoint): Promise<Response> {
    const owner = await resolveOwner(c);
    const id = c.req.param('id') ?? '';
    const wait = preferredWait(c);
    const condition = parseIfNoneMatch(c.req.header('if-none-match'));
    let job: JobRecord;
    if (condition === null) {
      // Unconditional: a long-poll answers the first change after the request arrived.
      job =
        wait !== null && wait > 0
          ? await waiting(c, (signal) =>
              service.wait(endpoint.name, id, { owner, timeoutMs: wait * 1000, until: 'change', signal }),
            )
          : await service.get(endpoint.name, id, { owner });
    } else {
      // Conditional: answer as soon as the job's state is not one the client already has (maybe at once).
      job = await service.get(endpoint.name, id, { owner });
      if (wait !== null && wait > 0 && condition !== '*') {
        const deadline = Date.now() + wait * 1000;
        job = await waiting(c, async (signal) => {
          let current = job;
          // A final job does not change any more (it can only disappear: 404).
          while (ifNoneMatchMatches(condition, jobETag(current)) && !isFinalStatus(current.status)) {
            const remaining = deadline - Date.now();
            if (remaining <= 0 || signal.aborted) break;
            current = await service.wait(endpoint.name, id, {
              owner,
              timeoutMs: remaining,
              until: 'change',
              since: current.updatedAt,
              signal,
            });
          }
          return current;
        });
      }
    }
    const base = baseOf(c, 2);
    const links = jobLinks(base, job);
    const etag = jobETag(job);
    c.header('ETag', etag);
    c.header('Cache-Control', 'no-store');
    if (!isFinalStatus(job.status)) c.header('Retry-After', String(service.retryAfterSeconds(job)));
    // RFC 9110 §15.4.5: a 304 carries the validator and caching headers a 200 would have, and no body.
    if (condition !== null && ifNoneMatchMatches(condition, etag)) return c.body(null, 304);
    if (job.status === 'succeeded' && links.output) {
      c.header('Location', links.output);
      return c.json(toRepresentation(base, job), 303);
    }
    return c.json(toRepresentation(base, job), 200);
  }

  async function deleteJob(c: Context, endpoint: Endpoint): Promise<Response> {
    const owner = await resolveOwner(c);
    const { outcome, job } = await service.delete(endpoint.name, c.req.param('id') ?? '', { owner });
    c.header('Cache-Control', 'no-store');
    if (outcome === 'removed') return c.body(null, 204);
    const representation = toRepresentation(baseOf(c, 2), job);
    c.header('ETag', jobETag(job));
    if (outcome === 'canceled') return c.json(representation, 200);
    c.header('Retry-After', String(service.retryAfterSeconds(job)));
    return c.json(representation, 202);
  }

  async function list(c: Context, endpoint: Endpoint): Promise<Response> {
    const owner = await resolveOwner(c);
    const status = c.req.query('status');
    const limitText = c.req.query('limit');
    const cursor = c.req.query('cursor');
    if (status !== undefined && !(JOB_STATUSES as readonly string[]).includes(status)) {
      throw new InvalidInputError(`Unknown status ${JSON.stringify(status)}.`, [
        { path: ['status'], message: `Expected one of ${JOB_STATUSES.join(', ')}` },
      ]);
    }
    if (limitText !== undefined && !/^\d{1,4}$/.test(limitText)) {
      throw new InvalidInputError('limit must be an integer from 1 to 100.', [
        { path: ['limit'], message: 'Expected an integer' },
      ]);
    }
    const page = await service.list(endpoint.name, {
      owner,
      status: status as JobStatus | undefined,
      limit: limitText === undefined ? undefined : Number(limitText),
      cursor: cursor || undefined,
    });
    const base = baseOf(c, 1);
    if (page.nextCursor) {
      const next = new URLSearchParams();
      if (status !== undefined) next.set('status', status);
      if (limitText !== undefined) next.set('limit', limitText);
      next.set('cursor', page.nextCursor);
      c.header('Link', `<${base}/${endpoint.name}?${next}>; rel="next"`);
    }
    c.header('Cache-Control', 'no-store');
    const body: JobListRepresentation = {
      jobs: page.jobs.map((job) => toRepresentation(base, job)),
      nextCursor: page.nextCursor,
    };
    return c.json(body);
  }

  async function events(c: Context, endpoint: Endpoint): Promise<Response> {
    const owner = await resolveOwner(c);
    const id = c.req.param('id') ?? '';
    const job = await service.get(endpoint.name, id, { owner });
    const lastEventId = c.req.header('last-event-id');
    if (lastEventId !== undefined && isFinalStatus(job.status) && lastEventId.trim() === eventId(job)) {
      // A reconnecting EventSource already has the final event; 204 tells it to stop reconnecting.
      return c.body(null, 204);
    }
    const stream = jobEventStream({
      service,
      endpoint: endpoint.name,
      id,
      owner,
      basePath: baseOf(c, 3),
      heartbeatMs,
      logger,
      signals: [c.req.raw.signal, ...(shutdown ? [shutdown] : [])],
    });
    c.header('Content-Type', 'text/event-stream; charset=utf-8');
    c.header('Cache-Control', 'no-store');
    c.header('X-Accel-Buffering', 'no');
    return c.body(stream, 200);
  }

  return app;
}

function isGet(c: Context): boolean {
  return c.req.method === 'GET' || c.req.method === 'HEAD';
}

function notAllowed(c: Context, allow: string[]): Response {
  if (c.req.method === 'OPTIONS') return c.body(null, 204, { Allow: [...allow, 'OPTIONS'].join(', ') });
  return methodNotAllowed([...allow, 'OPTIONS']);
}

function selectEndpoints(
  service: JobService,
  selection: readonly (string | Endpoint)[] | undefined,
): Map<string, Endpoint> {
  const selected = new Map<string, Endpoint>();
  const names = selection
    ? selection.map((item) => (typeof item === 'string' ? item : item.name))
    : [...service.endpoints.keys()];
  for (const name of names) {
    const endpoint = service.endpoints.get(name);
    if (!endpoint)
      throw new TypeError(`Endpoint ${JSON.stringify(name)} is not registered with the service.`);
    if (RESERVED.has(name)) throw new TypeError(`Endpoint name ${name} is reserved.`);
    selected.set(name, endpoint);
  }
  return selected;
}

function anySignal(signals: readonly (AbortSignal | undefined)[]): {
  signal: AbortSignal;
  dispose: () => void;
} {
  const controller = new AbortController();
  const listeners: Array<() => void> = [];
  for (const signal of signals) {
    if (!signal) continue;
    if (signal.aborted) {
      controller.abort(signal.reason);
      break;
    }
    const onAbort = () => controller.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    listeners.push(() => signal.removeEventListener('abort', onAbort));
  }
  return {
    signal: controller.signal,
    dispose: () => {
      for (const remove of listeners) remove();
    },
  };
}

function normalizePath(path: string): string {
  const trimmed = path.trim().replace(/\/+$/, '');
  if (!trimmed || trimmed === '/') throw new TypeError('openapi.docsPath must not be the mount root.');
  return trimmed.startsWith('/') ? trimmed : `/${trimmed}`;
}

function normalizeBase(path: string): string {
  const trimmed = path.trim().replace(/\/+$/, '');
  if (trimmed === '') return '';
  return trimmed.startsWith('/') ? trimmed : `/${trimmed}`;
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new TypeError(`${name} must be a positive number.`);
  return value;
}

function nonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) throw new TypeError(`${name} must be zero or more.`);
  return value;
}
