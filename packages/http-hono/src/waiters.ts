import { problemType } from '@jobs/core';
import type { Context, Hono, Next } from 'hono';
import { type AppContext, isGet } from './context.js';
import { parsePreferWait } from './headers.js';
import { problemResponse } from './problems.js';

/** The `Retry-After` of a `429` to a client at its cap of waiting requests, in seconds. */
export const WAITERS_RETRY_AFTER_SECONDS = 5;

/** How many requests each client has waiting, and the cap. */
export class WaiterCounts {
  readonly #counts = new Map<string, number>();
  readonly max: number;

  constructor(max: number) {
    this.max = max;
  }

  /** Clients with at least one waiting request. */
  get clients(): number {
    return this.#counts.size;
  }

  /** Takes a slot of `key`; returns the function that gives it back (any number of calls, once), or null at the cap. */
  acquire(key: string): (() => void) | null {
    const count = this.#counts.get(key) ?? 0;
    if (count >= this.max) return null;
    this.#counts.set(key, count + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#counts.get(key) ?? 1) - 1;
      if (left > 0) this.#counts.set(key, left);
      else this.#counts.delete(key);
    };
  }
}

type Route = 'submit' | 'job' | 'events';

/** Paths below an endpoint that are not jobs (job ids are UUIDs, so none is ever called so). */
export const COLLECTION_ROUTES: ReadonlySet<string> = new Set(['batch', 'schedules']);

/**
 * Caps the requests one client has waiting at once (`maxWaitersPerClient`): `POST` and `GET` of a job with
 * `Prefer: wait=N` (N > 0), and event streams. Past the cap the request is answered `429` with `Retry-After`
 * before anything is done (a POST stores nothing). A long-poll holds its slot until it is answered, an event
 * stream until it ends or the client goes away. Register it before the routes.
 */
export function limitWaiters(app: Hono, ctx: AppContext): void {
  if (ctx.maxWaitersPerClient === Number.POSITIVE_INFINITY) return;
  const counts = new WaiterCounts(ctx.maxWaitersPerClient);
  const limit = (route: Route) => async (c: Context, next: Next) => {
    if (!waits(ctx, c, route)) return next();
    const key = await clientOf(ctx, c);
    if (key === null) return next();
    const release = counts.acquire(key);
    if (!release) return tooManyWaiters(counts.max);
    try {
      await next();
    } finally {
      holdUntilEnd(c, release);
    }
  };
  app.use('/:endpoint', limit('submit'));
  app.use('/:endpoint/:id', limit('job'));
  app.use('/:endpoint/:id/events', limit('events'));
}

function waits(ctx: AppContext, c: Context, route: Route): boolean {
  if (!ctx.endpoints.has(c.req.param('endpoint') ?? '')) return false; // the route answers 404
  if (route === 'events') return c.req.method === 'GET';
  // The collection routes next to the jobs (/{endpoint}/batch, …) never wait.
  if (route === 'job' && COLLECTION_ROUTES.has(c.req.param('id') ?? '')) return false;
  if (route === 'submit' ? c.req.method !== 'POST' : !isGet(c)) return false;
  return ctx.maxWaitSeconds > 0 && (parsePreferWait(c.req.header('prefer')) ?? 0) > 0;
}

async function clientOf(ctx: AppContext, c: Context): Promise<string | null> {
  const key = ctx.clientKey ? await ctx.clientKey(c) : await ctx.ownerOf(c);
  if (key === undefined || key === null) return null;
  if (typeof key !== 'string')
    throw new TypeError('The clientKey hook must return a string, null or undefined.');
  return key;
}

function tooManyWaiters(max: number): Response {
  return problemResponse(
    {
      type: problemType('too_many_waiters'),
      title: 'Too many waiting requests',
      status: 429,
      code: 'too_many_waiters',
      detail: `This client already has ${max} requests waiting (long-polls with Prefer: wait, event streams), the most it may. Retry once one has ended, or poll without Prefer: wait.`,
      limit: max,
    },
    { 'Retry-After': String(WAITERS_RETRY_AFTER_SECONDS) },
  );
}

/** Releases at once, or for an event stream when its body ends, is canceled, or the client goes away. */
function holdUntilEnd(c: Context, release: () => void): void {
  const response = c.res;
  const body = response.body;
  if (!body || !response.headers.get('content-type')?.startsWith('text/event-stream')) {
    release();
    return;
  }
  c.req.raw.signal.addEventListener('abort', release, { once: true });
  const reader = body.getReader();
  const watched = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (!done) return controller.enqueue(value);
          release();
          controller.close();
        } catch (error) {
          release();
          controller.error(error);
        }
      },
      cancel(reason) {
        release();
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  c.res = new Response(watched, { status: response.status, headers: response.headers });
}
