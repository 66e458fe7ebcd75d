// The quick start's service without a server, shared by the Node, Bun and Deno examples: the endpoints and
// workers on the in-memory repository and queue, as a web-standard fetch handler that @hono/node-server,
// Bun.serve and Deno.serve take as is. Nothing here depends on the runtime.
import { createJobsRuntime, type Logger } from '@jobs/core';
import { createJobsApp } from '@jobs/http-hono';
import { createMemoryQueue, createMemoryRepository } from '@jobs/memory';
import { Hono } from 'hono';
import { compressWorker, pingWorker } from './workers.js';

export interface QuickStartService {
  /** The HTTP API at /jobs (reference page at /jobs/docs; `/` redirects there). */
  fetch: (request: Request) => Response | Promise<Response>;
  /**
   * Graceful stop: calls `closeServer` (stop taking connections; its promise settles once the server has
   * closed), ends long-polls and event streams at once, lets running jobs finish (10 s at most), waits for
   * the server, then closes the queue and the repository. Later calls return the same promise.
   */
  stop(closeServer: () => Promise<void>): Promise<void>;
}

export interface ListenOptions {
  /** 0 picks a free port. */
  port: number;
  hostname: string;
}

/** PORT (default 3000) and HOST (default 127.0.0.1) from the environment; throws on a PORT that is no port. */
export function listenOptions(env: (name: string) => string | undefined): ListenOptions {
  const text = env('PORT') ?? '3000';
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65_535) throw new Error(`PORT must be a port number, got ${text}`);
  return { port, hostname: env('HOST') ?? '127.0.0.1' };
}

export async function startQuickStartService(options: {
  title: string;
  logger?: Logger;
}): Promise<QuickStartService> {
  const repository = createMemoryRepository();
  const queue = createMemoryQueue();
  const runtime = createJobsRuntime({
    repository,
    queue,
    workers: [pingWorker, compressWorker],
    logger: options.logger,
    host: { shutdownTimeoutMs: 10_000 },
  });
  await runtime.start();

  const shutdown = new AbortController();
  const app = new Hono();
  app.get('/', (c) => c.redirect('/jobs/docs'));
  app.route(
    '/jobs',
    createJobsApp({
      service: runtime.service,
      cors: true,
      signal: shutdown.signal,
      logger: options.logger,
      openapi: {
        title: options.title,
        version: '1.0.0',
        description: 'Two endpoints served from one process with the in-memory repository and queue.',
      },
    }),
  );

  let stopping: Promise<void> | null = null;
  return {
    fetch: (request) => app.fetch(request),
    stop(closeServer) {
      stopping ??= (async () => {
        const closed = closeServer();
        shutdown.abort();
        await runtime.stop();
        await closed;
        await queue.close();
        await repository.close();
      })();
      return stopping;
    },
  };
}

/** What the example prints once it listens; the tests read the origin from its first line. */
export function banner(name: string, origin: string): string {
  const api = `${origin}/jobs`;
  return `${name} is listening on ${origin}

  API:        ${api}          (endpoints: ${api}/ping, ${api}/compress)
  Reference:  ${api}/docs
  OpenAPI:    ${api}/openapi.json

Try it (202 Accepted, then follow Location; Prefer: wait=30 answers 303 to the output when done):

  curl -i ${api}/compress -H 'Content-Type: application/json' -d '{"megabytes":32}'
  curl -i ${api}/compress -H 'Content-Type: application/json' -H 'Prefer: wait=30' -d '{"megabytes":16}'
  curl -N ${api}/compress/<id>/events

Ctrl-C stops it.`;
}

type StopSignal = 'SIGINT' | 'SIGTERM';

/** A second signal this soon after the first is the same Ctrl-C relayed (pnpm forwards SIGTERM after SIGINT). */
const RELAYED_SIGNAL_MS = 1_000;

/**
 * SIGINT or SIGTERM stops the service gracefully (the process then ends on its own, with code 0); a second
 * signal a second or more later exits at once with 130. `listen` and `exit` are the runtime's (process.on /
 * Deno.addSignalListener).
 */
export function stopOnSignals(
  listen: (signal: StopSignal, handler: () => void) => void,
  stop: () => Promise<void>,
  exit: (code: number) => void,
): void {
  let firstAt: number | null = null;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    listen(signal, () => {
      if (firstAt !== null) {
        if (Date.now() - firstAt < RELAYED_SIGNAL_MS) return;
        console.log('Stopping at once.');
        exit(130);
        return;
      }
      firstAt = Date.now();
      console.log(`\n${signal}: stopping (running jobs get up to 10 s to finish; Ctrl-C again to force)…`);
      stop().then(
        () => console.log('Stopped.'),
        (error: unknown) => {
          console.error('Stop failed:', error);
          exit(1);
        },
      );
    });
  }
}
