// Trace context through RabbitMQ: the dispatch span's context travels in the message's `traceparent` and
// `tracestate` headers, and the worker's spans join the submit's trace.
import {
  createJobsRuntime,
  defineEndpoint,
  implement,
  isFinalStatus,
  type JobsRuntime,
  silentLogger,
} from '@jobs/core';
import { createMemoryRepository } from '@jobs/memory';
import { createTestTelemetry, formatTrace, summarize, type TestTelemetry } from '@jobs/testing/telemetry';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createAmqpQueue } from './index.js';
import type { AmqpJobQueue } from './queue.js';
import { Admin, AMQP_URL, randomName, waitFor } from './test-support.js';

const ping = defineEndpoint({ name: 'ping', input: z.object({}), output: z.object({ ok: z.boolean() }) });
const traceContext = {
  traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  tracestate: 'vendor=value',
};

let admin: Admin;
let queue: AmqpJobQueue | null = null;
let runtime: JobsRuntime | null = null;
let telemetry: TestTelemetry | null = null;

beforeAll(async () => {
  admin = await Admin.open();
});
afterAll(async () => {
  await admin?.close();
});
afterEach(async () => {
  await runtime?.stop();
  if (queue) {
    await queue.close();
    await admin.deleteTopology(queue.prefix, ['ping']);
  }
  await telemetry?.shutdown();
  runtime = null;
  queue = null;
  telemetry = null;
});

function amqpQueue(): AmqpJobQueue {
  queue = createAmqpQueue({ url: AMQP_URL, prefix: randomName('t'), logger: silentLogger });
  return queue;
}

describe('trace context through RabbitMQ', () => {
  it('a published trace context is in the AMQP headers traceparent and tracestate, and none without one', async () => {
    const queue = amqpQueue();
    await queue.publish('ping', 'with-context', traceContext);
    await queue.publish('ping', 'without');
    const headers = await admin.withChannel(async (channel) => {
      const read: Array<Record<string, unknown>> = [];
      for (let i = 0; i < 2; i++) {
        const message = await waitFor(() => channel.get(queue.names.queue('ping'), { noAck: true }));
        if (message !== false) read.push(message.properties.headers ?? {});
      }
      return read;
    });
    expect(headers[0]).toMatchObject(traceContext);
    expect(headers[1]).not.toHaveProperty('traceparent');
  });

  it('the worker’s claim and run spans are children of the dispatch span whose context the message carried', async () => {
    telemetry = createTestTelemetry();
    const tracer = telemetry.tracerProvider.getTracer('test');
    runtime = createJobsRuntime({
      repository: createMemoryRepository(),
      queue: amqpQueue(),
      workers: [implement(ping, async () => ({ ok: true }))],
      tracerProvider: telemetry.tracerProvider,
      meterProvider: telemetry.meterProvider,
      logger: silentLogger,
    });
    await runtime.start();
    const { job } = await tracer.startActiveSpan('POST /ping', async (request) => {
      try {
        return await runtime!.service.submit('ping', {});
      } finally {
        request.end();
      }
    });
    await waitFor(async () => isFinalStatus((await runtime!.service.getHeader('ping', job.id)).status));
    const finished = telemetry;
    const spans = await waitFor(() => {
      const ended = finished.spans().map((span) => summarize(span));
      return ended.some((span) => span.name === 'settle ping') ? ended : null;
    });
    console.log(`trace of one job through RabbitMQ:\n${formatTrace(spans)}`);
    const named = (name: string) => spans.find((span) => span.name === name)!;
    const dispatch = named('dispatch ping');
    const run = named('run ping');
    for (const span of spans) expect(span.traceId).toBe(named('POST /ping').traceId);
    expect(dispatch.parentSpanId).toBe(named('submit ping').spanId);
    expect(named('claim ping').parentSpanId).toBe(dispatch.spanId);
    expect(run.parentSpanId).toBe(dispatch.spanId);
    expect(run.kind).toBe(4); // CONSUMER
    expect(run.attributes).toMatchObject({
      'messaging.system': 'rabbitmq',
      'messaging.destination.name': 'ping',
    });
    expect(named('settle ping').parentSpanId).toBe(run.spanId);
    expect(await finished.sum('messaging.client.sent.messages', { 'messaging.system': 'rabbitmq' })).toBe(1);
  });
});
