// What clients nobody here wrote rely on: Operation-Location on every job answer (Azure REST API guidelines),
// `resourceLocation` and `error.message` in the job, no Content-Type on answers without a body, and problem
// types under the base the operator chose.
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJobsApp } from './app.js';
import type { JobRepresentation } from './representation.js';
import { get, json, pollJob, postJson, SseReader, startTestServer, type TestServer } from './test-support.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ app: { cors: true } });
});
afterAll(async () => {
  await server.close();
});

async function submitTask(tag: string, extra: Record<string, unknown> = {}) {
  const response = await postJson(server.url('/task'), { tag, ...extra });
  expect(response.status).toBe(202);
  return { response, job: await json<JobRepresentation>(response) };
}

describe('Operation-Location', () => {
  it('is the job URL on the 202 and on every job answer, and CORS exposes it', async () => {
    const { response, job } = await submitTask('operation-location', { steps: 1 });
    const self = `/jobs/task/${job.id}`;
    expect(response.headers.get('operation-location')).toBe(self);
    expect(response.headers.get('access-control-expose-headers')).toContain('Operation-Location');

    const running = await get(server.url(`/task/${job.id}`));
    expect(running.status).toBe(200);
    expect(running.headers.get('operation-location')).toBe(self);
    const notModified = await get(server.url(`/task/${job.id}`), {
      'If-None-Match': running.headers.get('etag')!,
    });
    expect(notModified.status).toBe(304);
    expect(notModified.headers.get('operation-location')).toBe(self);

    server.gates.release('operation-location');
    await pollJob(server, self, (j) => j.status === 'succeeded');
    const done = await get(server.url(`/task/${job.id}`));
    expect(done.status).toBe(303);
    expect(done.headers.get('operation-location')).toBe(self);
    expect(done.headers.get('location')).toBe(`${self}/output`);

    const waited = await postJson(server.url('/ping'), { message: 'now' }, { Prefer: 'wait=30' });
    expect(waited.status).toBe(303);
    const pingJob = await json<JobRepresentation>(waited);
    expect(waited.headers.get('operation-location')).toBe(pingJob.links.self);
  });

  it('is on the answers of DELETE that carry the job', async () => {
    const { job } = await submitTask('operation-location-delete', { steps: 1 });
    await pollJob(server, job.links.self, (j) => j.status === 'running');
    const canceling = await fetch(server.url(`/task/${job.id}`), { method: 'DELETE' });
    expect(canceling.status).toBe(202);
    expect(canceling.headers.get('operation-location')).toBe(job.links.self);
  });
});

describe('the job for clients that do not follow the 303 or read `message`', () => {
  it('has resourceLocation, the output URL, only once it succeeded', async () => {
    const { job } = await submitTask('resource-location', { steps: 1 });
    expect(job).not.toHaveProperty('resourceLocation');
    server.gates.release('resource-location');
    const done = await pollJob(server, job.links.self, (j) => j.status === 'succeeded');
    expect(done.resourceLocation).toBe(`/jobs/task/${job.id}/output`);
    expect(done.resourceLocation).toBe(done.links.output);
    const output = await get(`${server.origin}${done.resourceLocation}`);
    expect(await output.json()).toEqual({ tag: 'resource-location', steps: 1 });
  });

  it("gives a failed or canceled job's error a message beside its code and detail", async () => {
    const { job: failing } = await submitTask('fails-with-message', { fail: true });
    const failed = await pollJob(server, failing.links.self, (j) => j.status === 'failed');
    expect(failed.error).toEqual({
      type: 'urn:jobs:problem:job-failed',
      title: 'Job failed',
      status: 500,
      code: 'job_failed',
      detail: 'The task was told to fail.',
      message: 'The task was told to fail.',
    });
    expect(failed).not.toHaveProperty('resourceLocation');

    const { job: queued } = await submitTask('canceled-with-message', { steps: 1 });
    const canceled = await json<JobRepresentation>(
      await fetch(server.url(`/task/${queued.id}`), { method: 'DELETE' }),
    );
    const final =
      canceled.status === 'canceled'
        ? canceled
        : await pollJob(server, queued.links.self, (j) => j.status === 'canceled');
    expect(final.error).toMatchObject({ code: 'canceled', message: 'The job was canceled on request.' });
  });
});

describe('answers without a body', () => {
  /** Over a socket (@hono/node-server) and straight from the app: no Content-Type, no body. */
  async function expectBodiless(response: Response, status: number) {
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toBeNull();
    expect(await response.text()).toBe('');
  }

  it('carry no Content-Type: 204 of DELETE, OPTIONS and a finished event stream, 304', async () => {
    const done = await json<JobRepresentation>(
      await postJson(server.url('/ping'), { message: 'bodiless' }, { Prefer: 'wait=30' }),
    );
    const notModified = await get(server.url(`/ping/${done.id}`), { 'If-None-Match': '*' });
    await expectBodiless(notModified, 304);
    const stream = await get(server.url(`/ping/${done.id}/events`));
    const reader = new SseReader(stream.body!);
    const last = await reader.next();
    await reader.cancel();
    await expectBodiless(
      await get(server.url(`/ping/${done.id}/events`), { 'Last-Event-ID': last!.id! }),
      204,
    );
    await expectBodiless(await fetch(server.url(`/ping/${done.id}`), { method: 'OPTIONS' }), 204);
    await expectBodiless(await fetch(server.url(`/ping/${done.id}`), { method: 'DELETE' }), 204);

    const app = new Hono().route('/jobs', createJobsApp({ service: server.runtime.service }));
    await expectBodiless(await app.request(`/jobs/ping/${done.id}`, { method: 'OPTIONS' }), 204);
  });
});

describe('problemTypeBase', () => {
  it('puts the type of every problem the app answers, and of its jobs’ errors, under the base', async () => {
    const based = await startTestServer({ app: { problemTypeBase: 'https://docs.example.com/problems/' } });
    try {
      const unknown = await get(based.url('/nope/deeper/still'));
      expect(await unknown.json()).toMatchObject({
        type: 'https://docs.example.com/problems/not-found',
        code: 'not_found',
      });
      const wrongMethod = await fetch(based.url('/ping'), { method: 'PUT' });
      expect(wrongMethod.status).toBe(405);
      expect(wrongMethod.headers.get('allow')).toBe('GET, HEAD, POST, OPTIONS');
      expect((await wrongMethod.json()).type).toBe('https://docs.example.com/problems/method-not-allowed');
      const invalid = await postJson(based.url('/ping'), { message: 42 });
      expect(invalid.status).toBe(422);
      expect(invalid.headers.get('content-type')).toBe('application/problem+json');
      expect(await invalid.json()).toMatchObject({
        type: 'https://docs.example.com/problems/invalid-input',
        issues: [expect.objectContaining({ path: ['message'] })],
      });

      const failing = await json<JobRepresentation>(
        await postJson(based.url('/task'), { tag: 'based', fail: true }),
      );
      const failed = await pollJob(based, failing.links.self, (j) => j.status === 'failed');
      expect(failed.error?.type).toBe('https://docs.example.com/problems/job-failed');
      const events = new SseReader((await get(based.url(`/task/${failing.id}/events`))).body!);
      const event = await events.next();
      await events.cancel();
      expect(JSON.parse(event!.data).error.type).toBe('https://docs.example.com/problems/job-failed');
    } finally {
      await based.close();
    }
  });

  it('is refused when it is empty or has spaces', () => {
    for (const problemTypeBase of ['', ' ', 'https://example.com/my problems/']) {
      expect(() => createJobsApp({ service: server.runtime.service, problemTypeBase })).toThrow(
        /problemTypeBase/,
      );
    }
  });
});
