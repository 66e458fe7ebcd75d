import { type JobRepository, UnavailableError } from '@jobs/core';
import { createMemoryRepository } from '@jobs/memory';
import { HTTPException } from 'hono/http-exception';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobListRepresentation } from './representation.js';
import { get, json, postJson, startTestServer, type TestServer } from './test-support.js';

const LIMIT = 1024;
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ app: { maxBodyBytes: LIMIT } });
});
afterAll(async () => {
  await server.close();
});

async function expectProblem(response: Response, status: number, code: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toBe('application/problem+json');
  const problem = await response.json();
  expect(problem).toMatchObject({
    status,
    code,
    type: `urn:jobs:problem:${code.replaceAll('_', '-')}`,
    title: expect.any(String),
    detail: expect.any(String),
  });
  return problem;
}

async function expectNothingStored(target: TestServer = server, viaApi = true) {
  for (const endpoint of ['ping', 'task']) {
    if (viaApi) {
      const list = await json<JobListRepresentation>(await get(target.url(`/${endpoint}`)));
      expect(list.jobs).toEqual([]);
    }
    const stored = await target.repository.list({ endpoint, owner: null, limit: 100 });
    expect(stored.jobs).toEqual([]);
  }
}

function post(body: BodyInit | null, headers: Record<string, string>, init: RequestInit = {}) {
  return fetch(server.url('/ping'), { method: 'POST', headers, body, redirect: 'manual', ...init });
}

describe('rejected requests change nothing', () => {
  it('415 for a missing or non-JSON media type, a non-UTF-8 charset or a Content-Encoding', async () => {
    await expectProblem(await post('{"message":"x"}', {}), 415, 'unsupported_media_type');
    await expectProblem(
      await post('{"message":"x"}', { 'Content-Type': 'text/plain' }),
      415,
      'unsupported_media_type',
    );
    await expectProblem(
      await post('message=x', { 'Content-Type': 'application/x-www-form-urlencoded' }),
      415,
      'unsupported_media_type',
    );
    await expectProblem(
      await post('{"message":"x"}', { 'Content-Type': 'application/json; charset=iso-8859-1' }),
      415,
      'unsupported_media_type',
    );
    await expectProblem(
      await post('{"message":"x"}', { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' }),
      415,
      'unsupported_media_type',
    );
    await expectNothingStored();
  });

  it('accepts application/json with parameters and application/*+json', async () => {
    const other = await startTestServer();
    try {
      for (const type of [
        'application/json; charset=utf-8',
        'application/merge-patch+json',
        'APPLICATION/JSON',
      ]) {
        const response = await fetch(other.url('/ping'), {
          method: 'POST',
          headers: { 'Content-Type': type },
          body: '{"message":"x"}',
        });
        expect(response.status).toBe(202);
      }
    } finally {
      await other.close();
    }
  });

  it('400 for malformed JSON, an empty body and invalid UTF-8', async () => {
    const json = { 'Content-Type': 'application/json' };
    await expectProblem(await post('{"message":', json), 400, 'invalid_json');
    await expectProblem(await post('', json), 400, 'invalid_json');
    await expectProblem(await post(null, json), 400, 'invalid_json');
    await expectProblem(
      await post(new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), json),
      400,
      'invalid_json',
    );
    await expectNothingStored();
  });

  it('413 when the declared Content-Length is over the limit', async () => {
    const body = JSON.stringify({ message: 'x'.repeat(LIMIT) });
    const problem = await expectProblem(
      await post(body, { 'Content-Type': 'application/json' }),
      413,
      'payload_too_large',
    );
    expect(problem.limit).toBe(LIMIT);
    await expectNothingStored();
  });

  it('413 while reading a streamed body without Content-Length, before the body ends', async () => {
    // A body far larger than anything the server could buffer in this test: the 413 must come while reading.
    const cap = 512 * 1024 * 1024;
    let pulled = 0;
    const chunk = new TextEncoder().encode(' '.repeat(16 * 1024));
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulled >= cap) return controller.close();
        pulled += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    const response = await post(stream, { 'Content-Type': 'application/json' }, {
      duplex: 'half',
    } as RequestInit);
    await expectProblem(response, 413, 'payload_too_large');
    expect(pulled).toBeLessThan(cap);
    await expectNothingStored();
  });

  it('accepts a body of exactly the limit', async () => {
    const other = await startTestServer({ app: { maxBodyBytes: LIMIT } });
    try {
      const prefix = '{"message":"';
      const suffix = '"}';
      const padding = ' '.repeat(LIMIT - prefix.length - suffix.length - 2);
      const body = `${prefix}m${suffix}${padding}`;
      expect(new TextEncoder().encode(body).byteLength).toBe(LIMIT - 1);
      const send = (text: string) =>
        fetch(other.url('/ping'), {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: text,
        });
      expect((await send(`${body}  `)).status).toBe(413);
      const exact = await send(`${body} `);
      expect(exact.status).toBe(202);
    } finally {
      await other.close();
    }
  });

  it('422 with the zod issues for a schema-invalid input', async () => {
    const response = await postJson(server.url('/ping'), { message: 42, extra: true });
    const problem = await expectProblem(response, 422, 'invalid_input');
    expect(problem.issues).toEqual([
      expect.objectContaining({ path: ['message'], message: expect.any(String), code: 'invalid_type' }),
    ]);
    const tooLong = await postJson(server.url('/ping'), { message: 'x'.repeat(101) });
    const second = await expectProblem(tooLong, 422, 'invalid_input');
    expect(second.issues[0].path).toEqual(['message']);
    const wrongShape = await postJson(server.url('/task'), ['not', 'an', 'object']);
    await expectProblem(wrongShape, 422, 'invalid_input');
    await expectNothingStored();
  });

  it('404 for an unknown endpoint, whatever the body', async () => {
    const response = await postJson(server.url('/unknown'), { message: 'x' });
    await expectProblem(response, 404, 'not_found');
    await expectNothingStored();
  });
});

/** A repository whose chosen methods fail. */
function failing(repository: JobRepository, failures: Partial<Record<keyof JobRepository, () => Error>>) {
  return new Proxy(repository, {
    get(target, property, receiver) {
      const failure = failures[property as keyof JobRepository];
      if (failure) {
        return async () => {
          throw failure();
        };
      }
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe('backend and unexpected errors', () => {
  it('503 with Retry-After when the backend is unavailable, without its internal message', async () => {
    const repository = failing(createMemoryRepository(), {
      create: () =>
        new UnavailableError('connect ECONNREFUSED 10.1.2.3:5432 (db-internal)', { retryAfterSeconds: 7 }),
      list: () => new UnavailableError('pool exhausted at db-internal'),
    });
    const broken = await startTestServer({ repository });
    try {
      const response = await postJson(broken.url('/ping'), { message: 'x' });
      expect(response.headers.get('retry-after')).toBe('7');
      const text = JSON.stringify(await expectProblem(response, 503, 'unavailable'));
      expect(text).not.toContain('db-internal');
      const list = await get(broken.url('/ping'));
      expect(list.headers.get('retry-after')).toBe('5');
      await expectProblem(list, 503, 'unavailable');
      expect(
        broken.logs.some(
          (entry) => entry.level === 'warn' && String(entry.fields?.error).includes('db-internal'),
        ),
      ).toBe(true);
    } finally {
      await broken.close();
    }
  });

  it('500 with a generic problem for an unexpected error, logged with its stack', async () => {
    const repository = failing(createMemoryRepository(), {
      get: () => new Error('secret connection string postgres://admin:hunter2@db'),
    });
    const broken = await startTestServer({ repository });
    try {
      const response = await get(broken.url('/ping/6f1c1a52-8d0e-4a59-9a5e-1f0b8f6c2c11'));
      const text = JSON.stringify(await expectProblem(response, 500, 'internal'));
      expect(text).not.toContain('hunter2');
      expect(text).not.toContain('secret');
      expect(text).not.toMatch(/\bat\s+\S+\s+\(/);
      const logged = broken.logs.find(
        (entry) => entry.level === 'error' && entry.message === 'unhandled error',
      );
      expect(logged).toBeDefined();
      expect(String(logged!.fields!.error)).toContain('hunter2');
      expect(String(logged!.fields!.error)).toMatch(/\n\s+at /);
    } finally {
      await broken.close();
    }
  });

  it('an HTTPException from the owner hook answers as the hook says (e.g. 401), storing nothing', async () => {
    const guarded = await startTestServer({
      app: {
        owner: (c) => {
          const tenant = c.req.header('x-tenant');
          if (!tenant) {
            throw new HTTPException(401, {
              res: new Response(JSON.stringify({ title: 'Unauthorized', status: 401 }), {
                status: 401,
                headers: { 'Content-Type': 'application/problem+json', 'WWW-Authenticate': 'Tenant' },
              }),
            });
          }
          return tenant;
        },
      },
    });
    try {
      const denied = await postJson(guarded.url('/ping'), { message: 'x' });
      expect(denied.status).toBe(401);
      expect(denied.headers.get('www-authenticate')).toBe('Tenant');
      expect((await guarded.repository.list({ endpoint: 'ping', owner: null, limit: 10 })).jobs).toEqual([]);
      expect((await postJson(guarded.url('/ping'), { message: 'x' }, { 'X-Tenant': 'a' })).status).toBe(202);
    } finally {
      await guarded.close();
    }
  });

  it('an owner hook returning something other than a string is a server error', async () => {
    const wrong = await startTestServer({ app: { owner: () => 42 as unknown as string } });
    try {
      await expectProblem(await postJson(wrong.url('/ping'), { message: 'x' }), 500, 'internal');
      await expectNothingStored(wrong, false);
    } finally {
      await wrong.close();
    }
  });
});
