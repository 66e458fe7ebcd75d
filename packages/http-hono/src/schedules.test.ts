// GET /{endpoint}/schedules over HTTP: the recurring schedules of an endpoint, never their inputs.
import { defineSchedule } from '@jobs/core';
import { afterEach, describe, expect, it } from 'vitest';
import type { JobListRepresentation, JobRepresentation } from './representation.js';
import type { ScheduleListRepresentation } from './routes/schedules.js';
import { get, json, ping, postJson, startTestServer, type TestServer, until } from './test-support.js';

let server: TestServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

const tenant = {
  owner: (c: { req: { header(name: string): string | undefined } }) => c.req.header('x-tenant'),
};

describe('GET /{endpoint}/schedules', () => {
  it('lists the endpoint’s schedules with their occurrences as ISO strings, without their inputs', async () => {
    server = await startTestServer({
      app: { ...tenant, maxWaitersPerClient: 1 },
      scheduler: false, // listed, never submitted: the test records an occurrence itself
      schedules: [
        defineSchedule({
          name: 'ping.morning',
          endpoint: ping,
          cron: '0 7 * * *',
          timeZone: 'Europe/Paris',
          input: { message: 'secret morning input' },
          priority: 5,
          missed: 'run-once',
        }),
        defineSchedule({ name: 'ping.often', endpoint: ping, everyMs: 60_000, input: { message: 'tick' } }),
      ],
    });
    const s = server;
    await s.repository.advanceSchedule('ping.often', new Date('2026-01-05T10:00:00Z'));

    const response = await get(s.url('/ping/schedules'), { 'X-Tenant': 'alice' });
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const text = await response.text();
    expect(text).not.toContain('secret');
    const { schedules } = JSON.parse(text) as ScheduleListRepresentation;
    expect(schedules).toEqual([
      {
        name: 'ping.morning',
        endpoint: 'ping',
        cron: '0 7 * * *',
        timeZone: 'Europe/Paris',
        everyMs: null,
        missed: 'run-once',
        priority: 5,
        lastOccurrenceAt: null,
        nextOccurrenceAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T0[56]:00:00\.000Z$/),
      },
      {
        name: 'ping.often',
        endpoint: 'ping',
        cron: null,
        timeZone: null,
        everyMs: 60_000,
        missed: 'skip',
        priority: 0,
        lastOccurrenceAt: '2026-01-05T10:00:00.000Z',
        nextOccurrenceAt: expect.stringMatching(/:00\.000Z$/),
      },
    ]);
    for (const schedule of schedules)
      expect(Date.parse(schedule.nextOccurrenceAt!)).toBeGreaterThan(Date.now());
    // Schedules belong to no owner: every caller sees the same list.
    expect(await json(await get(s.url('/ping/schedules'), { 'X-Tenant': 'bob' }))).toEqual({ schedules });

    // An endpoint without schedules, an unknown endpoint, other methods.
    expect(await json(await get(s.url('/task/schedules')))).toEqual({ schedules: [] });
    const unknown = await get(s.url('/nope/schedules'));
    expect(unknown.status).toBe(404);
    expect((await unknown.json()).code).toBe('not_found');
    const post = await postJson(s.url('/ping/schedules'), {});
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD, OPTIONS');
    const head = await fetch(s.url('/ping/schedules'), { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');

    // It never waits, so it takes no waiter slot even with Prefer: wait, also for a client at its cap.
    const alice = { 'X-Tenant': 'alice' };
    const running = await json<JobRepresentation>(
      await postJson(s.url('/task'), { tag: 'cap', steps: 1 }, alice),
    );
    const before = s.getCalls(running.id);
    const held = new AbortController();
    const poll = fetch(`${s.origin}${running.links.self}`, {
      headers: { ...alice, Prefer: 'wait=30' },
      signal: held.signal,
    }).catch(() => null);
    await until(() => s.getCalls(running.id) > before);
    expect((await get(s.url('/ping/schedules'), { ...alice, Prefer: 'wait=30' })).status).toBe(200);
    held.abort();
    await poll;
    s.gates.release('cap');
  });

  it('shows the last occurrence the scheduler submitted', async () => {
    server = await startTestServer({
      schedules: [
        defineSchedule({ name: 'ping.second', endpoint: ping, everyMs: 1_000, input: { message: 's' } }),
      ],
    });
    const s = server;
    // The scheduler submits the next occurrence (within a second) and records it as the last one.
    const listed = async () => (await json<JobListRepresentation>(await get(s.url('/ping')))).jobs;
    while ((await listed()).length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
    const { schedules } = await json<ScheduleListRepresentation>(await get(s.url('/ping/schedules')));
    const [schedule] = schedules;
    expect(schedule).toMatchObject({ name: 'ping.second', everyMs: 1_000 });
    const last = Date.parse(schedule!.lastOccurrenceAt!);
    expect(last % 1_000).toBe(0);
    expect(Date.parse(schedule!.nextOccurrenceAt!)).toBeGreaterThan(last);
  });
});
