import { consoleLogger } from '@jobs/core';
import { type Context, Hono } from 'hono';
import { MAX_PAGE_SIZE, mountApi } from './api.js';
import { ACTION_HEADER, type DashboardAccess, type DashboardOptions } from './options.js';
import { dashboardPage } from './page.js';
import { errorResponse, forbidden, problem } from './problems.js';
import { DASHBOARD_SCRIPT } from './script.generated.js';
import { DASHBOARD_STYLE } from './style.js';

/** Every answer: nothing of the page may run or load from elsewhere, nor the page be framed. */
const SECURITY_HEADERS = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
};

/**
 * The dashboard as a Hono app; mount it with `app.route('/dashboard', createDashboard({ service, authorize }))`.
 * It serves its page, its script and style sheet (no CDN, no other origin) and a JSON API under its mount, and
 * asks `authorize` on every request: without the hook, or when it refuses, the answer is `403`.
 */
export function createDashboard(options: DashboardOptions): Hono {
  if (!options?.service) throw new TypeError('createDashboard: `service` is required.');
  const { service } = options;
  const authorize = typeof options.authorize === 'function' ? options.authorize : null;
  const logger = options.logger ?? consoleLogger;
  const pageSize = options.pageSize ?? 50;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
    throw new TypeError(`createDashboard: pageSize must be an integer from 1 to ${MAX_PAGE_SIZE}.`);
  }
  const title = options.title ?? 'Jobs';
  const accesses = new WeakMap<Request, DashboardAccess>();

  const app = new Hono();
  app.onError((error, c) => withHeaders(errorResponse(error, logger, c.req.raw)));
  app.notFound(() => withHeaders(problem(404, 'not_found', 'Not found', 'No such resource.')));
  app.use('*', async (c, next) => {
    if (!authorize) {
      logger.warn({}, 'dashboard: no authorization hook given; every request is refused');
      return withHeaders(forbidden());
    }
    const access = await authorize(c);
    if (!access || typeof access !== 'object') return withHeaders(forbidden());
    if (!isSafe(c.req.method) && !sameOriginAction(c)) {
      return withHeaders(
        problem(
          403,
          'forbidden',
          'Forbidden',
          `Actions need the ${ACTION_HEADER} header, from the dashboard's page.`,
        ),
      );
    }
    accesses.set(c.req.raw, { owner: access.owner });
    await next();
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.res.headers.set(name, value);
  });

  app.get('/', (c) => {
    const path = c.req.path;
    const access = accesses.get(c.req.raw)!;
    c.header('Cache-Control', 'no-store');
    return c.html(
      dashboardPage({
        title,
        base: path.endsWith('/') ? path : `${path}/`,
        config: {
          title,
          pageSize,
          endpoints: [...service.endpoints.keys()],
          owner: access.owner === undefined ? { limited: false } : { limited: true, owner: access.owner },
        },
      }),
    );
  });
  app.get('/assets/dashboard.js', (c) => {
    c.header('Content-Type', 'text/javascript; charset=utf-8');
    c.header('Cache-Control', 'no-cache');
    return c.body(DASHBOARD_SCRIPT);
  });
  app.get('/assets/dashboard.css', (c) => {
    c.header('Content-Type', 'text/css; charset=utf-8');
    c.header('Cache-Control', 'no-cache');
    return c.body(DASHBOARD_STYLE);
  });
  mountApi(app, {
    service,
    pageSize,
    heartbeatMs: options.heartbeatMs ?? 15_000,
    logger,
    shutdown: options.signal,
    accessOf: (c: Context) => {
      const access = accesses.get(c.req.raw);
      // Never "every owner" by default: a route reached without the hook's decision is a bug, not a user.
      if (!access) throw new Error('dashboard: a request reached a route without an access decision');
      return access;
    },
  });
  return app;
}

const isSafe = (method: string) => method === 'GET' || method === 'HEAD' || method === 'OPTIONS';

/** An action must come from the dashboard's own script: it sends the header, and no other site's page can. */
function sameOriginAction(c: Context): boolean {
  if (c.req.header(ACTION_HEADER) !== '1') return false;
  const site = c.req.header('sec-fetch-site');
  return site === undefined || site === 'same-origin' || site === 'none';
}

function withHeaders(response: Response): Response {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) response.headers.set(name, value);
  return response;
}
