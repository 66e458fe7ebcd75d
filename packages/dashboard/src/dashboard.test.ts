// The dashboard over a real socket: its authorization, the owner limit on every route, the API's answers and
// actions, and the list paging through 10,000 jobs a page at a time.
import { type JobRepository, newJobId, type SearchQuery } from '@jobs/core';
import { createMemoryRepository } from '@jobs/memory';
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDashboard } from './dashboard.js';
import { DASHBOARD_SCRIPT } from './script.generated.js';
import { DASHBOARD_STYLE } from './style.js';
import { type DashboardServer, request, startDashboardServer } from './test-support.js';

let server: DashboardServer;

beforeAll(async () => {
  server = await startDashboardServer();
});
afterAll(async () => {
  await server?.close();
});

const json = async <T = any>(response: Response): Promise<T> => (await response.json()) as T;

async function submit(input: Record<string, unknown>, owner: string | null = null, endpoint = 'task') {
  const { job } = await server.runtime.service.submit(endpoint, input, { owner });
  return job;
}

async function finalOf(id: string) {
  for (;;) {
    const job = await server.repository.get(id, 'header');
    if (job && ['succeeded', 'failed', 'canceled'].includes(job.status)) return job;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function statusOf(id: string, status: string) {
  for (;;) {
    const job = await server.repository.get(id, 'header');
    if (job?.status === status) return job;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('authorization', () => {
  it('refuses every request when the hook refuses it, and without a hook at all', async () => {
    for (const path of [
      '',
      '/',
      '/assets/dashboard.js',
      '/assets/dashboard.css',
      '/api/overview',
      '/api/jobs',
      '/nothing',
    ]) {
      for (const token of [null, 'wrong']) {
        const response = await request(server, path, { token });
        expect(response.status, `${path} with ${token}`).toBe(403);
        expect(response.headers.get('content-type')).toBe('application/problem+json');
        expect(await json(response)).toMatchObject({ code: 'forbidden' });
      }
    }
    const open = new Hono().route(
      '/dashboard',
      createDashboard({
        service: server.runtime.service,
        authorize: undefined as never,
        logger: silentLog(),
      }),
    );
    for (const path of ['/dashboard', '/dashboard/api/jobs', '/dashboard/assets/dashboard.js']) {
      const response = await open.request(path);
      expect(response.status, path).toBe(403);
    }
  });

  it("passes a hook's HTTPException on (a 401 that asks for credentials)", async () => {
    const app = new Hono().route(
      '/dashboard',
      createDashboard({
        service: server.runtime.service,
        authorize: () => {
          throw new HTTPException(401, {
            res: new Response('login', {
              status: 401,
              headers: { 'WWW-Authenticate': 'Basic realm="jobs"' },
            }),
          });
        },
      }),
    );
    const response = await app.request('/dashboard');
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Basic realm="jobs"');
  });

  it('needs its header for every action (no cross-site form can send it)', async () => {
    const job = await submit({ tag: 'csrf', fail: true });
    await finalOf(job.id);
    const attempts: Array<Record<string, string>> = [
      {},
      { 'x-jobs-dashboard': '1', 'sec-fetch-site': 'cross-site' },
    ];
    for (const headers of attempts) {
      const response = await request(server, `/api/jobs/${job.id}/retry`, { method: 'POST', headers });
      expect(response.status).toBe(403);
    }
    expect((await server.repository.get(job.id))?.status).toBe('failed');
  });
});

describe('the page and its assets', () => {
  it('serves the page, its script and style from the package, under a strict content security policy', async () => {
    const page = await request(server, '');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await page.text();
    expect(html).toContain('<script src="/dashboard/assets/dashboard.js" defer></script>');
    expect(html).toContain('<link rel="stylesheet" href="/dashboard/assets/dashboard.css">');
    expect(html).toContain('"base":"/dashboard/"');
    expect(html).not.toMatch(/https?:\/\//);
    const script = await request(server, '/assets/dashboard.js');
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await script.text()).toBe(DASHBOARD_SCRIPT);
    const style = await request(server, '/assets/dashboard.css');
    expect(style.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect(await style.text()).toBe(DASHBOARD_STYLE);
    // Nothing loads from another origin (the only URL in the script is SVG's namespace, an identifier).
    expect(DASHBOARD_SCRIPT.replaceAll('http://www.w3.org/2000/svg', '')).not.toMatch(/https?:\/\//);
    expect(DASHBOARD_STYLE).not.toMatch(/url\(|@import|https?:/);
  });
});

describe('the API', () => {
  it('overview: counts, a minute-by-minute series of the last hour and run-time percentiles per endpoint', async () => {
    const done = await submit({ tag: 'overview' });
    await finalOf(done.id);
    const failed = await submit({ month: 'may' }, null, 'report');
    await finalOf(failed.id);
    const overview = await json(await request(server, '/api/overview'));
    expect(overview.bucketMs).toBe(60_000);
    expect(overview.endpoints.map((e: { endpoint: string }) => e.endpoint).sort()).toEqual([
      'report',
      'task',
    ]);
    const task = overview.endpoints.find((e: { endpoint: string }) => e.endpoint === 'task');
    expect(task.series).toHaveLength(60);
    expect(task.counts.succeeded).toBeGreaterThanOrEqual(1);
    expect(task.series.at(-1).succeeded).toBeGreaterThanOrEqual(1);
    expect(task.runTime.count).toBe(task.counts.succeeded + task.counts.failed);
    const reportStats = overview.endpoints.find((e: { endpoint: string }) => e.endpoint === 'report');
    expect(reportStats.counts.failed).toBeGreaterThanOrEqual(1);
    expect(reportStats.failureRate).toBeGreaterThan(0);
  });

  it('job: input, output, error and attempts; unknown and malformed ids are 404', async () => {
    const job = await submit({ tag: 'detail' });
    await finalOf(job.id);
    const detail = await json(await request(server, `/api/jobs/${job.id}`));
    expect(detail).toMatchObject({
      id: job.id,
      endpoint: 'task',
      status: 'succeeded',
      input: { tag: 'detail', steps: 0, fail: false },
      output: { tag: 'detail', steps: 0 },
      attempt: 1,
      maxAttempts: 1,
      owner: null,
    });
    expect((await request(server, '/api/jobs/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await request(server, '/api/jobs/nope')).status).toBe(404);
  });

  it('actions: cancel a running job, retry the canceled one, delete it once final; wrong states answer 409', async () => {
    const job = await submit({ tag: 'actions', steps: 1 });
    await statusOf(job.id, 'running');
    const action = (path: string, method = 'POST') =>
      request(server, `/api/jobs/${job.id}${path}`, { method, headers: { 'x-jobs-dashboard': '1' } });
    expect((await action('/retry')).status).toBe(409);
    expect((await action('', 'DELETE')).status).toBe(409);
    const canceled = await action('/cancel');
    expect(canceled.status).toBe(200);
    expect((await json(canceled)).job).toMatchObject({ status: 'running', cancelRequested: true });
    await statusOf(job.id, 'canceled');
    expect((await action('/cancel')).status).toBe(409);

    const retried = await action('/retry');
    expect(retried.status).toBe(202);
    expect((await json(retried)).job).toMatchObject({ status: 'queued', attempt: 1, maxAttempts: 2 });
    await statusOf(job.id, 'running');
    server.gates.release('actions');
    expect(await finalOf(job.id)).toMatchObject({ status: 'succeeded', attempt: 2 });
    expect((await action('', 'DELETE')).status).toBe(204);
    expect(await server.repository.get(job.id)).toBeNull();
  });

  it('list: filters by endpoint, status, owner and time; refuses unknown values', async () => {
    const before = new Date();
    const a = await submit({ tag: 'list-a', fail: true }, 'list-owner');
    await new Promise((resolve) => setTimeout(resolve, 5));
    const b = await submit({ month: 'june' }, 'list-owner', 'report');
    await finalOf(a.id);
    await finalOf(b.id);
    const list = async (query: string) =>
      (await json<{ jobs: Array<{ id: string }> }>(await request(server, `/api/jobs?${query}`))).jobs.map(
        (j) => j.id,
      );
    expect(await list('owner=list-owner')).toEqual([b.id, a.id]);
    expect(await list('owner=list-owner&endpoint=task')).toEqual([a.id]);
    expect(await list('owner=list-owner&status=failed')).toEqual([b.id, a.id]);
    expect(
      await list(`owner=list-owner&from=${before.toISOString()}&to=${b.createdAt.toISOString()}`),
    ).toEqual([a.id]);
    for (const query of [
      'status=lost',
      'endpoint=nothing',
      'limit=0',
      'limit=201',
      'from=yesterday',
      'cursor=x',
    ]) {
      const response = await request(server, `/api/jobs?${query}`);
      expect(response.status, query).toBe(422);
    }
  });

  it('an owner-limited user sees only that owner\u2019s jobs, counts and pages, and can change no other', async () => {
    const mine = await submit({ tag: 'mine', fail: true }, 'tenant-a');
    const theirs = await submit({ tag: 'theirs', fail: true }, 'tenant-b');
    await finalOf(mine.id);
    await finalOf(theirs.id);
    const token = 'owner:tenant-a';
    const page = await json<{ jobs: Array<{ id: string; owner: string }> }>(
      await request(server, '/api/jobs?owner=tenant-b', { token }),
    );
    expect(page.jobs.map((job) => job.id)).toEqual([mine.id]);
    const overview = await json(await request(server, '/api/overview', { token }));
    const task = overview.endpoints.find((e: { endpoint: string }) => e.endpoint === 'task');
    expect(task.counts).toEqual({ queued: 0, running: 0, succeeded: 0, failed: 1, canceled: 0 });
    for (const [path, method] of [
      ['', 'GET'],
      ['/events', 'GET'],
      ['/retry', 'POST'],
      ['/cancel', 'POST'],
      ['', 'DELETE'],
    ] as const) {
      const response = await request(server, `/api/jobs/${theirs.id}${path}`, {
        method,
        token,
        headers: { 'x-jobs-dashboard': '1' },
      });
      expect(response.status, `${method} ${path}`).toBe(404);
    }
    expect((await server.repository.get(theirs.id))?.status).toBe('failed');
    expect((await request(server, `/api/jobs/${mine.id}`, { token })).status).toBe(200);
    const html = await (await request(server, '', { token })).text();
    expect(html).toContain('"owner":{"limited":true,"owner":"tenant-a"}');
  });
});

describe('paging through 10,000 jobs', () => {
  it('reads a page at a time: never more rows than a page (and one to know there is more)', async () => {
    const inner = createMemoryRepository({ maxJobs: 20_000 });
    const asked: SearchQuery[] = [];
    const returned: number[] = [];
    const repository = new Proxy(inner, {
      get(target, property, receiver) {
        if (property === 'search') {
          return async (query: SearchQuery) => {
            asked.push(query);
            const page = await target.search(query);
            returned.push(page.jobs.length);
            return page;
          };
        }
        const value = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as JobRepository;
    const big = await startDashboardServer({ repository });
    try {
      for (let batch = 0; batch < 10; batch++) {
        const results = await repository.create(
          Array.from({ length: 1_000 }, (_, i) => ({
            id: newJobId(),
            endpoint: 'report',
            input: { month: `m${batch}-${i}` },
            owner: null,
            idempotencyKey: null,
            inputHash: null,
            maxAttempts: 1,
            runAt: new Date(Date.now() + 3_600_000),
          })),
        );
        expect(results.every((result) => result.ok)).toBe(true);
      }
      const seen = new Set<string>();
      let cursor: string | null = null;
      let pages = 0;
      do {
        const query: string = `endpoint=report&limit=200${cursor ? `&cursor=${cursor}` : ''}`;
        const page = await json<{ jobs: Array<{ id: string }>; nextCursor: string | null }>(
          await request(big, `/api/jobs?${query}`),
        );
        for (const job of page.jobs) seen.add(job.id);
        cursor = page.nextCursor;
        pages++;
      } while (cursor && pages < 60);
      expect(seen.size).toBe(10_000);
      expect(pages).toBe(50);
      expect(Math.max(...asked.map((query) => query.limit))).toBe(200);
      expect(Math.max(...returned)).toBe(200);
      // The default page is the dashboard's page size.
      await request(big, '/api/jobs');
      expect(asked.at(-1)?.limit).toBe(25);
    } finally {
      await big.close();
    }
  }, 120_000);
});

function silentLog() {
  const nothing = () => {};
  return { debug: nothing, info: nothing, warn: nothing, error: nothing };
}
