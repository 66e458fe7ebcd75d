// The quick start's resource limits, all in one place (SECURITY.md at the repository root explains each). Change
// them here; the Node server (server.ts) and the service shared with Bun and Deno (service.ts) read them.
import { NODE_SERVER_LIMITS, type NodeServerLimits } from '@jobs/http-hono';
import type { Context } from 'hono';

export const QUICK_START_LIMITS = {
  /** node:http: headers in 10 s, a whole request in 30 s, idle keep-alive 5 s, 1,000 connections, 16 KiB of headers. */
  server: { ...NODE_SERVER_LIMITS } satisfies Required<NodeServerLimits>,
  /** createJobsApp: the endpoints' inputs are a few bytes, so a body of 64 KiB is plenty. */
  app: {
    maxBodyBytes: 64 * 1024,
    maxJsonDepth: 64,
    /** Long-polls and event streams open at once per client address (see `clientKey`). */
    maxWaitersPerClient: 100,
    maxWaitSeconds: 60,
  },
  /** The in-memory repository (`--memory`): jobs kept at most, finished ones included until they expire. */
  maxJobs: 10_000,
} as const;

/**
 * The client address of a request, on Node (@hono/node-server), Bun (Bun.serve) and Deno (Deno.serve), for
 * `clientKey`: the waiting requests of one address are capped. Behind a proxy every client has the proxy's
 * address: key by what the proxy forwards (a verified header) or by owner instead.
 */
export function remoteAddress(c: Context): string | null {
  const env = c.env as
    | {
        incoming?: { socket?: { remoteAddress?: string } };
        requestIP?: (request: Request) => { address: string } | null;
        remoteAddr?: { hostname?: string };
      }
    | undefined;
  return (
    env?.incoming?.socket?.remoteAddress ??
    env?.requestIP?.(c.req.raw)?.address ??
    env?.remoteAddr?.hostname ??
    null
  );
}
