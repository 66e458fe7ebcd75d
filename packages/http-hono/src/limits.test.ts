import { createJobsRuntime, InvalidInputError } from '@jobs/core';
import { createMemoryQueue, createMemoryRepository } from '@jobs/memory';
import { httpSuiteSetup, nested } from '@jobs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import type { JobListRepresentation, JobRepresentation } from './representation.js';
import { get, json, postJson, startTestServer, type TestServer } from './test-support.js';

let server: TestServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

function postText(url: string, body: string, headers: Record<string, string> = {}) {
  return fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body });
}

describe('the memory repository full (maxJobs)', () => {
  it('answers 503 with Retry-After and a problem, stores nothing more, and takes jobs again once one is gone', async () => {
    server = await startTestServer({ repository: createMemoryRepository({ maxJobs: 2 }) });
    const s = server;
    const first = await json<JobRepresentation>(
      await postJson(s.url('/ping'), { message: 'a' }, { Prefer: 'wait=10' }),
    );
    const second = await postJson(s.url('/ping'), { message: 'b' });
    expect(second.status).toBe(202);
    const secondId = (await json<JobRepresentation>(second)).id;

    const full = await postJson(s.url('/ping'), { message: 'c' });
    expect(full.status).toBe(503);
    expect(full.headers.get('content-type')).toBe('application/problem+json');
    expect(Number(full.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const problem = await full.json();
    expect(problem).toMatchObject({ status: 503, code: 'unavailable' });
    expect(JSON.stringify(problem)).not.toMatch(/maximum|memory|2 jobs/i); // the cause stays in the log
    const listed = await json<JobListRepresentation>(await get(s.url('/ping')));
    expect(listed.jobs.map((job) => job.id)).toEqual([secondId, first.id]);
    expect(s.logs.some((entry) => entry.level === 'error')).toBe(false);

    expect((await fetch(`${s.origin}${first.links.self}`, { method: 'DELETE' })).status).toBe(204);
    expect((await postJson(s.url('/ping'), { message: 'c' })).status).toBe(202);
  });
});

describe('maxJsonDepth', () => {
  it('refuses a body nested deeper than the option with 422 too_deep, and takes one at the limit', async () => {
    server = await startTestServer({ app: { maxJsonDepth: 3 } });
    const s = server;
    const deep = await postText(s.url('/ping'), '{"message":{"a":[[1]]}}');
    expect(deep.status).toBe(422);
    expect(await deep.json()).toMatchObject({
      code: 'invalid_input',
      maxDepth: 3,
      issues: [{ path: [], code: 'too_deep' }],
    });
    // Brackets inside strings do not count; the limit's depth itself is fine (the schema decides).
    const strings = await postText(s.url('/ping'), '{"message":"[[[[{{{{\\"]]"}');
    expect(strings.status).toBe(202);
    const atLimit = await postText(s.url('/ping'), '{"message":{"a":[]}}');
    expect(atLimit.status).toBe(422);
    expect((await atLimit.json()).issues[0].code).toBe('invalid_type');
  });
});

describe('deep input submitted programmatically', () => {
  it('is refused with InvalidInputError (too_deep), not a RangeError, with or without an idempotency key', async () => {
    // The endpoints only: the service validates and stores, nothing runs.
    const endpoints = httpSuiteSetup().workers.map((worker) => worker.endpoint);
    const runtime = createJobsRuntime({
      repository: createMemoryRepository(),
      queue: createMemoryQueue(),
      endpoints,
    });
    const deep = JSON.parse(nested(100_000)) as unknown;
    for (const [endpoint, idempotencyKey] of [
      ['json', undefined],
      ['json', 'k1'],
      ['unknown', 'k2'],
    ] as const) {
      const error = await runtime.service.submit(endpoint, deep, { idempotencyKey }).catch((e: unknown) => e);
      expect(error, `${endpoint} ${idempotencyKey}`).toBeInstanceOf(InvalidInputError);
      expect((error as InvalidInputError).issues[0]?.code).toBe('too_deep');
    }
    expect((await runtime.service.list('json')).jobs).toEqual([]);
    await runtime.stop();
  });
});
