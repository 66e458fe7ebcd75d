import { randomBytes } from 'node:crypto';
import type { ContenderApi, StartRequest } from '../child/contender-child.js';
import type { ContenderSpec } from '../contenders/index.js';
import type { NodeRuntime } from '../node-runtimes.js';
import { type RpcChild, withChild } from '../rpc.js';
import type { Servers } from '../types.js';

/** One row of a table: a contender, the Node it runs under, and its settings. */
export interface Row {
  spec: ContenderSpec;
  node: NodeRuntime;
  concurrency: number;
  poolSize: number;
  /** Finished jobs in the store before the run (`--retained`). */
  retainedJobs: number;
}

export const CONTENDER_CHILD = new URL('../child/contender-child.ts', import.meta.url);

export function rowLabel(row: Row): string {
  return `${row.spec.name} on Node ${row.node.version}, concurrency ${row.concurrency}${row.retainedJobs > 0 ? `, ${row.retainedJobs} retained` : ''}`;
}

/** Runs `use` with the row's contender started (workers not yet running) in a child process of its own. */
export function withContender<T>(
  row: Row,
  servers: Servers,
  use: (child: RpcChild<ContenderApi>) => Promise<T>,
): Promise<T> {
  return withChild<ContenderApi, T>(CONTENDER_CHILD, row.node, row.spec.id, async (child) => {
    const request: StartRequest = {
      implementation: row.spec.implementation,
      variant: row.spec.variant,
      settings: {
        servers,
        concurrency: row.concurrency,
        poolSize: row.poolSize,
        runId: `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`,
        retainedJobs: row.retainedJobs,
      },
    };
    await child.call('start', request);
    let result: T;
    try {
      result = await use(child);
    } catch (error) {
      await child.call('close').catch(() => {}); // the first error is the one to report
      throw error;
    }
    await child.call('close');
    return result;
  });
}
