// Delayed and prioritized submits over HTTP: the Job-Run-At, Job-Delay and Job-Priority headers of a single
// submit, and what the job representation shows of them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobListRepresentation, JobRepresentation } from './representation.js';
import { get, json, pollJob, postJson, startTestServer, type TestServer } from './test-support.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({
    app: { owner: (c) => c.req.header('x-tenant'), cors: { origin: 'https://app.example' } },
  });
});
afterAll(async () => {
  await server.close();
});

// Each test is a tenant of its own: its list holds only its own jobs.
let tenants = 0;
const newTenant = () => ({ 'X-Tenant': `scheduling-${++tenants}` });

async function listed(tenant: Record<string, string>): Promise<JobRepresentation[]> {
  return (await json<JobListRepresentation>(await get(server.url('/ping'), tenant))).jobs;
}

describe('Job-Run-At, Job-Delay and Job-Priority', () => {
  it('every job shows its runAt and priority: now and the default for a plain submit', async () => {
    const tenant = newTenant();
    const response = await postJson(
      server.url('/ping'),
      { message: 'plain' },
      { ...tenant, Prefer: 'wait=10' },
    );
    expect(response.status).toBe(303);
    const job = await json<JobRepresentation>(response);
    expect(job.priority).toBe(0);
    expect(job.runAt).toBe(job.createdAt);
    const keys = Object.keys(job);
    expect(keys.slice(keys.indexOf('estimatedCompletionAt'), keys.indexOf('attempt'))).toEqual([
      'estimatedCompletionAt',
      'runAt',
      'priority',
    ]);
  });

  it('Job-Delay holds the job back, Job-Priority sets its priority; GET, list and events show both', async () => {
    const tenant = newTenant();
    const response = await postJson(
      server.url('/ping'),
      { message: 'later' },
      { ...tenant, 'Job-Delay': '3600.5', 'Job-Priority': '-7' },
    );
    expect(response.status).toBe(202);
    const submitted = await json<JobRepresentation>(response);
    expect(submitted.status).toBe('queued');
    expect(submitted.priority).toBe(-7);
    expect(Date.parse(submitted.runAt) - Date.parse(submitted.createdAt)).toBe(3_600_500);

    // The worker does not take it: still queued a while later, as GET, the list and the event stream say.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const read = await get(`${server.origin}${submitted.links.self}`, tenant);
    expect(read.status).toBe(200);
    // Nothing happens before its runAt: polling sooner than the hint's 60 s cap would be wasted.
    expect(response.headers.get('retry-after')).toBe('60');
    expect(read.headers.get('retry-after')).toBe('60');
    const got = await json<JobRepresentation>(read);
    expect(got).toMatchObject({ status: 'queued', runAt: submitted.runAt, priority: -7, attempt: 0 });
    expect(read.headers.get('etag')).toBe(response.headers.get('etag'));
    expect(await listed(tenant)).toEqual([got]);
    const stream = await fetch(`${server.origin}${submitted.links.events}`, { headers: tenant });
    const reader = stream.body!.getReader();
    const { value } = await reader.read();
    await reader.cancel();
    expect(new TextDecoder().decode(value)).toContain(`"runAt":"${submitted.runAt}","priority":-7`);
  });

  it('Job-Run-At (with an offset) is the job runAt; a time in the past runs at once', async () => {
    const tenant = newTenant();
    const future = await json<JobRepresentation>(
      await postJson(
        server.url('/ping'),
        { message: 'at' },
        { ...tenant, 'Job-Run-At': '2999-01-05T11:00:00.250+01:00', 'Job-Priority': '1000' },
      ),
    );
    expect(future).toMatchObject({ status: 'queued', runAt: '2999-01-05T10:00:00.250Z', priority: 1000 });

    const past = await postJson(
      server.url('/ping'),
      { message: 'past' },
      { ...tenant, 'Job-Run-At': '2001-01-01T00:00:00Z', Prefer: 'wait=10' },
    );
    expect(past.status).toBe(303);
    expect(await json<JobRepresentation>(past)).toMatchObject({
      status: 'succeeded',
      runAt: '2001-01-01T00:00:00.000Z',
    });
    const final = await pollJob(server, future.links.self, () => true, tenant);
    expect(final.status).toBe('queued');
  });

  it('refuses malformed or conflicting headers with 422 naming them, and stores nothing', async () => {
    const tenant = newTenant();
    const cases: Array<[Record<string, string>, string[]]> = [
      [{ 'Job-Run-At': 'tomorrow' }, ['Job-Run-At']],
      [{ 'Job-Run-At': '2026-01-05T10:00:00' }, ['Job-Run-At']],
      [{ 'Job-Run-At': '1969-12-31T23:59:59Z' }, ['Job-Run-At']],
      [{ 'Job-Delay': '-1' }, ['Job-Delay']],
      [{ 'Job-Delay': '0.0001' }, ['Job-Delay']],
      [{ 'Job-Delay': '1e3' }, ['Job-Delay']],
      [{ 'Job-Priority': '1001' }, ['Job-Priority']],
      [{ 'Job-Priority': '2.5' }, ['Job-Priority']],
      [{ 'Job-Run-At': '2026-01-05T10:00:00Z', 'Job-Delay': '60' }, ['Job-Run-At', 'Job-Delay']],
      [{ 'Job-Delay': 'x', 'Job-Priority': 'y' }, ['Job-Delay', 'Job-Priority']],
    ];
    for (const [headers, named] of cases) {
      const response = await postJson(server.url('/ping'), { message: 'no' }, { ...tenant, ...headers });
      expect(response.status, JSON.stringify(headers)).toBe(422);
      expect(response.headers.get('content-type')).toBe('application/problem+json');
      const problem = await response.json();
      expect(problem).toMatchObject({ status: 422, code: 'invalid_input' });
      expect(problem.issues.map((issue: { path: string[] }) => issue.path.join('.'))).toEqual(named);
      for (const name of named) expect(problem.detail).toContain(name);
    }
    // Also with a replayed key, and with Prefer: wait: the headers are checked before anything is done.
    const key = { 'Idempotency-Key': '"sched-1"' };
    expect((await postJson(server.url('/ping'), { message: 'k' }, { ...tenant, ...key })).status).toBe(202);
    const replay = await postJson(
      server.url('/ping'),
      { message: 'k' },
      { ...tenant, ...key, 'Job-Priority': 'urgent', Prefer: 'wait=5' },
    );
    expect(replay.status).toBe(422);
    expect((await listed(tenant)).map((job) => job.priority)).toEqual([0]);
  });

  it('lets browsers send the headers (CORS)', async () => {
    const preflight = await fetch(server.url('/ping'), {
      method: 'OPTIONS',
      headers: {
        Origin: 'https://app.example',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type,job-run-at,job-delay,job-priority',
      },
    });
    expect(preflight.status).toBe(204);
    const allowed = (preflight.headers.get('access-control-allow-headers') ?? '').toLowerCase();
    for (const name of ['job-run-at', 'job-delay', 'job-priority']) expect(allowed).toContain(name);
  });
});
