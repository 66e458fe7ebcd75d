// The quick start's service without a server, shared by the Node, Bun and Deno examples: the endpoints and
// workers on a SQLite file (or the in-memory repository) and the in-memory queue, as a web-standard fetch
// handler that @hono/node-server, Bun.serve and Deno.serve take as is. Nothing here depends on the runtime but
// the SQLite driver, which each runtime's main.ts chooses.
import { createJobsRuntime, type JobRepository, type Logger } from '@jobs/core';
import { createJobsApp, notFoundResponse } from '@jobs/http-hono';
import { createMemoryQueue, createMemoryRepository } from '@jobs/memory';
import { createSqliteRepository, type SqliteDriver } from '@jobs/repo-sqlite';
import { Hono } from 'hono';
import { pingEveryMinute } from './endpoints.js';
import { QUICK_START_LIMITS, remoteAddress } from './limits.js';
import { compressWorker, pingWorker } from './workers.js';

export interface QuickStartService {
  /** The HTTP API at /jobs (reference page at /jobs/docs; `/` redirects there). */
  fetch: (request: Request, env?: unknown) => Response | Promise<Response>;
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

/** Where the jobs are kept: a SQLite file (they survive a restart), or memory. */
export type Storage = { kind: 'sqlite'; path: string; driver: SqliteDriver } | { kind: 'memory' };

/**
 * `--memory` (or JOBS_MEMORY=1): the in-memory repository. Otherwise a SQLite file, `jobs.sqlite` in the folder
 * JOBS_DATA_DIR (default `data`, beside where it runs), with the driver the runtime's main.ts chose.
 */
export function storageOptions(
  args: readonly string[],
  env: (name: string) => string | undefined,
  driver: SqliteDriver,
): Storage {
  if (args.includes('--memory') || ['1', 'true'].includes(env('JOBS_MEMORY') ?? ''))
    return { kind: 'memory' };
  const folder = (env('JOBS_DATA_DIR') ?? 'data').replace(/\/+$/, '');
  return { kind: 'sqlite', path: `${folder}/jobs.sqlite`, driver };
}

/** One line for the banner: where the jobs are kept. */
export function describeStorage(storage: Storage): string {
  return storage.kind === 'memory'
    ? 'Jobs:       in memory (gone after a restart; without --memory they are kept in data/jobs.sqlite)'
    : `Jobs:       SQLite file ${storage.path} (driver ${storage.driver}; kept across restarts, --memory or JOBS_MEMORY=1 for memory)`;
}

export async function startQuickStartService(options: {
  title: string;
  logger?: Logger;
  /** Default: in memory. */
  storage?: Storage;
}): Promise<QuickStartService> {
  const storage = options.storage ?? { kind: 'memory' };
  let repository: JobRepository;
  if (storage.kind === 'sqlite') {
    const sqlite = createSqliteRepository({
      path: storage.path,
      driver: storage.driver,
      logger: options.logger,
    });
    await sqlite.open(); // a file that cannot be opened stops the start, with the reason
    repository = sqlite;
  } else repository = createMemoryRepository({ maxJobs: QUICK_START_LIMITS.maxJobs });
  const queue = createMemoryQueue();
  const runtime = createJobsRuntime({
    repository,
    queue,
    workers: [pingWorker, compressWorker],
    schedules: [pingEveryMinute],
    logger: options.logger,
    host: { shutdownTimeoutMs: 10_000 },
    // The in-memory queue's messages die with the process: jobs handed to it before a restart are handed out again
    // once they waited this long unclaimed (only while the queue is empty, so a backlog is not doubled).
    sweeper: { redispatchAfterMs: 5_000 },
  });
  await runtime.start();

  const shutdown = new AbortController();
  const app = new Hono();
  app.get('/', (c) => c.redirect('/jobs/docs'));
  app.notFound(notFoundResponse); // outside /jobs too, every error is a problem
  app.route(
    '/jobs',
    createJobsApp({
      service: runtime.service,
      cors: true,
      ...QUICK_START_LIMITS.app,
      clientKey: remoteAddress,
      signal: shutdown.signal,
      logger: options.logger,
      openapi: {
        title: options.title,
        version: '1.0.0',
        description:
          storage.kind === 'sqlite'
            ? 'Two endpoints served from one process, the jobs kept in a SQLite file, with the in-memory queue.'
            : 'Two endpoints served from one process with the in-memory repository and queue.',
        // What API linters (redocly lint, Spectral) ask of a document, and only the deployment can say.
        contact: { name: 'jobs', url: 'https://github.com/jobs-ts/jobs' },
        license: { name: 'MIT', identifier: 'MIT' },
      },
    }),
  );

  let stopping: Promise<void> | null = null;
  return {
    // The runtime's second argument (Node's incoming message, Bun's server, Deno's connection info) goes on
    // to the app: remoteAddress reads the client's address from it.
    fetch: (request, env) => app.fetch(request, env),
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
export function banner(name: string, origin: string, storage?: Storage): string {
  const api = `${origin}/jobs`;
  return `${name} is listening on ${origin}

${storage ? `  ${describeStorage(storage)}\n` : ''}  API:        ${api}          (endpoints: ${api}/ping, ${api}/compress)
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
