import { Hono } from 'hono';
import { type LoopbackServer, serveOnLoopback } from '../contenders/hono-server.js';
import { serveRpc } from '../rpc.js';
import type { HttpTarget } from '../types.js';

/**
 * The reference for the HTTP overhead of `jobs`: a bare Hono handler that answers POST /jobs/noop with 202
 * and a small JSON body, served by @hono/node-server exactly as the jobs app is, in a child process of its own.
 */
let server: LoopbackServer | null = null;

const api = {
  async httpTarget(): Promise<HttpTarget> {
    if (!server) {
      const app = new Hono();
      app.post('/jobs/noop', async (c) => {
        await c.req.json();
        return c.json({ id: 'bare' }, 202);
      });
      server = await serveOnLoopback(app.fetch);
    }
    return { url: `${server.origin}/jobs/noop`, body: JSON.stringify({ seq: 0 }) };
  },
  async close(): Promise<void> {
    await server?.close();
    server = null;
  },
};

export type BareServerApi = typeof api;

serveRpc(api);
