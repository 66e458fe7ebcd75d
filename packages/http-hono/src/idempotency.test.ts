import type { JobQueue } from '@jobs/core';
import { createMemoryQueue } from '@jobs/memory';
import { describe, expect, it } from 'vitest';
import type { JobListRepresentation, JobRepresentation } from './representation.js';
import { get, json, pollJob, postJson, startTestServer, until } from './test-support.js';

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

      // Spaces around the string do not matter (RFC 8941 §4.2).
      const replay = await postJson(
        server.url('/ping'),
        { message: 'once' },
        { 'Idempotency-Key': ' "key-1" ' },
      );
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
        type: 'urn:jobs:problem:idempotency-key-reused',
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
      // Not Structured Field strings (RFC 8941): a token, a list, an empty header or string; and too long.
      for (const key of [
        ',',
        'key-1',
        '"a", "b"',
        '"unterminated',
        'two words',
        `"${'k'.repeat(256)}"`,
        '""',
      ]) {
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
      for (const response of responses) {
        // Never 409: a concurrent replay waits for the original's insert and answers with its job.
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

  it('a replay while the original job is not yet handed to the queue answers with that job, never 409', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let publishing = 0;
    const memory = createMemoryQueue();
    // Every publish waits for the gate: the job is stored, its dispatch held up.
    const queue: JobQueue = {
      publish: async (endpoint, id) => {
        publishing++;
        await gate;
        return memory.publish(endpoint, id);
      },
      consume: (endpoint, handler, options) => memory.consume(endpoint, handler, options),
      close: () => memory.close(),
    };
    const server = await startTestServer({ queue });
    try {
      const headers = { 'Idempotency-Key': '"in-flight"' };
      // A submit is done once the job is stored: the answer does not wait for the queue.
      const original = await postJson(server.url('/ping'), { message: 'slow' }, headers);
      expect(original.status).toBe(202);
      const job = await json<JobRepresentation>(original);
      await until(() => publishing >= 1);

      const replay = await postJson(server.url('/ping'), { message: 'slow' }, headers);
      expect(replay.status).toBe(202);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect((await json<JobRepresentation>(replay)).id).toBe(job.id);
      // Another input with the key is still a misuse of the key.
      const misuse = await postJson(server.url('/ping'), { message: 'other' }, headers);
      expect(misuse.status).toBe(422);

      release();
      await pollJob(server, job.links.self, (j) => j.status === 'succeeded');
      expect(await listIds(server.url('/ping'))).toEqual([job.id]);
    } finally {
      release();
      await server.close();
    }
  });
});
