import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobRepresentation } from './representation.js';
import {
  get,
  json,
  pollJob,
  postJson,
  type SseEvent,
  SseReader,
  startTestServer,
  type TestServer,
  until,
} from './test-support.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({
    app: { heartbeatSeconds: 0.05 },
    service: { pollIntervalMs: 50, livePollIntervalMs: 50 },
  });
});
afterAll(async () => {
  await server.close();
});

function parse(event: SseEvent): JobRepresentation {
  return JSON.parse(event.data) as JobRepresentation;
}

async function openStream(path: string, headers: Record<string, string> = {}) {
  const response = await get(`${server.origin}${path}`, headers);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
  expect(response.headers.get('cache-control')).toBe('no-store');
  return new SseReader(response.body!);
}

describe('GET /{endpoint}/{id}/events', () => {
  it('streams one event per change, in order, and closes after the final one', async () => {
    const created = await json<JobRepresentation>(
      await postJson(server.url('/task'), { tag: 'sse', steps: 3 }),
    );
    const reader = await openStream(created.links.events);
    const events: SseEvent[] = [];
    const first = await reader.next();
    expect(first).not.toBeNull();
    events.push(first!);
    expect(first!.event).toBe('status');
    expect(parse(first!).id).toBe(created.id);

    for (let step = 1; step <= 3; step++) {
      // Release one step and read until its progress (or the final state) arrived.
      server.gates.release('sse');
      for (;;) {
        const event = await reader.next();
        expect(event).not.toBeNull();
        events.push(event!);
        const job = parse(event!);
        if (job.status === 'succeeded' || (job.progress?.fraction ?? 0) >= step / 3 - 1e-9) break;
      }
    }
    let last = parse(events.at(-1)!);
    while (last.status !== 'succeeded') {
      const event = await reader.next();
      expect(event).not.toBeNull();
      events.push(event!);
      last = parse(event!);
    }
    expect(await reader.next()).toBeNull();
    expect(reader.ended).toBe(true);

    const jobs = events.map(parse);
    expect(new Set(jobs.map((j) => j.id))).toEqual(new Set([created.id]));
    expect(events.at(-1)!.event).toBe('status');
    expect(jobs.at(-1)!.links.output).toBe(`/jobs/task/${created.id}/output`);
    for (const event of events) {
      expect(['status', 'progress']).toContain(event.event);
      expect(event.id).toBe(String(Date.parse(parse(event).updatedAt)));
    }
    const ids = events.map((event) => Number(event.id));
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    const fractions = jobs.map((j) => j.progress?.fraction ?? 0);
    expect([...fractions].sort((a, b) => a - b)).toEqual(fractions);
    const progressEvents = events.filter((event) => event.event === 'progress');
    expect(progressEvents.length).toBeGreaterThanOrEqual(1);
    for (const event of progressEvents) expect(parse(event).status).toBe('running');
    // Every status change is an event named "status".
    for (let i = 1; i < jobs.length; i++) {
      if (jobs[i]!.status !== jobs[i - 1]!.status) expect(events[i]!.event).toBe('status');
    }
    expect(jobs.map((j) => j.status)).toContain('running');
  }, 20_000);

  it('sends the final state of a finished job at once and closes; a reconnect after it gets 204', async () => {
    const done = await json<JobRepresentation>(
      await postJson(server.url('/ping'), { message: 'done' }, { Prefer: 'wait=30' }),
    );
    const reader = await openStream(done.links.events);
    const event = await reader.next();
    expect(event!.event).toBe('status');
    expect(parse(event!).status).toBe('succeeded');
    expect(await reader.next()).toBeNull();

    const reconnect = await get(`${server.origin}${done.links.events}`, { 'Last-Event-ID': event!.id! });
    expect(reconnect.status).toBe(204);
    const stale = await openStream(done.links.events, { 'Last-Event-ID': '1' });
    expect(parse((await stale.next())!).status).toBe('succeeded');
    expect(await stale.next()).toBeNull();
  });

  it('sends heartbeat comments while the job is idle', async () => {
    const created = await json<JobRepresentation>(
      await postJson(server.url('/task'), { tag: 'idle', steps: 1 }),
    );
    await pollJob(server, created.links.self, (j) => j.status === 'running');
    const reader = await openStream(created.links.events);
    expect(parse((await reader.next())!).status).toBe('running');
    const rest = (async () => {
      const events: SseEvent[] = [];
      for (let event = await reader.next(); event; event = await reader.next()) events.push(event);
      return events;
    })();
    await until(() => reader.comments.filter((c) => c === 'heartbeat').length >= 2);
    server.gates.release('idle');
    const events = await rest;
    expect(parse(events.at(-1)!).status).toBe('succeeded');
  }, 20_000);

  it("ends a canceled job's stream with the canceled state", async () => {
    const created = await json<JobRepresentation>(
      await postJson(server.url('/task'), { tag: 'vanish', steps: 1 }),
    );
    await pollJob(server, created.links.self, (j) => j.status === 'running');
    const reader = await openStream(created.links.events);
    expect((await reader.next())!.event).toBe('status');
    // Cancel, then remove: the stream sees the canceled state, then the job is gone.
    expect((await fetch(server.url(`/task/${created.id}`), { method: 'DELETE' })).status).toBe(202);
    const events: SseEvent[] = [];
    for (let event = await reader.next(); event; event = await reader.next()) events.push(event);
    expect(parse(events.at(-1)!).status).toBe('canceled');
    expect((await fetch(server.url(`/task/${created.id}`), { method: 'DELETE' })).status).toBe(204);
  }, 20_000);

  it('stops watching when the client disconnects', async () => {
    const created = await json<JobRepresentation>(
      await postJson(server.url('/task'), { tag: 'leave', steps: 1 }),
    );
    await pollJob(server, created.links.self, (j) => j.status === 'running');
    const reader = await openStream(created.links.events);
    expect((await reader.next())!.event).toBe('status');
    // While the stream is open, the watcher re-reads the job (its safety-net poll, every 50 ms here).
    const before = server.getCalls(created.id);
    await until(() => server.getCalls(created.id) >= before + 3);
    await reader.cancel();
    // After the disconnect the re-reads stop: wait until the count holds still for a while.
    let last = server.getCalls(created.id);
    let stable = 0;
    while (stable < 10) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const now = server.getCalls(created.id);
      stable = now === last ? stable + 1 : 0;
      last = now;
    }
    server.gates.release('leave');
    await pollJob(server, created.links.self, (j) => j.status === 'succeeded');
  }, 20_000);

  it('ends open streams when the app is shut down', async () => {
    const other = await startTestServer();
    const created = await json<JobRepresentation>(
      await postJson(other.url('/task'), { tag: 'shutdown', steps: 1 }),
    );
    const response = await get(other.url(`/task/${created.id}/events`));
    const reader = new SseReader(response.body!);
    expect((await reader.next())!.event).toBe('status');
    const closing = other.close();
    for (let event = await reader.next(); event; event = await reader.next()) {
      expect(['status', 'progress']).toContain(event.event);
    }
    expect(reader.ended).toBe(true);
    await closing;
  }, 20_000);

  it('answers 404 before streaming for an unknown job', async () => {
    const response = await get(server.url('/task/6f1c1a52-8d0e-4a59-9a5e-1f0b8f6c2c11/events'));
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
  });
});
