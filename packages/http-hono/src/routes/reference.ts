import type { Hono } from 'hono';
import { type AppContext, isGet, notAllowed } from '../context.js';
import { buildOpenApiDocument } from '../openapi.js';
import { referencePage } from '../reference/page.js';

/** Documents kept per mount path (the `servers` and the page's links depend on it), at most this many. */
const MAX_CACHED_DOCUMENTS = 16;

/** `GET /openapi.json` (the OpenAPI document of the exposed endpoints) and the reference page (`/docs`). */
export function mountReference(app: Hono, ctx: AppContext): void {
  const openapi = ctx.openapi;
  if (openapi === null) return;
  const documents = new Map<string, Record<string, unknown>>();
  app.all('/openapi.json', (c) => {
    if (!isGet(c)) return notAllowed(c, ['GET', 'HEAD']);
    const base = ctx.baseOf(c, 1);
    let document = documents.get(base);
    if (!document) {
      document = buildOpenApiDocument({
        ...openapi,
        endpoints: [...ctx.endpoints.values()],
        basePath: base,
        maxWaitSeconds: ctx.maxWaitSeconds,
        maxBodyBytes: ctx.maxBodyBytes,
        docsPath: ctx.docsPath ?? false,
      });
      if (documents.size > MAX_CACHED_DOCUMENTS) documents.clear();
      documents.set(base, document);
    }
    c.header('Cache-Control', 'no-cache');
    return c.json(document);
  });
  const docsPath = ctx.docsPath;
  if (!docsPath) return;
  const segments = docsPath.split('/').length - 1;
  app.all(docsPath, (c) => {
    if (!isGet(c)) return notAllowed(c, ['GET', 'HEAD']);
    c.header('Cache-Control', 'no-cache');
    return c.html(
      referencePage({
        title: openapi.title ?? 'Jobs API',
        specUrl: `${ctx.baseOf(c, segments)}/openapi.json`,
      }),
    );
  });
}
