import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import type { ProfileReport } from './types.js';

export { delay };

/** Runs `fn` on a short-lived connection of its own (schema creation and removal, not measured). */
export async function withAdminClient<T>(
  databaseUrl: string,
  fn: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'jobs-bench:admin' });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Schema names are built from a run id of [a-z0-9_] only; checked again here because they are spliced into SQL. */
export function schemaName(prefix: string, runId: string): string {
  const name = `${prefix}_${runId}`;
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`Invalid schema name ${name}`);
  return name;
}

export async function dropSchema(databaseUrl: string, schema: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`Invalid schema name ${schema}`);
  await withAdminClient(databaseUrl, (client) => client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
}

interface Counter {
  calls: number;
  totalMs: number;
}

/**
 * Counts the calls of an object's methods and the time until their promise settled, by operation name.
 * Used to show what one job costs in round trips; the wrapper itself costs well under a microsecond a call.
 */
export class Profiler {
  readonly #counters = new Map<string, Counter>();

  instrument<T extends object>(target: T, label: string, methods: readonly string[]): T {
    const wanted = new Set(methods);
    const record = (operation: string, started: number) => {
      const counter = this.#counters.get(operation) ?? { calls: 0, totalMs: 0 };
      counter.calls++;
      counter.totalMs += performance.now() - started;
      this.#counters.set(operation, counter);
    };
    return new Proxy(target, {
      get: (object, property) => {
        const value = Reflect.get(object, property, object);
        if (typeof property !== 'string' || typeof value !== 'function') return value;
        if (property === 'subscribe') {
          // Count the change notifications each subscriber receives.
          return (listener: (id: string) => void, ...rest: unknown[]) =>
            value.call(
              object,
              (id: string) => {
                record(`${label}.notification received`, performance.now());
                listener(id);
              },
              ...rest,
            );
        }
        if (!wanted.has(property)) return value.bind(object);
        const operation = `${label}.${property}`;
        return (...args: unknown[]) => {
          const started = performance.now();
          const result = value.apply(object, args);
          if (result && typeof (result as Promise<unknown>).then === 'function') {
            return (result as Promise<unknown>).finally(() => record(operation, started));
          }
          record(operation, started);
          return result;
        };
      },
    });
  }

  reset(): void {
    this.#counters.clear();
  }

  report(jobs: number): ProfileReport {
    return {
      jobs,
      entries: [...this.#counters.entries()]
        .map(([operation, counter]) => ({ operation, ...counter }))
        .sort((a, b) => a.operation.localeCompare(b.operation)),
    };
  }
}
