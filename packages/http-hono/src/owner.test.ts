import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobListRepresentation, JobRepresentation } from './representation.js';
import { get, json, pollJob, postJson, startTestServer, type TestServer } from './test-support.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ app: { owner: (c) => c.req.header('x-tenant') } });
});
afterAll(async () => {
  await server.close();
});

const alice = { 'X-Tenant': 'alice' };
const bob = { 'X-Tenant': 'bob' };

async function expectNotFound(response: Response) {
  expect(response.status).toBe(404);
  expect(response.headers.get('content-type')).toBe('application/problem+json');
  const problem = await response.json();
  expect(problem.code).toBe('not_found');
  expect(JSON.stringify(problem)).not.toContain('alice');
}

describe('owner hook', () => {
  it("makes another owner's job 404 on every route and lists only one's own", async () => {
    const done = await json<JobRepresentation>(
      await postJson(server.url('/ping'), { message: 'private' }, { ...alice, Prefer: 'wait=30' }),
    );
    expect(done.status).toBe('succeeded');
    const running = await json<JobRepresentation>(
      await postJson(server.url('/task'), { tag: 'owned', steps: 1 }, alice),
    );
    await pollJob(server, running.links.self, (j) => j.status === 'running', alice);

    for (const headers of [bob, {}]) {
      await expectNotFound(await get(server.url(`/ping/${done.id}`), headers));
      await expectNotFound(await get(server.url(`/ping/${done.id}`), { ...headers, Prefer: 'wait=5' }));
      await expectNotFound(await get(server.url(`/ping/${done.id}/output`), headers));
      await expectNotFound(await get(server.url(`/ping/${done.id}/events`), headers));
      await expectNotFound(await fetch(server.url(`/ping/${done.id}`), { method: 'DELETE', headers }));
      await expectNotFound(await fetch(server.url(`/task/${running.id}`), { method: 'DELETE', headers }));
      await expectNotFound(await get(server.url(`/task/${running.id}/output`), headers));
      const list = await json<JobListRepresentation>(await get(server.url('/ping'), headers));
      expect(list.jobs).toEqual([]);
    }

    // Nothing the others tried changed alice's jobs.
    expect((await get(server.url(`/ping/${done.id}`), alice)).status).toBe(303);
    const stillRunning = await json<JobRepresentation>(await get(server.url(`/task/${running.id}`), alice));
    expect(stillRunning.cancelRequested).toBe(false);
    expect(await (await get(server.url(`/ping/${done.id}/output`), alice)).json()).toEqual({
      pong: 'private',
    });
    const list = await json<JobListRepresentation>(await get(server.url('/ping'), alice));
    expect(list.jobs.map((j) => j.id)).toEqual([done.id]);

    server.gates.release('owned');
    await pollJob(server, running.links.self, (j) => j.status === 'succeeded', alice);
  });

  it('stores each job with its owner, and scopes idempotency keys per owner', async () => {
    const key = { 'Idempotency-Key': '"shared-key"' };
    const a = await json<JobRepresentation>(
      await postJson(server.url('/ping'), { message: 'k' }, { ...alice, ...key }),
    );
    const b = await json<JobRepresentation>(
      await postJson(server.url('/ping'), { message: 'k' }, { ...bob, ...key }),
    );
    expect(a.id).not.toBe(b.id);
    expect((await server.repository.get(a.id))?.owner).toBe('alice');
    expect((await server.repository.get(b.id))?.owner).toBe('bob');
    const none = await json<JobRepresentation>(await postJson(server.url('/ping'), { message: 'k' }));
    expect((await server.repository.get(none.id))?.owner).toBeNull();
    const bobs = await json<JobListRepresentation>(await get(server.url('/ping'), bob));
    expect(bobs.jobs.map((j) => j.id)).toEqual([b.id]);
  });
});
