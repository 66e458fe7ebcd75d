import type { JobQueue } from '@jobs/core';
import { createMemoryQueue } from '@jobs/memory';
import { describe, expect, it } from 'vitest';
import type { JobListRepresentation, JobRepresentation } from './representation.js';
import { get, json, postJson, startTestServer, until } from './test-support.js';

async function listIds(url: string): Promise<string[]> {
  return (await json<JobListRepresentation>(await get(url))).jobs.map((job) => job.id);
}

describe('Idempotency-Key', () => {
  it('replays the original job for the same key and input, and answers 422 for another input', async () => {
    const server = await startTestServer();
    try {
      const first = await postJson(
        server.url('/ping'),
        { message: 'once' },
        { 'Idempotency-Key': '"key-1"' },
      );
      expect(first.status).toBe(202);
      expect(first.headers.get('idempotent-replayed')).toBeNull();
      const original = await json<JobRepresentation>(first);

      // The bare-token form names the same key; key order in the input does not matter.
      const replay = await postJson(server.url('/ping'), { message: 'once' }, { 'Idempotency-Key': 'key-1' });
      expect(replay.status).toBe(202);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(replay.headers.get('location')).toBe(`/jobs/ping/${original.id}`);
      expect(replay.headers.get('content-location')).toBe(`/jobs/ping/${original.id}`);
      const replayed = await json<JobRepresentation>(replay);
      expect(replayed.id).toBe(original.id);

      const waited = await postJson(
        server.url('/ping'),
        { message: 'once' },
        { 'Idempotency-Key': '"key-1"', Prefer: 'wait=30' },
      );
      expect(waited.status).toBe(303);
      expect(waited.headers.get('idempotent-replayed')).toBe('true');
      expect(waited.headers.get('location')).toBe(`/jobs/ping/${original.id}/output`);

      const other = await postJson(
        server.url('/ping'),
        { message: 'different' },
        { 'Idempotency-Key': '"key-1"' },
      );
      expect(other.status).toBe(422);
      expect(other.headers.get('content-type')).toBe('application/problem+json');
      expect(await other.json()).toMatchObject({
        code: 'idempotency_key_reused',
        type: 'https://jobs.dev/problems/idempotency-key-reused',
        status: 422,
      });

      // The same key on another endpoint is another key.
      const task = await postJson(server.url('/task'), { tag: 't' }, { 'Idempotency-Key': '"key-1"' });
      expect(task.status).toBe(202);

      expect(await listIds(server.url('/ping'))).toEqual([original.id]);
    } finally {
      await server.close();
    }
  });

  it('rejects a malformed or too long key with 422 and stores nothing', async () => {
    const server = await startTestServer();
    try {
      for (const key of ['"unterminated', 'two words', `"${'k'.repeat(256)}"`, '""']) {
        const response = await postJson(server.url('/ping'), { message: 'x' }, { 'Idempotency-Key': key });
        expect(response.status).toBe(422);
        const problem = await response.json();
        expect(problem.code).toBe('invalid_input');
        expect(problem.issues[0].path).toEqual(['Idempotency-Key']);
      }
      expect(await listIds(server.url('/ping'))).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('creates exactly one job for 20 concurrent identical requests', async () => {
    const server = await startTestServer();
    try {
      const send = () =>
        postJson(server.url('/task'), { tag: 'concurrent', steps: 0 }, { 'Idempotency-Key': '"same-key"' });
      const responses = await Promise.all(Array.from({ length: 20 }, send));
      const ids = new Set<string>();
      let created = 0;
      for (let response of responses) {
        // 409 means "the original is still being created": retry after Retry-After, as a client would.
        while (response.status === 409) {
          const retryAfter = Number(response.headers.get('retry-after'));
          expect(retryAfter).toBeGreaterThanOrEqual(1);
          expect((await response.json()).code).toBe('idempotency_in_progress');
          await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000));
          response = await send();
        }
        expect(response.status).toBe(202);
        if (response.headers.get('idempotent-replayed') === null) created++;
        ids.add((await json<JobRepresentation>(response)).id);
      }
      expect(created).toBe(1);
      expect(ids.size).toBe(1);
      expect(await listIds(server.url('/task'))).toEqual([...ids]);
    } finally {
      await server.close();
    }
  }, 30_000);

  it('answers 409 with Retry-After while the original request is still creating its job', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let publishing = 0;
    const memory = createMemoryQueue();
    // The first publish waits for the gate: the original request is stuck between storing and dispatching.
    const queue: JobQueue = {
      publish: async (endpoint, id) => {
        publishing++;
        if (publishing === 1) await gate;
        return memory.publish(endpoint, id);
      },
      consume: (endpoint, handler, options) => memory.consume(endpoint, handler, options),
      close: () => memory.close(),
    };
    const server = await startTestServer({ queue });
    try {
      const headers = { 'Idempotency-Key': '"in-flight"' };
      const original = postJson(server.url('/ping'), { message: 'slow' }, headers);
      await until(() => publishing === 1);

      const early = await postJson(server.url('/ping'), { message: 'slow' }, headers);
      expect(early.status).toBe(409);
      expect(early.headers.get('retry-after')).toBe('1');
      expect(early.headers.get('content-type')).toBe('application/problem+json');
      expect(await early.json()).toMatchObject({
        code: 'idempotency_in_progress',
        type: 'https://jobs.dev/problems/idempotency-in-progress',
        status: 409,
      });
      // Another input with the key is still a misuse of the key.
      const misuse = await postJson(server.url('/ping'), { message: 'other' }, headers);
      expect(misuse.status).toBe(422);

      release();
      const first = await original;
      expect(first.status).toBe(202);
      const job = await json<JobRepresentation>(first);
      const later = await postJson(server.url('/ping'), { message: 'slow' }, headers);
      expect(later.status).toBe(202);
      expect(later.headers.get('idempotent-replayed')).toBe('true');
      expect((await json<JobRepresentation>(later)).id).toBe(job.id);
      expect(await listIds(server.url('/ping'))).toEqual([job.id]);
    } finally {
      release();
      await server.close();
    }
  });
});
