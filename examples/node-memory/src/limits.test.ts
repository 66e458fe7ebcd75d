import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUICK_START_LIMITS, remoteAddress } from './limits.js';
import { type QuickStartServer, startQuickStart } from './server.js';

let quickStart: QuickStartServer;
let origin: string;
beforeAll(async () => {
  quickStart = await startQuickStart({ port: 0, hostname: '127.0.0.1', storage: { kind: 'memory' } });
  origin = `http://127.0.0.1:${quickStart.port}`;
});
afterAll(async () => {
  await quickStart?.stop();
});

/** Writes raw bytes and reads the answer until the server closes the connection. */
function exchange(bytes: string): Promise<{ status: number; contentType: string | undefined; body: string }> {
  return new Promise((resolve) => {
    const socket = net.connect(quickStart.port, '127.0.0.1', () => socket.write(bytes));
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      data += chunk;
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      const [head = '', body = ''] = data.split('\r\n\r\n');
      resolve({
        status: Number(head.split(' ')[1]),
        contentType: /content-type: ([^\r\n]+)/i.exec(head)?.[1],
        body,
      });
    });
  });
}

describe('the quick start under hostile input', () => {
  it('answers what node:http refuses before the app with problems, not bare text', async () => {
    for (const [bytes, status] of [
      ['NOT HTTP\r\n\r\n', 400],
      [
        `GET /jobs/ping?${'q'.repeat(QUICK_START_LIMITS.server.maxHeaderBytes)} HTTP/1.1\r\nHost: x\r\n\r\n`,
        431,
      ],
      ['GET /jobs/ping HTTP/1.1\r\nConnection: close\r\n\r\n', 400],
    ] as const) {
      const answer = await exchange(bytes);
      expect(answer.status).toBe(status);
      expect(answer.contentType).toBe('application/problem+json');
      expect(JSON.parse(answer.body)).toMatchObject({ status });
    }
  });

  it('refuses bodies over its 64 KiB and JSON deeper than 64 levels, and answers unknown paths with problems', async () => {
    const post = (body: string) =>
      fetch(`${origin}/jobs/ping`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const large = await post(JSON.stringify({ message: 'x'.repeat(QUICK_START_LIMITS.app.maxBodyBytes) }));
    expect(large.status).toBe(413);
    const deep = await post(`{"message":${'['.repeat(65)}${']'.repeat(65)}}`);
    expect(deep.status).toBe(422);
    expect((await deep.json()).issues[0].code).toBe('too_deep');
    for (const path of ['/nowhere', '/jobs/%2e%2e/x']) {
      const answer = await fetch(`${origin}${path}`);
      expect(answer.status).toBe(404);
      expect(answer.headers.get('content-type')).toBe('application/problem+json');
    }
  });
});

describe('remoteAddress', () => {
  it("reads the client's address on Node, Bun and Deno", async () => {
    const app = new Hono();
    app.get('/', (c) => c.text(String(remoteAddress(c))));
    const server = createServer(getRequestListener(app.fetch));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const port = (server.address() as AddressInfo).port;
    try {
      expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('127.0.0.1');
    } finally {
      server.close();
    }
    const bun = { requestIP: (request: Request) => (request ? { address: '10.0.0.1' } : null) };
    expect(await (await app.fetch(new Request('http://x/'), bun)).text()).toBe('10.0.0.1');
    const deno = { remoteAddr: { hostname: '10.0.0.2', port: 1, transport: 'tcp' } };
    expect(await (await app.fetch(new Request('http://x/'), deno)).text()).toBe('10.0.0.2');
    expect(await (await app.fetch(new Request('http://x/'))).text()).toBe('null');
  });
});
