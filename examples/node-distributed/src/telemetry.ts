/**
 * The process's OpenTelemetry SDK, set up before the runtime is created (the runtime and @hono/otel take the
 * global providers):
 * - metrics, always: a Prometheus exporter that starts no server of its own; the API process serves its text at
 *   GET /metrics, a worker process on METRICS_PORT (the exporter's own server) when that is set;
 * - spans, only when TRACE_FILE names a file: every ended span is appended to it as a JSON line (a test reads
 *   the files of all processes), with the W3C trace context propagator and an AsyncLocalStorage context manager.
 * Any other exporter (OTLP to a collector) plugs in the same way; this example keeps to what needs no server.
 */
import { appendFileSync } from 'node:fs';
import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { type ExportResult, ExportResultCode, W3CTraceContextPropagator } from '@opentelemetry/core';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import {
  type ReadableSpan,
  SimpleSpanProcessor,
  type SpanExporter,
  TracerProvider,
} from '@opentelemetry/sdk-trace';

/** One line of a TRACE_FILE. */
export interface SpanLine {
  name: string;
  /** The process that made it (`service.name`). */
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  kind: number;
  attributes: Record<string, unknown>;
}

/** Appends each ended span to a file as one JSON line (synchronously: nothing is lost when the process is killed). */
class FileSpanExporter implements SpanExporter {
  constructor(
    readonly path: string,
    readonly service: string,
  ) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    const lines = spans.map((span) => {
      const line: SpanLine = {
        name: span.name,
        service: this.service,
        traceId: span.spanContext().traceId,
        spanId: span.spanContext().spanId,
        parentSpanId: span.parentSpanContext?.spanId ?? null,
        kind: span.kind,
        attributes: { ...span.attributes },
      };
      return `${JSON.stringify(line)}\n`;
    });
    try {
      appendFileSync(this.path, lines.join(''));
      done({ code: ExportResultCode.SUCCESS });
    } catch (error) {
      done({ code: ExportResultCode.FAILED, error: error as Error });
    }
  }

  async shutdown(): Promise<void> {}
}

export interface ProcessTelemetry {
  /** The current metrics in the Prometheus text format (for GET /metrics). */
  metricsText(): Promise<string>;
  shutdown(): Promise<void>;
}

export function setupTelemetry(
  service: string,
  env: { TRACE_FILE?: string | undefined; METRICS_PORT?: string | undefined },
): ProcessTelemetry {
  const resource = resourceFromAttributes({ 'service.name': service });
  const port = env.METRICS_PORT ? Number(env.METRICS_PORT) : null;
  const exporter = new PrometheusExporter(
    port === null ? { preventServerStart: true } : { port, host: '127.0.0.1' },
  );
  const meterProvider = new MeterProvider({ resource, readers: [exporter] });
  metrics.setGlobalMeterProvider(meterProvider);
  let tracerProvider: TracerProvider | null = null;
  if (env.TRACE_FILE) {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    tracerProvider = new TracerProvider({
      resource,
      spanProcessors: [new SimpleSpanProcessor({ exporter: new FileSpanExporter(env.TRACE_FILE, service) })],
    });
    trace.setGlobalTracerProvider(tracerProvider);
  }
  const serializer = new PrometheusSerializer();
  return {
    async metricsText() {
      const { resourceMetrics } = await exporter.collect();
      return serializer.serialize(resourceMetrics);
    },
    async shutdown() {
      await tracerProvider?.shutdown();
      await meterProvider.shutdown();
    },
  };
}
