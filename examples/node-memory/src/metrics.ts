// Prometheus text at GET /metrics (Node only: the Bun and Deno examples serve the same service without it). The
// OpenTelemetry metrics SDK is registered globally before the runtime starts, which then records its jobs.* and
// messaging.* metrics; the Prometheus exporter starts no server of its own, the quick start's server answers.
import { metrics } from '@opentelemetry/api';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';

export interface PrometheusMetrics {
  /** The current metrics in the Prometheus text format. */
  text(): Promise<string>;
}

let registered: PrometheusMetrics | null = null;

/** Registers the global meter provider once per process (a second quick start in a test shares it). */
export function prometheusMetrics(): PrometheusMetrics {
  if (registered) return registered;
  const exporter = new PrometheusExporter({ preventServerStart: true });
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [exporter] }));
  const serializer = new PrometheusSerializer();
  registered = {
    async text() {
      const { resourceMetrics } = await exporter.collect();
      return serializer.serialize(resourceMetrics);
    },
  };
  return registered;
}

/** Answers GET /metrics with the Prometheus text, and hands every other request to `fetch`. */
export function withMetrics(
  fetch: (request: Request) => Response | Promise<Response>,
  source: PrometheusMetrics,
): (request: Request) => Promise<Response> {
  return async (request) => {
    if (request.method === 'GET' && new URL(request.url).pathname === '/metrics') {
      return new Response(await source.text(), {
        headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' },
      });
    }
    return fetch(request);
  };
}
