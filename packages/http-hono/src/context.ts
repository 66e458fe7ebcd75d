import { type Endpoint, type JobService, NotFoundError } from '@jobs/core';
import type { Context } from 'hono';
import { parsePreferWait } from './headers.js';
import type { AppSettings } from './options.js';
import { methodNotAllowed } from './problems.js';

/** A job as the service's `wait` answers it (what the routes read of a job: its header fields). */
export type JobState = Awaited<ReturnType<JobService['wait']>>;

/** What every route handler shares: the app's settings and the per-request helpers built on them. */
export interface AppContext extends AppSettings {
  /** The mount path: the request path minus the route's own `segments` trailing segments. */
  baseOf(c: Context, segments: number): string;
  /** The caller's owner key from the `owner` hook (null: no owner). */
  ownerOf(c: Context): Promise<string | null>;
  /** The endpoint named by the `:endpoint` path parameter; 404 when it is not exposed. */
  endpointOf(c: Context): Endpoint;
  /** Runs `wait` with a signal that aborts when the client goes away or the app shuts down. */
  waiting<T>(c: Context, wait: (signal: AbortSignal) => Promise<T>): Promise<T>;
  /** Applies `Prefer: wait=N`: returns the honoured seconds (and says so in `Preference-Applied`) or null. */
  preferredWait(c: Context): number | null;
}

export function createAppContext(settings: AppSettings): AppContext {
  const owners = new WeakMap<Request, Promise<string | null>>();
  return {
    ...settings,
    baseOf(c, segments) {
      if (settings.fixedBase !== null) return settings.fixedBase;
      const parts = new URL(c.req.url).pathname.split('/');
      return parts.slice(0, Math.max(1, parts.length - segments)).join('/');
    },
    ownerOf(c) {
      // Asked once per request: the waiter limit (waiters.ts) may need the owner before the route does.
      let owner = owners.get(c.req.raw);
      if (!owner) {
        owner = resolveOwner(settings, c);
        owners.set(c.req.raw, owner);
      }
      return owner;
    },
    endpointOf(c) {
      const name = c.req.param('endpoint') ?? '';
      const endpoint = settings.endpoints.get(name);
      if (!endpoint) throw new NotFoundError(`No endpoint named ${JSON.stringify(name)}.`);
      return endpoint;
    },
    async waiting(c, wait) {
      const { signal, dispose } = anySignal([c.req.raw.signal, settings.shutdown]);
      try {
        return await wait(signal);
      } finally {
        dispose();
      }
    },
    preferredWait(c) {
      c.header('Vary', 'Prefer', { append: true });
      const wait = parsePreferWait(c.req.header('prefer'));
      if (wait === null) return null;
      const applied = Math.min(wait, settings.maxWaitSeconds);
      c.header('Preference-Applied', `wait=${applied}`);
      return applied;
    },
  };
}

async function resolveOwner(settings: AppSettings, c: Context): Promise<string | null> {
  if (!settings.owner) return null;
  const owner = await settings.owner(c);
  if (owner === undefined || owner === null) return null;
  if (typeof owner !== 'string')
    throw new TypeError('The owner hook must return a string, null or undefined.');
  return owner;
}

export function isGet(c: Context): boolean {
  return c.req.method === 'GET' || c.req.method === 'HEAD';
}

/** `405` with `Allow`, or `204` with `Allow` for `OPTIONS`. */
export function notAllowed(c: Context, allow: string[]): Response {
  if (c.req.method === 'OPTIONS') return c.body(null, 204, { Allow: [...allow, 'OPTIONS'].join(', ') });
  return methodNotAllowed([...allow, 'OPTIONS']);
}

/**
 * A signal that aborts when any of `signals` does; `dispose` removes the listeners. Not `AbortSignal.any`: one of
 * the signals is the app's shutdown signal, which lives as long as the app, and a signal combined from it per
 * request stays registered on it (nodejs/node#54614, denoland/deno#24842); removing our listener at the end of
 * the request keeps a long-lived server's memory flat.
 */
export function anySignal(signals: readonly (AbortSignal | undefined)[]): {
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
