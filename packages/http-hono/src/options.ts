import type { Endpoint, JobService, Logger } from '@jobs/core';
import type { Context } from 'hono';
import { DEFAULT_MAX_JSON_DEPTH } from './body.js';
import type { OpenApiOptions } from './openapi.js';

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
  /**
   * Deepest nesting of arrays and objects in a request body; a deeper one is refused (`422`, an issue coded
   * `too_deep`) by a scan of the text before it is parsed, so neither the parser nor a schema spends time or
   * stack on it. Default 64.
   */
  maxJsonDepth?: number;
  /**
   * Requests of one client that may wait at once (long-polls with `Prefer: wait`, event streams); one more is
   * answered `429` with `Retry-After` before anything is done. Who "one client" is: `clientKey`, else the
   * owner; requests without either are not counted. `Infinity` turns the cap off. Default 100.
   */
  maxWaitersPerClient?: number;
  /**
   * The client a waiting request counts against for `maxWaitersPerClient`, e.g. the remote address
   * (`getConnInfo(c).remote.address` from `@hono/node-server/conninfo`, `hono/bun`, `hono/deno`). null or
   * undefined: not counted. Default: the owner key from the `owner` hook.
   */
  clientKey?: (c: Context<any, any, any>) => string | null | undefined | Promise<string | null | undefined>;
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
  /**
   * Prefix of the problem `type` URIs of this app's answers and of its jobs' errors, e.g.
   * `https://docs.example.com/problems/` (then `…/problems/not-found`). Default `urn:jobs:problem:`
   * (`PROBLEM_TYPE_BASE` of `@jobs/core`): identifiers that do not resolve. The `code` field is the same
   * whatever the base.
   */
  problemTypeBase?: string;
  /** Aborting it ends open event streams and long-polls (call it before closing the server). */
  signal?: AbortSignal;
  /** Where unexpected errors (with their stack) and backend outages are logged. Default: console. */
  logger?: Logger;
}

/** The options checked, with their defaults applied. */
export interface AppSettings {
  service: JobService;
  logger: Logger;
  owner: OwnerResolver | undefined;
  /** The exposed endpoints by name. */
  endpoints: Map<string, Endpoint>;
  maxBodyBytes: number;
  maxJsonDepth: number;
  maxWaitersPerClient: number;
  clientKey: JobsAppOptions['clientKey'];
  maxWaitSeconds: number;
  heartbeatMs: number;
  shutdown: AbortSignal | undefined;
  /** null: neither the document nor the page. */
  openapi: OpenApiOptions | null;
  /** Path of the reference page under the mount (`/docs`), or null for none. */
  docsPath: string | null;
  /** The `basePath` option, normalized; null: derived from each request. */
  fixedBase: string | null;
  /** The `problemTypeBase` option; undefined: `@jobs/core`'s default. */
  problemTypeBase: string | undefined;
}

const MIB = 1024 * 1024;
const RESERVED = new Set(['openapi.json']);

export function resolveSettings(options: JobsAppOptions, logger: Logger): AppSettings {
  // Checked in this order, so that the first mistake is the one reported.
  const maxBodyBytes = positive('maxBodyBytes', options.maxBodyBytes ?? MIB);
  const maxJsonDepth = atLeastOne('maxJsonDepth', options.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH);
  const maxWaitersPerClient = atLeastOne('maxWaitersPerClient', options.maxWaitersPerClient ?? 100);
  const maxWaitSeconds = nonNegative('maxWaitSeconds', options.maxWaitSeconds ?? 60);
  const heartbeatMs = positive('heartbeatSeconds', options.heartbeatSeconds ?? 15) * 1000;
  const endpoints = selectEndpoints(options.service, options.endpoints);
  const openapi = options.openapi === false ? null : (options.openapi ?? {});
  const docsPath =
    openapi === null || openapi.docsPath === false ? null : normalizePath(openapi.docsPath ?? '/docs');
  if (docsPath && endpoints.has(docsPath.slice(1))) {
    throw new TypeError(
      `The reference page path ${docsPath} collides with the endpoint of that name; set openapi.docsPath.`,
    );
  }
  return {
    service: options.service,
    logger,
    owner: options.owner,
    endpoints,
    maxBodyBytes,
    maxJsonDepth,
    maxWaitersPerClient,
    clientKey: options.clientKey,
    maxWaitSeconds,
    heartbeatMs,
    shutdown: options.signal,
    openapi,
    docsPath,
    fixedBase: options.basePath === undefined ? null : normalizeBase(options.basePath),
    problemTypeBase: problemTypeBase(options.problemTypeBase),
  };
}

function problemTypeBase(base: string | undefined): string | undefined {
  if (base === undefined) return undefined;
  if (typeof base !== 'string' || base.trim() === '' || /\s/.test(base)) {
    throw new TypeError(
      'problemTypeBase must be a URI prefix without spaces, e.g. https://example.com/problems/.',
    );
  }
  return base;
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

/** A whole number of at least 1, or Infinity (no limit). */
function atLeastOne(name: string, value: number): number {
  if (value !== Number.POSITIVE_INFINITY && !(Number.isInteger(value) && value >= 1)) {
    throw new TypeError(`${name} must be a whole number of at least 1, or Infinity.`);
  }
  return value;
}
