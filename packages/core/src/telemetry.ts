import type {
  Attributes,
  Context,
  Counter,
  Histogram,
  MeterProvider,
  ObservableResult,
  SpanContext,
  SpanOptions,
  Tracer,
  TracerProvider,
  UpDownCounter,
} from '@opentelemetry/api';
import { InvalidInputError } from './errors.js';
import { describeError, type Logger } from './logger.js';
import type { JobRepository } from './repository.js';

type Api = typeof import('@opentelemetry/api');

/**
 * W3C trace context of a job (`traceparent`, and `tracestate` when there is one): the context of the span that
 * submitted it, stored with the job, and of the span that dispatched it, carried by its queue message.
 */
export type TraceContext = Readonly<Record<string, string>>;

// The public types below are structural, so that the declarations of @jobs/core do not import
// @opentelemetry/api (an optional peer: an app without it must still compile with skipLibCheck off). The API's
// own types fit them.

/** An OpenTelemetry `MeterProvider` (`@opentelemetry/api`'s, or an SDK's). */
export interface MeterProviderLike {
  getMeter(name: string): unknown;
}

/** An OpenTelemetry `TracerProvider` (`@opentelemetry/api`'s, or an SDK's). */
export interface TracerProviderLike {
  getTracer(name: string): unknown;
}

/** OpenTelemetry providers of a runtime; default: the global ones (`@opentelemetry/api`'s, no-op without an SDK). */
export interface TelemetryOptions {
  meterProvider?: MeterProviderLike | undefined;
  tracerProvider?: TracerProviderLike | undefined;
  /**
   * The `jobs.queued` gauge reads `repository.stats` at most this often (a scrape in between gets the last
   * answer). Default 15 s.
   */
  queuedRefreshMs?: number | undefined;
}

/** The keys of a `TraceContext` and their longest accepted values (a version-00 `traceparent` is 55 characters; room for later versions; W3C caps `tracestate` at 512). */
const TRACE_CONTEXT_KEYS: Readonly<Record<string, number>> = { traceparent: 128, tracestate: 512 };

/**
 * The trace context to store or carry from a propagator's carrier: `traceparent` and `tracestate` only (a
 * baggage header or anything else a propagator writes stays out), null when there is no `traceparent`.
 */
export function toTraceContext(
  carrier: Readonly<Record<string, unknown>> | null | undefined,
): TraceContext | null {
  if (!carrier || typeof carrier.traceparent !== 'string') return null;
  const context: Record<string, string> = {};
  for (const [key, max] of Object.entries(TRACE_CONTEXT_KEYS)) {
    const value = carrier[key];
    if (typeof value === 'string' && value.length > 0 && value.length <= max) context[key] = value;
  }
  return context.traceparent ? context : null;
}

/** Whether a stored value is a trace context (what repositories accept). */
export function isTraceContext(value: unknown): value is TraceContext {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const entries = Object.entries(value);
  return (
    entries.some(([key]) => key === 'traceparent') &&
    entries.every(
      ([key, text]) =>
        Object.hasOwn(TRACE_CONTEXT_KEYS, key) &&
        typeof text === 'string' &&
        text.length > 0 &&
        text.length <= TRACE_CONTEXT_KEYS[key]!,
    )
  );
}

/**
 * A new job's trace context as a repository stores it: null when there is none, else a checked copy; anything
 * else is refused with `InvalidInputError` (field `traceContext`).
 */
export function checkTraceContext(value: unknown): TraceContext | null {
  if (value === undefined || value === null) return null;
  if (!isTraceContext(value)) {
    throw InvalidInputError.field(
      'traceContext',
      'traceContext must hold a traceparent (and maybe a tracestate).',
    );
  }
  return Object.freeze({ ...value });
}

let loading: Promise<Api | null> | null = null;

/** `@opentelemetry/api` if the app installed it (an optional peer dependency), else null; loaded once. */
function loadApi(): Promise<Api | null> {
  loading ??= import('@opentelemetry/api').then(
    (api) => api,
    () => null,
  );
  return loading;
}

const SCOPE = '@jobs/core';
// SpanKind and SpanStatusCode of the API, without loading it to read them.
const KIND = { internal: 0, producer: 3, consumer: 4, client: 2 } as const;
const STATUS_ERROR = 2;

/** Run times and waits from milliseconds to an hour (seconds). */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

/** How a job's step ended, for the counters: its endpoint, and an error type when it failed. */
export type SettledAs = 'succeeded' | 'failed' | 'canceled' | 'retried' | 'released';

interface Instruments {
  tracer: Tracer;
  submitted: Counter;
  started: Counter;
  succeeded: Counter;
  failed: Counter;
  canceled: Counter;
  retried: Counter;
  waitDuration: Histogram;
  running: UpDownCounter;
  sent: Counter;
  consumed: Counter;
  processDuration: Histogram;
}

/** What the runtime calls on a span (`@opentelemetry/api`'s `Span` fits). */
interface SpanLike {
  setAttribute(key: string, value: string | number | boolean): unknown;
  setStatus(status: { code: number }): unknown;
  end(): void;
  isRecording(): boolean;
  spanContext(): unknown;
}

/** A span in progress, with the context to hand on (stored with the job, or carried by a message). */
export interface SpanHandle {
  span: SpanLike;
  /** The API's `Context` with the span set in it. */
  context: object;
}

/**
 * The runtime's metrics and spans (names in the core README, "Telemetry"). Every call is a no-op until
 * `@opentelemetry/api` is loaded (and stays one without it); with the API but no SDK, its no-op instruments
 * and non-recording spans are all that is made. Attribute sets are cached per endpoint, so a job costs no
 * allocation of ours.
 */
export class Telemetry {
  /** Telemetry that records nothing: components made without a runtime. */
  static readonly disabled = new Telemetry(null);

  readonly ready: Promise<void>;
  #api: Api | null = null;
  #instruments: Instruments | null = null;
  readonly #attributes = new Map<string, PerEndpoint>();
  #system = 'jobs';
  #settled = false;

  constructor(
    private readonly options:
      | (TelemetryOptions & {
          /** With `endpoints`: the `jobs.queued` gauge reports these endpoints' queued jobs (0 for none). */
          repository?: JobRepository;
          endpoints?: readonly string[];
          logger?: Logger;
        })
      | null,
  ) {
    this.ready =
      options === null
        ? Promise.resolve()
        : loadApi().then((api) => {
            try {
              this.#init(api);
            } catch (error) {
              // A provider that throws leaves this runtime without telemetry, never without its jobs.
              this.#instruments = null;
              this.#api = null;
              options.logger?.warn({ error: describeError(error) }, 'telemetry disabled: a provider failed');
            }
          });
  }

  /** Whether the API is loaded (or known to be absent): `ready` has settled. */
  get loaded(): boolean {
    return this.options === null || this.#settled;
  }

  /** Whether the API is loaded: spans and instruments are made (no-op ones without an SDK). */
  get active(): boolean {
    return this.#instruments !== null;
  }

  /** The queue's `messaging.system` (`JobQueue.messagingSystem`); default `jobs`. */
  set system(system: string | undefined) {
    this.#system = system ?? 'jobs';
  }

  /**
   * Runs a telemetry step; if it throws (an SDK's span processor or exporter may: the SDK calls them inline), the
   * runtime goes on without telemetry from then on, logged once, and the job never sees the error.
   */
  #guard<T>(fallback: T, step: () => T): T {
    if (this.#instruments === null) return fallback;
    try {
      return step();
    } catch (error) {
      this.#instruments = null;
      this.#api = null;
      this.options?.logger?.error({ error: describeError(error) }, 'telemetry disabled: a provider failed');
      return fallback;
    }
  }

  #init(api: Api | null): void {
    this.#settled = true;
    if (!api || this.options === null) return;
    this.#api = api;
    const meter = (
      (this.options.meterProvider as MeterProvider | undefined) ?? api.metrics.getMeterProvider()
    ).getMeter(SCOPE);
    const tracer = (
      (this.options.tracerProvider as TracerProvider | undefined) ?? api.trace.getTracerProvider()
    ).getTracer(SCOPE);
    const counter = (name: string, description: string, unit = '{job}') =>
      meter.createCounter(name, { description, unit });
    const duration = (name: string, description: string) =>
      meter.createHistogram(name, {
        description,
        unit: 's',
        advice: { explicitBucketBoundaries: DURATION_BUCKETS },
      });
    this.#instruments = {
      tracer,
      submitted: counter('jobs.submitted', 'Jobs stored by a submit.'),
      started: counter('jobs.started', 'Runs started (a job retried after a failure starts again).'),
      succeeded: counter('jobs.succeeded', 'Jobs that succeeded.'),
      failed: counter('jobs.failed', 'Jobs that failed for good (no attempt left, or not retryable).'),
      canceled: counter('jobs.canceled', 'Jobs canceled (queued, or running when their worker stopped).'),
      retried: counter('jobs.retried', 'Jobs queued again: after a failed attempt, or by an explicit retry.'),
      waitDuration: duration('jobs.wait.duration', 'Time from when a job was due to when its run started.'),
      running: meter.createUpDownCounter('jobs.running', {
        description: 'Jobs running in this process.',
        unit: '{job}',
      }),
      sent: counter('messaging.client.sent.messages', 'Job messages sent to the queue.', '{message}'),
      consumed: counter(
        'messaging.client.consumed.messages',
        'Job messages delivered to a worker host.',
        '{message}',
      ),
      processDuration: duration('messaging.process.duration', 'Run time of a job (its worker code).'),
    };
    const { repository, endpoints } = this.options;
    if (repository && endpoints && endpoints.length > 0) {
      const gauge = meter.createObservableGauge('jobs.queued', {
        description:
          'Jobs queued per endpoint in the repository (read through stats, at most every queuedRefreshMs).',
        unit: '{job}',
      });
      const callback = (result: ObservableResult) => this.#observeQueued(repository, endpoints, result);
      gauge.addCallback(callback);
      this.#removeGauge = () => gauge.removeCallback(callback);
    }
  }

  #removeGauge: (() => void) | null = null;

  /**
   * Stops observing the `jobs.queued` gauge (a stopped runtime must not leave its repository behind on a meter
   * provider that outlives it, e.g. the global one).
   */
  async close(): Promise<void> {
    await this.ready;
    const remove = this.#removeGauge;
    this.#removeGauge = null;
    try {
      remove?.();
    } catch {
      // A provider that fails here has nothing of ours left to keep.
    }
  }

  #queued: { at: number; counts: ReadonlyArray<readonly [string, number]> } | null = null;
  #reading: Promise<void> | null = null;
  #readFailed = false;

  async #observeQueued(
    repository: JobRepository,
    endpoints: readonly string[],
    result: ObservableResult,
  ): Promise<void> {
    const refreshMs = this.options?.queuedRefreshMs ?? 15_000;
    if (this.#queued === null || Date.now() - this.#queued.at >= refreshMs) {
      this.#reading ??= repository
        .stats({ endpoints, since: new Date(), bucketMs: 60_000 })
        .then(
          (stats) => {
            // An endpoint without jobs is left out of the stats: it has none queued.
            const counts = new Map(endpoints.map((endpoint) => [endpoint, 0]));
            for (const { endpoint, counts: byStatus } of stats) counts.set(endpoint, byStatus.queued);
            this.#queued = { at: Date.now(), counts: [...counts] };
            this.#readFailed = false;
          },
          (error: unknown) => {
            if (!this.#readFailed)
              this.options?.logger?.warn(
                { endpoints, error: describeError(error) },
                'jobs.queued: the repository stats failed',
              );
            this.#readFailed = true;
          },
        )
        .finally(() => {
          this.#reading = null;
        });
      await this.#reading;
    }
    for (const [endpoint, queued] of this.#queued?.counts ?? []) result.observe(queued, this.#jobs(endpoint));
  }

  #jobs(endpoint: string): Attributes {
    return this.#cached(endpoint).jobs;
  }

  /** The messaging attributes of an operation on an endpoint, with `error.type` when given (cached: few types). */
  #messaging(endpoint: string, operation: string, errorType: string | null = null): Attributes {
    const cached = this.#cached(endpoint).messaging;
    const key = errorType === null ? operation : `${operation} ${errorType}`;
    let attributes = cached.get(key);
    if (!attributes) {
      attributes = {
        'messaging.system': this.#system,
        'messaging.destination.name': endpoint,
        'messaging.operation.name': operation,
        ...(errorType === null ? {} : { 'error.type': errorType }),
      };
      cached.set(key, attributes);
    }
    return attributes;
  }

  #cached(endpoint: string): PerEndpoint {
    let cached = this.#attributes.get(endpoint);
    if (!cached) {
      const jobs = { 'jobs.endpoint': endpoint };
      cached = {
        jobs,
        retried: {
          automatic: { ...jobs, 'jobs.retry.kind': 'automatic' },
          manual: { ...jobs, 'jobs.retry.kind': 'manual' },
        },
        messaging: new Map(),
        spans: new Map(),
      };
      this.#attributes.set(endpoint, cached);
    }
    return cached;
  }

  /** A span's name and start options, made once per endpoint and operation. */
  #spanStart(endpoint: string, operation: Operation): SpanStart {
    const cached = this.#cached(endpoint).spans;
    let start = cached.get(operation);
    if (!start) {
      start = {
        name: `${operation} ${endpoint}`,
        options: {
          kind: SPAN_KINDS[operation],
          attributes: {
            ...this.#messaging(endpoint, operation),
            'messaging.operation.type': OPERATION_TYPES[operation],
          },
        },
      };
      cached.set(operation, start);
    }
    return start;
  }

  // --- spans -------------------------------------------------------------------------------------------------

  /**
   * Starts a span `{operation} {endpoint}` (messaging conventions: operation name and type, system, destination),
   * parented by `parent` (a stored or carried trace context, or a span's context) or else the active context.
   * Null while the API is not loaded, and for a span that neither records nor has a context to hand on (no SDK):
   * callers add their attributes through `handle?.span`, which then costs nothing.
   */
  startSpan(
    operation: Operation,
    endpoint: string,
    parent: TraceContext | SpanHandle | null,
  ): SpanHandle | null {
    return this.#guard(null, () => this.#startSpan(operation, endpoint, parent));
  }

  #startSpan(
    operation: Operation,
    endpoint: string,
    parent: TraceContext | SpanHandle | null,
  ): SpanHandle | null {
    const api = this.#api;
    const instruments = this.#instruments;
    if (!api || !instruments) return null;
    const base =
      parent === null
        ? api.context.active()
        : isSpanHandle(parent)
          ? (parent.context as Context)
          : api.propagation.extract(api.ROOT_CONTEXT, parent);
    const start = this.#spanStart(endpoint, operation);
    const span = instruments.tracer.startSpan(start.name, start.options, base);
    if (!span.isRecording() && !api.isSpanContextValid(span.spanContext())) {
      span.end();
      return null;
    }
    return { span, context: api.trace.setSpan(base, span) };
  }

  /** The W3C trace context of a span to store or carry; null when the span has none (no SDK, not sampled in). */
  traceContextOf(handle: SpanHandle | null): TraceContext | null {
    const api = this.#api;
    if (!api || !handle) return null;
    return this.#guard(null, () => {
      if (!api.isSpanContextValid(handle.span.spanContext() as SpanContext)) return null;
      const carrier: Record<string, string> = {};
      api.propagation.inject(handle.context as Context, carrier);
      return toTraceContext(carrier);
    });
  }

  /** Sets an attribute of a span in progress (nothing without one). */
  setAttribute(handle: SpanHandle | null, key: string, value: string | number | boolean): void {
    if (handle) this.#guard(undefined, () => handle.span.setAttribute(key, value));
  }

  /**
   * Ends a span; with an error (or an error type), its status is ERROR and `error.type` says what kind (the
   * message of an error is not recorded: it may carry what a client must not see).
   */
  endSpan(handle: SpanHandle | null, error?: unknown): void {
    if (!handle) return;
    this.#guard(undefined, () => {
      if (error !== undefined && error !== null) {
        handle.span.setAttribute('error.type', typeof error === 'string' ? error : errorType(error));
        handle.span.setStatus({ code: STATUS_ERROR });
      }
      handle.span.end();
    });
  }

  /** Runs `fn` with the span's context active (the worker's own spans become its children). */
  within<T>(handle: SpanHandle | null, fn: () => T): T {
    const api = this.#api;
    return api && handle ? api.context.with(handle.context as Context, fn) : fn();
  }

  // --- metrics -----------------------------------------------------------------------------------------------

  submitted(endpoint: string, count = 1): void {
    this.#guard(undefined, () => this.#instruments?.submitted.add(count, this.#jobs(endpoint)));
  }

  /** Messages sent to the queue: `messaging.client.sent.messages` (with `error.type` for a failed publish). */
  sent(endpoint: string, error: Error | null): void {
    this.#guard(undefined, () =>
      this.#instruments?.sent.add(1, this.#messaging(endpoint, 'dispatch', error ? errorType(error) : null)),
    );
  }

  consumed(endpoint: string): void {
    this.#guard(undefined, () => this.#instruments?.consumed.add(1, this.#messaging(endpoint, 'claim')));
  }

  /** A run started here: `jobs.started`, `jobs.wait.duration` (from its due time), `jobs.running` + 1. */
  started(endpoint: string, waitMs: number): void {
    this.#guard(undefined, () => {
      const instruments = this.#instruments!;
      const attributes = this.#jobs(endpoint);
      instruments.started.add(1, attributes);
      instruments.waitDuration.record(Math.max(0, waitMs) / 1000, attributes);
      instruments.running.add(1, attributes);
    });
  }

  /** A run started here is over: `jobs.running` − 1, `messaging.process.duration` of the worker code. */
  ran(endpoint: string, runMs: number | null, failed: string | null): void {
    this.#guard(undefined, () => {
      const instruments = this.#instruments!;
      instruments.running.add(-1, this.#jobs(endpoint));
      if (runMs !== null) {
        instruments.processDuration.record(runMs / 1000, this.#messaging(endpoint, 'run', failed));
      }
    });
  }

  /** A job reached a state recorded here: the counter of that state (`released` counts nothing). */
  settled(endpoint: string, as: SettledAs, retry?: 'automatic' | 'manual'): void {
    if (as === 'released') return;
    this.#guard(undefined, () => {
      const instruments = this.#instruments!;
      if (as === 'retried') instruments.retried.add(1, this.#cached(endpoint).retried[retry ?? 'automatic']);
      else instruments[as].add(1, this.#jobs(endpoint));
    });
  }
}

type Operation = 'submit' | 'dispatch' | 'claim' | 'run' | 'settle';

interface SpanStart {
  name: string;
  options: SpanOptions;
}

/** What is made once per endpoint, so that a job's metrics and spans allocate nothing of ours. */
interface PerEndpoint {
  jobs: Attributes;
  retried: { automatic: Attributes; manual: Attributes };
  messaging: Map<string, Attributes>;
  spans: Map<Operation, SpanStart>;
}

const SPAN_KINDS = {
  submit: KIND.producer,
  dispatch: KIND.producer,
  claim: KIND.client,
  run: KIND.consumer,
  settle: KIND.client,
} as const;

const OPERATION_TYPES = {
  submit: 'create',
  dispatch: 'send',
  claim: 'receive',
  run: 'process',
  settle: 'settle',
} as const;

function isSpanHandle(value: TraceContext | SpanHandle): value is SpanHandle {
  return typeof (value as SpanHandle).context === 'object';
}

/** `error.type`: a problem's code, an error's name, else `_OTHER` (low cardinality, never a message). */
export function errorType(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code.length > 0 && code.length <= 64) return code;
    if (error instanceof Error) return error.name;
  }
  return '_OTHER';
}
