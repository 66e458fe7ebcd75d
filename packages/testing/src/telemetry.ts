// Test support for the runtime's OpenTelemetry metrics and spans (`@jobs/testing/telemetry`): the SDK's in-memory
// span exporter and a pull metric reader. A separate entry, so that the contract suites do not need the SDK.
import { context, propagation } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { type DataPoint, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';

/** A metric reader that collects when asked (a test reads the values at the moment it chooses). */
class PullReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

export interface TestTelemetry {
  tracerProvider: TracerProvider;
  meterProvider: MeterProvider;
  /** Every span ended so far. */
  spans(): ReadableSpan[];
  /** The data points of a metric now (collected), each with its attributes; [] when it recorded nothing. */
  points(name: string): Promise<Array<DataPoint<unknown>>>;
  /** Sum of a counter's (or up-down counter's) points whose attributes include `attributes`. */
  sum(name: string, attributes?: Record<string, unknown>): Promise<number>;
  /** How many values a histogram recorded, over its points whose attributes include `attributes`. */
  count(name: string, attributes?: Record<string, unknown>): Promise<number>;
  shutdown(): Promise<void>;
}

let installed = false;

/**
 * Registers, once per test process, what an application's SDK setup registers globally besides the providers:
 * an AsyncLocalStorage context manager and the W3C trace context propagator.
 */
export function installGlobalPropagation(): void {
  if (installed) return;
  installed = true;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
}

/** Providers to pass to `createJobsRuntime({ tracerProvider, meterProvider })`, with in-memory exporters. */
export function createTestTelemetry(): TestTelemetry {
  installGlobalPropagation();
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const reader = new PullReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const points = async (name: string) => {
    const { resourceMetrics } = await reader.collect();
    return resourceMetrics.scopeMetrics
      .flatMap((scope) => scope.metrics)
      .filter((metric) => metric.descriptor.name === name)
      .flatMap((metric) => metric.dataPoints as Array<DataPoint<unknown>>);
  };
  const matching = async (name: string, attributes: Record<string, unknown>) =>
    (await points(name)).filter((point) =>
      Object.entries(attributes).every(([key, value]) => point.attributes[key] === value),
    );
  return {
    tracerProvider,
    meterProvider,
    spans: () => exporter.getFinishedSpans(),
    points,
    async sum(name, attributes = {}) {
      return (await matching(name, attributes)).reduce((total, point) => total + Number(point.value), 0);
    },
    async count(name, attributes = {}) {
      return (await matching(name, attributes)).reduce(
        (total, point) => total + (point.value as { count: number }).count,
        0,
      );
    },
    async shutdown() {
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
    },
  };
}

/** A span as the trace printouts and assertions need it (also for spans read back from another process's file). */
export interface SpanSummary {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  kind: number;
  /** Which process made it (a test's label). */
  process?: string;
  attributes?: Record<string, unknown>;
}

export function summarize(span: ReadableSpan, process?: string): SpanSummary {
  return {
    name: span.name,
    traceId: span.spanContext().traceId,
    spanId: span.spanContext().spanId,
    parentSpanId: span.parentSpanContext?.spanId ?? null,
    kind: span.kind,
    ...(process === undefined ? {} : { process }),
    attributes: { ...span.attributes },
  };
}

/** The spans of one trace as an indented tree (name, process, span id), children under their parent. */
export function formatTrace(spans: readonly SpanSummary[]): string {
  const ids = new Set(spans.map((span) => span.spanId));
  const lines: string[] = [];
  const walk = (parent: string | null, depth: number) => {
    for (const span of spans) {
      const isRoot = parent === null && (span.parentSpanId === null || !ids.has(span.parentSpanId));
      if (!(isRoot || (parent !== null && span.parentSpanId === parent))) continue;
      const origin = span.process ? ` [${span.process}]` : '';
      const remote = isRoot && span.parentSpanId ? ` (parent ${span.parentSpanId}, not exported here)` : '';
      lines.push(`${'  '.repeat(depth)}${span.name}${origin} ${span.spanId}${remote}`);
      walk(span.spanId, depth + 1);
    }
  };
  walk(null, 0);
  return lines.join('\n');
}
