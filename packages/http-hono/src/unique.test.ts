import { defineEndpoint, implement } from '@jobs/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { JobRepresentation } from './representation.js';
import { expectProblem, json, pollJob, postJson, startTestServer, type TestServer } from './test-support.js';

/** Reports per account: one queued or running at a time (the endpoint's unique key), one running at a time. */
const report = defineEndpoint({
  name: 'report',
  input: z.object({ account: z.string(), n: z.number().int() }),
  output: z.object({ n: z.number().int() }),
  unique: { key: (input) => input.account },
  limits: { concurrency: 1 },
});

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({
    app: { owner: (c) => c.req.header('x-owner') ?? null },
    workers: [implement(report, (input) => ({ n: input.n }))],
  });
});
afterAll(async () => {
  await server.close();
});

function post(path: string, body: unknown, headers: Record<string, string> = {}, owner = 'alice') {
  return postJson(server.url(path), body, { 'x-owner': owner, ...headers });
}

describe('unique jobs over HTTP', () => {
  it('Job-Unique-Key: a second submit gets the live job (202, its Location, Job-Unique-Match: existing)', async () => {
    const first = await post('/task', { tag: 'unique-1', steps: 1 }, { 'job-unique-key': 'nightly' });
    expect(first.status).toBe(202);
    expect(first.headers.get('job-unique-match')).toBeNull();
    const job = await json<JobRepresentation>(first);

    const again = await post('/task', { tag: 'unique-1b' }, { 'job-unique-key': ' nightly ' });
    expect(again.status).toBe(202);
    expect(again.headers.get('location')).toBe(job.links.self);
    expect(again.headers.get('job-unique-match')).toBe('existing');
    expect(again.headers.get('idempotent-replayed')).toBeNull();
    expect((await json<JobRepresentation>(again)).id).toBe(job.id);

    // Another owner's key is its own: a new job, never alice's.
    const bob = await post('/task', { tag: 'unique-1c' }, { 'job-unique-key': 'nightly' }, 'bob');
    expect(bob.status).toBe(202);
    expect(bob.headers.get('job-unique-match')).toBeNull();
    expect((await json<JobRepresentation>(bob)).id).not.toBe(job.id);

    // Once the job is final, the key makes a new job.
    server.gates.release('unique-1');
    await pollJob(server, job.links.self, (state) => state.status === 'succeeded', { 'x-owner': 'alice' });
    const later = await post('/task', { tag: 'unique-1d' }, { 'job-unique-key': 'nightly' });
    expect(later.status).toBe(202);
    expect(later.headers.get('job-unique-match')).toBeNull();
    expect((await json<JobRepresentation>(later)).id).not.toBe(job.id);
  });

  it('an invalid Job-Unique-Key answers 422 naming the header, and nothing is stored', async () => {
    const before = await server.repository.list({ endpoint: 'task', owner: 'carol', limit: 100 });
    for (const key of ['x'.repeat(256), 'caf\u00e9']) {
      const response = await post('/task', { tag: 'unique-bad' }, { 'job-unique-key': key }, 'carol');
      const problem = await expectProblem(response, 422, 'invalid_input');
      expect(problem.issues).toEqual([{ path: ['Job-Unique-Key'], message: expect.any(String) }]);
    }
    const after = await server.repository.list({ endpoint: 'task', owner: 'carol', limit: 100 });
    expect(after.jobs).toEqual(before.jobs);
  });

  it('an Idempotency-Key replay answers its original job whatever the unique key', async () => {
    const body = { tag: 'unique-idem', steps: 1 };
    const first = await post('/task', body, { 'idempotency-key': '"u-idem"', 'job-unique-key': 'a' });
    const job = await json<JobRepresentation>(first);
    const replay = await post('/task', body, { 'idempotency-key': '"u-idem"', 'job-unique-key': 'b' });
    expect(replay.status).toBe(202);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.headers.get('job-unique-match')).toBeNull();
    expect((await json<JobRepresentation>(replay)).id).toBe(job.id);
    // A new Idempotency-Key with the held unique key: the live job, as a unique match.
    const held = await post('/task', body, { 'idempotency-key': '"u-idem-2"', 'job-unique-key': 'a' });
    expect(held.headers.get('job-unique-match')).toBe('existing');
    expect(held.headers.get('idempotent-replayed')).toBeNull();
    expect((await json<JobRepresentation>(held)).id).toBe(job.id);
    server.gates.release('unique-idem');
  });

  it('a batch takes uniqueKey per item: repeated keys give back the first job with uniqueMatch', async () => {
    const response = await post('/task/batch', {
      jobs: [
        { input: { tag: 'unique-batch-a', steps: 1 }, uniqueKey: 'batch-key' },
        { input: { tag: 'unique-batch-b', steps: 1 }, uniqueKey: 'batch-key' },
        { input: { tag: 'unique-batch-c' }, uniqueKey: 7 },
        { input: { tag: 'unique-batch-d', steps: 1 }, uniqueKey: 'other-key' },
      ],
    });
    expect(response.status).toBe(200);
    const { results } = await json(response);
    expect(results[0]).toMatchObject({ status: 202, replayed: false, uniqueMatch: false });
    expect(results[1]).toMatchObject({ status: 202, replayed: false, uniqueMatch: true });
    expect(results[1].job.id).toBe(results[0].job.id);
    expect(results[2]).toMatchObject({ status: 422, problem: { code: 'invalid_input' } });
    expect(results[2].problem.issues).toEqual([{ path: ['uniqueKey'], message: expect.any(String) }]);
    expect(results[3]).toMatchObject({ status: 202, uniqueMatch: false });
    expect(results[3].job.id).not.toBe(results[0].job.id);
    server.gates.release('unique-batch-a');
    server.gates.release('unique-batch-d');

    const misplaced = await post('/task/batch', { jobs: [] }, { 'job-unique-key': 'k' });
    const problem = await expectProblem(misplaced, 422, 'invalid_input');
    expect(problem.issues[0].path).toEqual(['Job-Unique-Key']);
  });

  it('a retry while another live job holds the unique key answers 409 unique-conflict and changes nothing', async () => {
    const failing = await json<JobRepresentation>(
      await post('/task', { tag: 'unique-retry', fail: true }, { 'job-unique-key': 'retry-key' }),
    );
    await pollJob(server, failing.links.self, (job) => job.status === 'failed', { 'x-owner': 'alice' });
    const holder = await json<JobRepresentation>(
      await post('/task', { tag: 'unique-retry-holder', steps: 1 }, { 'job-unique-key': 'retry-key' }),
    );
    expect(holder.id).not.toBe(failing.id);

    const refused = await fetch(`${server.origin}${failing.links.self}/retry`, {
      method: 'POST',
      headers: { 'x-owner': 'alice' },
    });
    const problem = await expectProblem(refused, 409, 'unique_conflict');
    expect(problem).toMatchObject({ type: 'urn:jobs:problem:unique-conflict', conflictingJobId: holder.id });
    const still = await fetch(`${server.origin}${failing.links.self}`, { headers: { 'x-owner': 'alice' } });
    expect(await json(still)).toMatchObject({ id: failing.id, status: 'failed', attempt: 1 });

    // Once the holder is final, the retry goes through.
    server.gates.release('unique-retry-holder');
    await pollJob(server, holder.links.self, (job) => job.status === 'succeeded', { 'x-owner': 'alice' });
    const retried = await fetch(`${server.origin}${failing.links.self}/retry`, {
      method: 'POST',
      headers: { 'x-owner': 'alice' },
    });
    expect(retried.status).toBe(202);
  });

  it("an endpoint's unique key (with its flow limits): one live job per account, each runs", async () => {
    // Held back a little, so that it is still queued when the second submit comes.
    const a1 = await post('/report', { account: 'a', n: 1 }, { 'job-delay': '0.5' });
    const a2 = await post('/report', { account: 'a', n: 2 });
    const b1 = await post('/report', { account: 'b', n: 3 });
    const jobA = await json<JobRepresentation>(a1);
    expect(a2.headers.get('job-unique-match')).toBe('existing');
    expect((await json<JobRepresentation>(a2)).id).toBe(jobA.id);
    expect(b1.headers.get('job-unique-match')).toBeNull();
    const jobB = await json<JobRepresentation>(b1);
    for (const job of [jobA, jobB]) {
      await pollJob(server, job.links.self, (state) => state.status === 'succeeded', { 'x-owner': 'alice' });
    }
    const output = await fetch(`${server.origin}${jobA.links.self}/output`, {
      headers: { 'x-owner': 'alice' },
    });
    expect(await json(output)).toEqual({ n: 1 });
    // A key function answering an empty key refuses the submit (422 naming unique.key).
    const empty = await expectProblem(await post('/report', { account: '', n: 4 }), 422, 'invalid_input');
    expect(empty.issues[0].path).toEqual(['unique.key']);
  });
});
