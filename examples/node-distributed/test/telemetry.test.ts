/**
 * Telemetry across real processes: one API process and one worker process, each with the OpenTelemetry SDK writing
 * its spans to a file of its own (TRACE_FILE). A POST carries a traceparent; the API's spans and the worker's
 * spans must form one trace under it (server span → submit → dispatch → claim and run → settle), the context
 * having crossed RabbitMQ in the message headers. Both processes serve Prometheus text.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { SpanLine } from '../src/telemetry.js';
import { request, submit, waitFor, withScenario } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'jobs-dist-otel-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function readSpans(path: string): SpanLine[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as SpanLine);
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The spans of one trace as an indented tree: name [process], children under their parent. */
function formatTrace(spans: SpanLine[]): string {
  const ids = new Set(spans.map((span) => span.spanId));
  const lines: string[] = [];
  const walk = (parent: string | null, depth: number) => {
    for (const span of spans) {
      const root = parent === null && (span.parentSpanId === null || !ids.has(span.parentSpanId));
      if (!(root || (parent !== null && span.parentSpanId === parent))) continue;
      const from = root && span.parentSpanId ? ` (parent ${span.parentSpanId}: the client's)` : '';
      lines.push(`${'  '.repeat(depth)}${span.name} [${span.service}] ${span.spanId}${from}`);
      walk(span.spanId, depth + 1);
    }
  };
  walk(null, 0);
  return lines.join('\n');
}

describe('distributed deployment: telemetry', () => {
  it('one trace from the POST through RabbitMQ to the worker, across processes; Prometheus text on both', async () => {
    const apiSpans = join(dir, 'api.jsonl');
    const workerSpans = join(dir, 'worker.jsonl');
    const metricsPort = await freePort();
    await withScenario(
      {
        tag: 'otel',
        apis: 1,
        workers: 1,
        apiEnv: { TRACE_FILE: apiSpans, PROCESS_NAME: 'api-1' },
        workerEnv: { TRACE_FILE: workerSpans, PROCESS_NAME: 'worker-1', METRICS_PORT: String(metricsPort) },
      },
      async (scenario) => {
        const api = scenario.api(0);
        const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
        const clientSpanId = '00f067aa0ba902b7';
        const submitted = await submit(
          api,
          'sleep',
          { ms: 10 },
          { traceparent: `00-${traceId}-${clientSpanId}-01` },
        );
        expect(submitted.status).toBe(202);
        const id = submitted.body.id as string;
        await scenario.waitAllFinal(1, 30_000);
        await waitFor(() => readSpans(workerSpans).some((span) => span.name === 'settle sleep'), {
          timeoutMs: 10_000,
          what: 'the worker’s settle span in its file',
        });

        const spans = [...readSpans(apiSpans), ...readSpans(workerSpans)].filter(
          (span) => span.traceId === traceId,
        );
        console.log(
          `trace ${traceId} (API and worker processes, spans from their files):\n${formatTrace(spans)}`,
        );
        const one = (name: string) => {
          const found = spans.filter((span) => span.name === name);
          expect(found, name).toHaveLength(1);
          return found[0]!;
        };
        const server = one('POST /jobs/:endpoint');
        const submitSpan = one('submit sleep');
        const dispatch = one('dispatch sleep');
        const claim = one('claim sleep');
        const run = one('run sleep');
        const settle = one('settle sleep');
        expect(server).toMatchObject({ service: 'api-1', parentSpanId: clientSpanId });
        expect(submitSpan).toMatchObject({ service: 'api-1', parentSpanId: server.spanId });
        // Every process dispatches; the API process that stored the job is told at once.
        expect(dispatch.parentSpanId).toBe(submitSpan.spanId);
        expect(claim).toMatchObject({ service: 'worker-1', parentSpanId: dispatch.spanId });
        expect(run).toMatchObject({ service: 'worker-1', parentSpanId: dispatch.spanId });
        expect(run.attributes).toMatchObject({ 'messaging.system': 'rabbitmq', 'messaging.message.id': id });
        expect(settle).toMatchObject({ service: 'worker-1', parentSpanId: run.spanId });

        const apiMetrics = await request(`${api.replace(/\/jobs$/, '')}/metrics`);
        expect(apiMetrics.status).toBe(200);
        const apiText = String(apiMetrics.body);
        expect(apiText).toMatch(/^jobs_submitted_total\{[^}]*jobs_endpoint="sleep"[^}]*\} 1$/m);
        expect(apiText).toMatch(/^jobs_queued\{[^}]*jobs_endpoint="sleep"[^}]*\} 0$/m);
        // The exporter names a histogram without a unit suffix: http_server_request_duration_count.
        expect(apiText).toMatch(/^http_server_request_duration_count\{[^}]*http_route="\/jobs\/:endpoint"/m);
        // A route template, never a job id.
        expect(apiText).not.toContain(id);
        const workerText = String((await request(`http://127.0.0.1:${metricsPort}/metrics`)).body);
        expect(workerText).toMatch(/^jobs_succeeded_total\{[^}]*jobs_endpoint="sleep"[^}]*\} 1$/m);
        expect(workerText).toMatch(/^messaging_process_duration_count\{[^}]*\} 1$/m);
        expect(workerText).toMatch(/^jobs_wait_duration_count\{[^}]*jobs_endpoint="sleep"[^}]*\} 1$/m);
        // Whichever process dispatched the job (every process dispatches) counted the message it sent.
        expect(`${apiText}\n${workerText}`).toMatch(
          /^messaging_client_sent_messages_total\{[^}]*messaging_destination_name="sleep"[^}]*\} 1$/m,
        );
        console.log(
          `from the worker's /metrics:\n${workerText
            .split('\n')
            .filter((line) => /^(jobs_|messaging_)/.test(line) && !line.includes('_bucket'))
            .join('\n')}\nfrom the API's /metrics:\n${apiText
            .split('\n')
            .filter((line) => /^(jobs_|messaging_|http_server_request_duration_count)/.test(line))
            .join('\n')}`,
        );
      },
    );
  }, 180_000);
});
