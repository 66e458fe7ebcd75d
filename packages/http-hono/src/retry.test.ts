import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobRepresentation } from './representation.js';
import { expectProblem, json, pollJob, postJson, startTestServer, type TestServer } from './test-support.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ app: { owner: (c) => c.req.header('x-owner') ?? null } });
});
afterAll(async () => {
  await server.close();
});

async function submitTask(body: Record<string, unknown>, owner = 'alice') {
  const response = await postJson(server.url('/task'), body, { 'x-owner': owner });
  expect(response.status).toBe(202);
  return json<JobRepresentation>(response);
}

function retry(selfPath: string, owner = 'alice', method = 'POST') {
  return fetch(`${server.origin}${selfPath}/retry`, { method, headers: { 'x-owner': owner } });
}

describe('POST /{endpoint}/{id}/retry (over a socket)', () => {
  it('queues a failed job again under its URL (202), and it runs again', async () => {
    const submitted = await submitTask({ tag: 'retry-failed', fail: true });
    const self = submitted.links.self;
    const failed = await pollJob(server, self, (job) => job.status === 'failed', { 'x-owner': 'alice' });
    expect(failed).toMatchObject({ attempt: 1, maxAttempts: 1 });

    const response = await retry(self);
    expect(response.status).toBe(202);
    expect(response.headers.get('location')).toBe(self);
    expect(response.headers.get('content-location')).toBe(self);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(response.headers.get('etag')).toBeTruthy();
    const queued = await json<JobRepresentation>(response);
    expect(queued).toMatchObject({
      id: submitted.id,
      status: 'queued',
      attempt: 1,
      maxAttempts: 2,
      error: null,
      finishedAt: null,
      expiresAt: null,
    });
    // The dispatcher hands it out again: it runs (and fails again, as told), a second attempt.
    const again = await pollJob(server, self, (job) => job.status === 'failed', { 'x-owner': 'alice' });
    expect(again).toMatchObject({ attempt: 2, maxAttempts: 2 });
  });

  it('queues a canceled job again; it runs to success', async () => {
    const submitted = await submitTask({ tag: 'retry-canceled', steps: 1 });
    const self = submitted.links.self;
    await pollJob(server, self, (job) => job.status === 'running', { 'x-owner': 'alice' });
    const canceling = await fetch(`${server.origin}${self}`, {
      method: 'DELETE',
      headers: { 'x-owner': 'alice' },
    });
    expect(canceling.status).toBe(202);
    await pollJob(server, self, (job) => job.status === 'canceled', { 'x-owner': 'alice' });

    const response = await retry(self);
    expect(response.status).toBe(202);
    expect(await json(response)).toMatchObject({ status: 'queued', cancelRequested: false });
    await pollJob(server, self, (job) => job.status === 'running', { 'x-owner': 'alice' });
    server.gates.release('retry-canceled');
    const done = await pollJob(server, self, (job) => job.status === 'succeeded', { 'x-owner': 'alice' });
    expect(done).toMatchObject({ attempt: 2, error: null });
  });

  it('answers 409 not_retryable for a queued, running or succeeded job, and changes nothing', async () => {
    const running = await submitTask({ tag: 'retry-running', steps: 1 });
    await pollJob(server, running.links.self, (job) => job.status === 'running', { 'x-owner': 'alice' });
    const before = await server.repository.get(running.id);
    const problem = await expectProblem(await retry(running.links.self), 409, 'not_retryable');
    expect(problem).toMatchObject({ jobStatus: 'running', type: 'urn:jobs:problem:not-retryable' });
    // Unchanged (a lease renewal may move leaseExpiresAt meanwhile, nothing else).
    const after = await server.repository.get(running.id);
    expect({ ...after, leaseExpiresAt: null }).toEqual({ ...before, leaseExpiresAt: null });
    server.gates.release('retry-running');
    await pollJob(server, running.links.self, (job) => job.status === 'succeeded', { 'x-owner': 'alice' });
    const succeeded = await expectProblem(await retry(running.links.self), 409, 'not_retryable');
    expect(succeeded).toMatchObject({ jobStatus: 'succeeded' });
  });

  it("answers 404 for an unknown job, a malformed id and another owner's job; 405 for other methods", async () => {
    const failed = await submitTask({ tag: 'retry-owner', fail: true });
    await pollJob(server, failed.links.self, (job) => job.status === 'failed', { 'x-owner': 'alice' });
    await expectProblem(await retry(failed.links.self, 'mallory'), 404, 'not_found');
    expect((await server.repository.get(failed.id))?.status).toBe('failed');
    await expectProblem(await retry('/jobs/task/00000000-0000-4000-8000-000000000000'), 404, 'not_found');
    await expectProblem(await retry('/jobs/task/not-an-id'), 404, 'not_found');
    await expectProblem(await retry('/jobs/nothing/00000000-0000-4000-8000-000000000000'), 404, 'not_found');
    const get = await retry(failed.links.self, 'alice', 'GET');
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST, OPTIONS');
  });
});
