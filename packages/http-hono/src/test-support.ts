// Shared by the end-to-end tests: a real server on an ephemeral port with the memory blocks and a worker host.
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import {
  createJobsRuntime,
  defineEndpoint,
  implement,
  type JobQueue,
  type JobRepository,
  type JobsRuntime,
  type JobsRuntimeOptions,
  type Logger,
  type Worker,
} from '@jobs/core';
import { createMemoryQueue, createMemoryRepository } from '@jobs/memory';
import { defineTaskEndpoint, Gates, implementTask } from '@jobs/testing';
import { Hono } from 'hono';
import { expect } from 'vitest';
import { z } from 'zod';
import { createJobsApp, type JobsAppOptions } from './app.js';
import type { JobRepresentation } from './representation.js';

export const ping = defineEndpoint({
  name: 'ping',
  description: 'Answers at once.',
  input: z.object({ message: z.string().max(100) }),
  output: z.object({ pong: z.string() }),
});

/** A job the test drives step by step: each step waits for `gates.release(tag)`. */
export const task = defineTaskEndpoint({ concurrency: 2 });

export interface CapturedLog {
  level: string;
  message: string;
  fields?: Record<string, unknown> | undefined;
}

export function captureLogger(): Logger & { entries: CapturedLog[] } {
  const entries: CapturedLog[] = [];
  const log = (level: string) => (fields: Record<string, unknown>, message: string) => {
    entries.push({ level, message, fields });
  };
  return { entries, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

export interface TestServer {
  /** Origin, e.g. http://127.0.0.1:41234 */
  origin: string;
  /** Absolute URL of a path under the mount (`/jobs`). */
  url(path: string): string;
  runtime: JobsRuntime;
  repository: JobRepository;
  /** How often the repository was asked for this job so far. */
  getCalls(id: string): number;
  gates: Gates;
  logs: CapturedLog[];
  close(): Promise<void>;
}

export interface TestServerOptions {
  app?: Omit<JobsAppOptions, 'service'>;
  repository?: JobRepository;
  queue?: JobQueue;
  /** Mount path; default /jobs. */
  mount?: string;
  /** JobService options (e.g. pollIntervalMs). */
  service?: JobsRuntimeOptions['service'];
  /** Workers of endpoints of the test's own, besides `ping` and `task`. */
  workers?: readonly Worker<any>[];
  /** Recurring schedules, and the scheduler's options (false: listed, never submitted). */
  schedules?: JobsRuntimeOptions['schedules'];
  scheduler?: JobsRuntimeOptions['scheduler'];
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const gates = new Gates();
  const getCalls = new Map<string, number>();
  const repository = countGets(options.repository ?? createMemoryRepository(), getCalls);
  const queue = options.queue ?? createMemoryQueue();
  const logger = captureLogger();
  const runtime = createJobsRuntime({
    repository,
    queue,
    logger,
    service: options.service,
    schedules: options.schedules,
    scheduler: options.scheduler,
    host: { progressIntervalMs: 1, shutdownTimeoutMs: 1_000 },
    workers: [
      implement(ping, (input) => ({ pong: input.message })),
      implementTask(task, gates, { estimate: (input) => 60_000 + input.steps * 1_000 }),
      ...(options.workers ?? []),
    ],
  });
  await runtime.start();
  const shutdown = new AbortController();
  const mount = options.mount ?? '/jobs';
  const api = new Hono();
  api.route(
    mount,
    createJobsApp({ service: runtime.service, logger, signal: shutdown.signal, ...options.app }),
  );
  const server = serve({ fetch: api.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve, reject) => {
    if (server.listening) return resolve();
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  return {
    origin,
    url: (path) => `${origin}${mount === '/' ? '' : mount}${path}`,
    runtime,
    repository,
    getCalls: (id) => getCalls.get(id) ?? 0,
    gates,
    logs: logger.entries,
    async close() {
      shutdown.abort();
      await runtime.stop({ timeoutMs: 1_000 });
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        if ('closeAllConnections' in server) server.closeAllConnections();
      });
    },
  };
}

function countGets(repository: JobRepository, counts: Map<string, number>): JobRepository {
  return new Proxy(repository, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (property === 'get') {
        // Every argument goes through: the repository's `get` may take more than the id.
        return (...args: unknown[]) => {
          const id = String(args[0]);
          counts.set(id, (counts.get(id) ?? 0) + 1);
          return Reflect.apply(target.get, target, args);
        };
      }
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** Resolves once `condition` holds, checking every few milliseconds. */
export async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}

export async function json<T = any>(response: Response): Promise<T> {
  const text = await response.text();
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`Expected JSON, got ${response.status}: ${text.slice(0, 200)}`);
  }
}

/** Expects a problem+json answer with this status and code; returns the problem. */
export async function expectProblem(response: Response, status: number, code: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toBe('application/problem+json');
  const problem = await json(response);
  expect(problem).toMatchObject({ status, code });
  return problem;
}

export function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body),
    redirect: 'manual',
  });
}

export function get(url: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { headers, redirect: 'manual' });
}

/** Polls GET on the job until `predicate` holds (no timing assertion: the test timeout bounds it). */
export async function pollJob(
  server: TestServer,
  selfPath: string,
  predicate: (job: JobRepresentation) => boolean,
  headers: Record<string, string> = {},
): Promise<JobRepresentation> {
  for (;;) {
    const response = await get(`${server.origin}${selfPath}`, headers);
    const job = await json<JobRepresentation>(response);
    if (predicate(job)) return job;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export interface SseEvent {
  event: string;
  id: string | undefined;
  data: string;
}

/** Parses a text/event-stream body into events; comment lines are counted in `comments`. */
export class SseReader {
  readonly comments: string[] = [];
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder = new TextDecoder();
  #buffer = '';
  #ended = false;

  constructor(body: ReadableStream<Uint8Array>) {
    this.#reader = body.getReader();
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** The next event, or null when the stream ended. */
  async next(): Promise<SseEvent | null> {
    for (;;) {
      const boundary = this.#buffer.indexOf('\n\n');
      if (boundary !== -1) {
        const block = this.#buffer.slice(0, boundary);
        this.#buffer = this.#buffer.slice(boundary + 2);
        let event = 'message';
        let id: string | undefined;
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) this.comments.push(line.slice(1).trim());
          else if (line.startsWith('event:')) event = line.slice(6).trim();
          else if (line.startsWith('id:')) id = line.slice(3).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
        }
        if (data.length > 0) return { event, id, data: data.join('\n') };
        continue;
      }
      const { done, value } = await this.#reader.read();
      if (done) {
        this.#ended = true;
        return null;
      }
      this.#buffer += this.#decoder.decode(value, { stream: true });
    }
  }

  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}
