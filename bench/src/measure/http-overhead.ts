import type { BareServerApi } from '../child/bare-server-child.js';
import type { LoadApi, LoadResult } from '../child/load-child.js';
import type { DbActivity } from '../db-activity.js';
import { type NodeRuntime, nodeRuntime } from '../node-runtimes.js';
import { withChild } from '../rpc.js';
import type { HttpTarget } from '../types.js';
import { measured, type Usage } from './probes.js';
import { type RowRounds, runRounds } from './rounds.js';
import { type Row, withContender } from './rows.js';
import type { MeasureContext } from './throughput.js';

/**
 * Requests per second of `POST /jobs/noop`: through createJobsApp (an API process: PostgreSQL + RabbitMQ,
 * workers not started, so every request is a stored and published job), against a bare Hono handler that
 * answers 202 at once, both served by @hono/node-server in a child process of their own, under the same Node.
 * The load comes from autocannon in a third process.
 */
export interface HttpPlan {
  seconds: number;
  connections: number;
}

export interface HttpRow {
  server: 'jobs' | 'bare';
  node: NodeRuntime;
  /** The jobs-http contender, for `jobs`. */
  row: Row | null;
}

export interface HttpRound {
  load: LoadResult;
  usage: Usage;
}

export type HttpResult = RowRounds<HttpRow, HttpRound>;

export const SERVER = 'server';
export const LOAD_GENERATOR = 'load generator';

const BARE_SERVER_CHILD = new URL('../child/bare-server-child.ts', import.meta.url);
const LOAD_CHILD = new URL('../child/load-child.ts', import.meta.url);

export function httpLabel(row: HttpRow): string {
  return `${row.server === 'jobs' ? 'createJobsApp' : 'bare Hono'} on Node ${row.node.version}`;
}

export function measureHttp(
  rows: readonly HttpRow[],
  plan: HttpPlan,
  context: MeasureContext,
): Promise<HttpResult[]> {
  return runRounds(
    rows,
    {
      label: httpLabel,
      round: (row) => httpRound(row, plan, context),
      describe: (round) => `${round.load.requestsPerSecond.toFixed(0)} requests/s`,
    },
    context,
  );
}

function httpRound(httpRow: HttpRow, plan: HttpPlan, context: MeasureContext): Promise<HttpRound> {
  if (httpRow.row) {
    return withContender(httpRow.row, context.servers, async (child) =>
      loadAgainst(await child.call('httpTarget'), child.pid, plan, context.db),
    );
  }
  return withChild<BareServerApi, HttpRound>(BARE_SERVER_CHILD, httpRow.node, 'bare Hono', async (server) => {
    const round = await loadAgainst(await server.call('httpTarget'), server.pid, plan, null);
    await server.call('close');
    return round;
  });
}

function loadAgainst(
  target: HttpTarget,
  serverPid: number,
  plan: HttpPlan,
  db: DbActivity | null,
): Promise<HttpRound> {
  return withChild<LoadApi, HttpRound>(LOAD_CHILD, nodeRuntime('system'), 'autocannon', async (load) => {
    const run = await measured({ processes: { [SERVER]: serverPid, [LOAD_GENERATOR]: load.pid }, db }, () =>
      load.call('load', { target, connections: plan.connections, seconds: plan.seconds }),
    );
    if (run.value.non2xx > 0 || run.value.errors > 0)
      throw new Error(`${target.url}: ${run.value.non2xx} answers not 2xx, ${run.value.errors} errors`);
    return { load: run.value, usage: run.usage };
  });
}
