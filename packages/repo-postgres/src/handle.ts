// What the repository's operations work with (as repo-sqlite's take its `Database`): the statements, the bounded
// queries and transactions of the repository, its payload check; and the helpers their batches share.
import type { ItemResult } from '@jobs/core';
import type pg from 'pg';
import type { Statements } from './statements.js';

export interface Handle {
  /** Every statement, built for the repository's schema. */
  readonly sql: Statements;
  /** The schema name, quoted (for the statements built per call). */
  readonly quotedSchema: string;
  /** The NOTIFY channel, a parameter of every statement that changes a job. */
  readonly channel: string;
  /** Runs the migrations (or checks the schema) once, before the first statement. */
  ensureReady(): Promise<void>;
  /** One statement on a pooled connection (or on `client`), bounded by the query timeout. */
  query<R extends pg.QueryResultRow>(
    operation: string,
    text: string,
    values: unknown[],
    client?: pg.Pool | pg.ClientBase,
  ): Promise<pg.QueryResult<R>>;
  /** A connection of its own for a transaction; `drop` marks it broken, so it is not reused. */
  withClient<T>(
    operation: string,
    body: (client: pg.PoolClient, drop: (reason: Error) => void) => Promise<T>,
  ): Promise<T>;
  /** A payload as storable JSON text, within the repository's size bound. */
  json(value: unknown, field: string): string;
  /** Like `json`; null and undefined stay null. */
  jsonOrNull(value: unknown, field: string): string | null;
}

/** Rounds of a batch: each id once per round, in order (a job twice in one batch is handled as two calls). */
export function rounds<T extends { id: string }>(items: readonly T[]): T[][] {
  const result: T[][] = [];
  const seen = new Map<string, number>();
  for (const item of items) {
    const round = seen.get(item.id) ?? 0;
    seen.set(item.id, round + 1);
    if (round === result.length) result.push([]);
    result[round]!.push(item);
  }
  return result;
}

export function groupBy<T>(items: readonly T[], key: (item: T) => unknown): T[][] {
  const groups = new Map<unknown, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return [...groups.values()];
}

export function refused(error: unknown): ItemResult<never> {
  return { ok: false, error: error instanceof Error ? error : new Error(String(error)) };
}
