import { createJobsRuntime, defineEndpoint, implement, isFinalStatus, silentLogger } from '@jobs/core';
import { createMemoryQueue } from '@jobs/memory';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { PostgresJobRepository } from './repository.js';
import { dropSchema, randomSchema, testRepository } from './test-support.js';

const schema = randomSchema('refused_output');
const maxPayloadBytes = 1024;
let repository: PostgresJobRepository;

beforeAll(async () => {
  repository = testRepository(schema, { maxPayloadBytes, logger: silentLogger });
  await repository.migrate();
});

afterAll(async () => {
  await repository?.close();
  await dropSchema(schema);
});

async function waitForFinal(id: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await repository.get(id);
    if (job && isFinalStatus(job.status)) return job;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for job ${id}.`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('an output the store refuses', () => {
  it('fails the job as invalid_output on its first attempt, saying why, instead of running it again', async () => {
    const endpoint = defineEndpoint({
      name: `refused-${crypto.randomUUID().slice(0, 8)}`,
      input: z.object({ size: z.number() }),
      output: z.object({ blob: z.string() }),
      maxAttempts: 3,
      backoff: { initialMs: 10, factor: 1, maxMs: 10 },
    });
    const attempts: number[] = [];
    const queue = createMemoryQueue();
    const runtime = createJobsRuntime({
      repository,
      queue,
      workers: [
        implement(endpoint, (input, ctx) => {
          attempts.push(ctx.attempt);
          return { blob: 'x'.repeat(input.size) };
        }),
      ],
      logger: silentLogger,
      // Short leases and sweeps: a job left running by a refused result would be run again within the test.
      host: { leaseMs: 1_000, heartbeatIntervalMs: 100 },
      dispatcher: { pollIntervalMs: 100 },
      sweeper: { intervalMs: 100, redispatchAfterMs: 1_000 },
    });
    await runtime.start();
    try {
      const { job } = await runtime.service.submit(endpoint.name, { size: 4 * maxPayloadBytes });
      const done = await waitForFinal(job.id);
      expect(done).toMatchObject({
        status: 'failed',
        attempt: 1,
        output: null,
        error: { code: 'invalid_output' },
      });
      expect(done.error?.detail).toContain(`at most ${maxPayloadBytes}`);
      expect(done.error?.detail).toMatch(/\d+ bytes/);
      expect(attempts).toEqual([1]);
      // What clients see.
      const seen = await runtime.service.get(endpoint.name, job.id);
      expect(seen.error).toMatchObject({ code: 'invalid_output' });
      await expect(runtime.service.output(endpoint.name, job.id)).rejects.toMatchObject({
        code: 'output_not_available',
      });
    } finally {
      await runtime.stop({ timeoutMs: 200 });
      await queue.close();
    }
  }, 60_000);
});
