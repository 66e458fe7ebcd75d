import type { JobService, Logger } from '@jobs/core';
import { createJobsApp } from '@jobs/http-hono';
import { Hono } from 'hono';
import { serveOnLoopback } from './hono-server.js';

/**
 * `jobs` over HTTP: createJobsApp served by @hono/node-server on 127.0.0.1, and the client side the bench
 * uses (Node's fetch, keep-alive): POST /jobs/{endpoint} to submit, GET /jobs/{endpoint}/{id} with
 * `Prefer: wait=N` to long-poll.
 */
export interface JobsHttpClient {
  submitUrl: string;
  submit(input: unknown): Promise<string>;
  /** One long-poll; resolves with the status seen: `succeeded` on a 303, else the job's status. */
  longPoll(id: string, waitSeconds: number, signal?: AbortSignal): Promise<string>;
  close(): Promise<void>;
}

export async function serveJobsOverHttp(
  service: JobService,
  endpoint: string,
  logger: Logger,
): Promise<JobsHttpClient> {
  const app = new Hono();
  const shutdown = new AbortController();
  app.route('/jobs', createJobsApp({ service, openapi: false, signal: shutdown.signal, logger }));
  const server = await serveOnLoopback(app.fetch);
  const base = `${server.origin}/jobs/${endpoint}`;
  return {
    submitUrl: base,
    async submit(input) {
      const response = await fetch(base, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(input),
      });
      const body = (await response.json()) as { id?: string };
      if (response.status !== 202 || typeof body.id !== 'string')
        throw new Error(`POST answered ${response.status}: ${JSON.stringify(body)}`);
      return body.id;
    },
    async longPoll(id, waitSeconds, signal) {
      const response = await fetch(`${base}/${id}`, {
        headers: { prefer: `wait=${waitSeconds}` },
        redirect: 'manual',
        ...(signal ? { signal } : {}),
      });
      if (response.status === 303) {
        await response.arrayBuffer();
        return 'succeeded';
      }
      const body = (await response.json()) as { status?: string };
      if (response.status !== 200 || typeof body.status !== 'string')
        throw new Error(`GET ${id} answered ${response.status}: ${JSON.stringify(body)}`);
      return body.status;
    },
    async close() {
      shutdown.abort();
      await server.close();
    },
  };
}
