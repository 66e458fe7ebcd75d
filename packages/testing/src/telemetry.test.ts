// The runtime's OpenTelemetry metrics and spans, on the memory repository and queue, read with the SDK's
// in-memory exporter and a pull metric reader.
import {
  createJobsRuntime,
  defineEndpoint,
  implement,
  isFinalStatus,
  JobFailedError,
  type JobsRuntime,
  silentLogger,
} from '@jobs/core';
import { createMemoryQueue, createMemoryRepository } from '@jobs/memory';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { waitFor } from './helpers.js';
import { createTestTelemetry, formatTrace, summarize, type TestTelemetry } from './telemetry.js';

const ping = defineEndpoint({
  name: 'ping',
  input: z.object({ mode: z.enum(['ok', 'fail', 'flaky']) }),
  output: z.object({ ok: z.boolean() }),
  maxAttempts: 2,
  backoff: { initialMs: 10, jitter: 0 },
});

const worker = implement(ping, async ({ mode }, ctx) => {
  if (mode === 'fail') throw new JobFailedError('no', { retryable: false });
  if (mode === 'flaky' && ctx.attempt === 1) throw new Error('first attempt fails');
  return { ok: true };
});

let runtime: JobsRuntime | null = null;
let telemetry: TestTelemetry | null = null;

afterEach(async () => {
  await runtime?.stop();
  await telemetry?.shutdown();
  runtime = null;
  telemetry = null;
});

async function start() {
  telemetry = createTestTelemetry();
  const repository = createMemoryRepository();
  runtime = createJobsRuntime({
    repository,
    queue: createMemoryQueue(),
    workers: [worker],
    tracerProvider: telemetry.tracerProvider,
    meterProvider: telemetry.meterProvider,
    queuedRefreshMs: 0,
    logger: silentLogger,
  });
  await runtime.start();
  return { runtime, telemetry };
}

async function final(runtime: JobsRuntime, id: string) {
  return waitFor(
    async () => {
      const job = await runtime.service.getHeader('ping', id);
      return isFinalStatus(job.status) ? job : null;
    },
    { message: `job ${id} final` },
  );
}

describe('telemetry of the runtime (memory repository and queue)', () => {
  it('counts jobs by endpoint and state, records wait and run times, and gauges queued and running jobs', async () => {
    const { runtime, telemetry } = await start();
    const { service } = runtime;
    const ok = await service.submit('ping', { mode: 'ok' });
    const fail = await service.submit('ping', { mode: 'fail' });
    const flaky = await service.submit('ping', { mode: 'flaky' });
    const later = await service.submit('ping', { mode: 'ok' }, { delayMs: 60_000 });
    expect(await telemetry.sum('jobs.queued', { 'jobs.endpoint': 'ping' })).toBeGreaterThanOrEqual(1);
    for (const { job } of [ok, fail, flaky]) await final(runtime, job.id);
    expect((await service.delete('ping', later.job.id)).outcome).toBe('canceled');
    await service.retry('ping', later.job.id);
    await final(runtime, later.job.id);

    const endpoint = { 'jobs.endpoint': 'ping' };
    expect(await telemetry.sum('jobs.submitted', endpoint)).toBe(4);
    // ok, fail, flaky twice, the retried job once.
    expect(await telemetry.sum('jobs.started', endpoint)).toBe(5);
    expect(await telemetry.sum('jobs.succeeded', endpoint)).toBe(3);
    expect(await telemetry.sum('jobs.failed', endpoint)).toBe(1);
    expect(await telemetry.sum('jobs.canceled', endpoint)).toBe(1);
    expect(await telemetry.sum('jobs.retried', { ...endpoint, 'jobs.retry.kind': 'automatic' })).toBe(1);
    expect(await telemetry.sum('jobs.retried', { ...endpoint, 'jobs.retry.kind': 'manual' })).toBe(1);
    expect(await telemetry.sum('jobs.running', endpoint)).toBe(0);
    expect(await telemetry.count('jobs.wait.duration', endpoint)).toBe(5);

    const messaging = { 'messaging.system': 'jobs', 'messaging.destination.name': 'ping' };
    expect(await telemetry.count('messaging.process.duration', messaging)).toBe(5);
    // The two failed runs carry their error type.
    expect(await telemetry.count('messaging.process.duration', { 'error.type': 'job_failed' })).toBe(2);
    expect(await telemetry.sum('messaging.client.sent.messages', messaging)).toBe(5);
    expect(await telemetry.sum('messaging.client.consumed.messages', messaging)).toBe(5);
    // Nothing is queued any more: the gauge reads the repository's stats again (queuedRefreshMs 0).
    expect(await telemetry.sum('jobs.queued', endpoint)).toBe(0);
  });

  it('with the API but no SDK registered (the global no-op providers): no trace context is stored or carried', async () => {
    const repository = createMemoryRepository();
    runtime = createJobsRuntime({
      repository,
      queue: createMemoryQueue(),
      workers: [worker],
      logger: silentLogger,
    });
    await runtime.start();
    const { job } = await runtime.service.submit('ping', { mode: 'ok' });
    expect(job.traceContext).toBeNull();
    await final(runtime, job.id);
    expect((await repository.get(job.id))?.traceContext).toBeNull();
  });

  it('makes one trace of submit → dispatch → claim, run → settle, under the caller’s span', async () => {
    const { runtime, telemetry } = await start();
    const tracer = telemetry.tracerProvider.getTracer('test');
    const { job } = await tracer.startActiveSpan('POST /ping', async (request) => {
      try {
        return await runtime.service.submit('ping', { mode: 'ok' });
      } finally {
        request.end();
      }
    });
    expect(job.traceContext?.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect((await runtime.service.get('ping', job.id)).traceContext).toEqual(job.traceContext);
    await final(runtime, job.id);
    const spans = await waitFor(() => {
      const ended = telemetry.spans().map((span) => summarize(span));
      return ended.some((span) => span.name === 'settle ping') ? ended : null;
    });
    console.log(`trace of one job (memory repository and queue):\n${formatTrace(spans)}`);
    const byName = new Map(spans.map((span) => [span.name, span]));
    const request = byName.get('POST /ping')!;
    const submit = byName.get('submit ping')!;
    const dispatch = byName.get('dispatch ping')!;
    const claim = byName.get('claim ping')!;
    const run = byName.get('run ping')!;
    const settle = byName.get('settle ping')!;
    for (const span of [submit, dispatch, claim, run, settle]) expect(span.traceId).toBe(request.traceId);
    expect(submit.parentSpanId).toBe(request.spanId);
    expect(dispatch.parentSpanId).toBe(submit.spanId);
    expect(claim.parentSpanId).toBe(dispatch.spanId);
    expect(run.parentSpanId).toBe(dispatch.spanId);
    expect(settle.parentSpanId).toBe(run.spanId);
    // The stored context is the submit span's.
    expect(job.traceContext?.traceparent).toContain(submit.spanId);
    expect(run.attributes).toMatchObject({
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'run',
      'messaging.destination.name': 'ping',
      'messaging.message.id': job.id,
    });
    expect(settle.attributes).toMatchObject({ 'jobs.status': 'succeeded', 'jobs.recorded': true });
  });
});

describe('a stopped runtime', () => {
  it('leaves no jobs.queued callback on the meter provider: a collection no longer reads its repository', async () => {
    telemetry = createTestTelemetry();
    const repository = createMemoryRepository();
    let statsCalls = 0;
    const stats = repository.stats.bind(repository);
    repository.stats = (query) => {
      statsCalls++;
      return stats(query);
    };
    runtime = createJobsRuntime({
      repository,
      queue: createMemoryQueue(),
      workers: [worker],
      meterProvider: telemetry.meterProvider,
      queuedRefreshMs: 0,
      logger: silentLogger,
    });
    await runtime.start();
    await runtime.service.submit('ping', { mode: 'ok' }, { delayMs: 60_000 });
    expect(await telemetry.sum('jobs.queued', { 'jobs.endpoint': 'ping' })).toBe(1);
    const before = statsCalls;
    expect(before).toBeGreaterThan(0);
    await runtime.stop();
    await telemetry.sum('jobs.queued');
    expect(statsCalls).toBe(before);
  });
});

describe('a telemetry SDK that throws', () => {
  it('never reaches the jobs: a span processor throwing in onStart and onEnd disables telemetry, jobs run and settle', async () => {
    const throwing = {
      onStart() {
        throw new Error('processor onStart');
      },
      onEnd() {
        throw new Error('processor onEnd');
      },
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    };
    const errors: string[] = [];
    const repository = createMemoryRepository();
    runtime = createJobsRuntime({
      repository,
      queue: createMemoryQueue(),
      workers: [worker],
      tracerProvider: new TracerProvider({ spanProcessors: [throwing] }),
      logger: { ...silentLogger, error: (_fields, message) => errors.push(message) },
    });
    await runtime.start();
    const submitted = await Promise.all(
      (['ok', 'flaky', 'fail'] as const).map((mode) => runtime!.service.submit('ping', { mode })),
    );
    const finals = await Promise.all(submitted.map(({ job }) => final(runtime!, job.id)));
    expect(finals.map((job) => job.status)).toEqual(['succeeded', 'succeeded', 'failed']);
    expect(errors).toEqual(['telemetry disabled: a provider failed']);
  });
});
