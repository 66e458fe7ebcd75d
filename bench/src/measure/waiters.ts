import { delay } from '../support.js';
import { measured, type Usage } from './probes.js';
import { type RowRounds, runRounds } from './rounds.js';
import { type Row, rowLabel, withContender } from './rows.js';
import { CONTENDER, type MeasureContext } from './throughput.js';

/**
 * What clients waiting for results cost while nothing completes: `waiters` jobs are queued with the workers
 * stopped (so they stay queued), one waiter per job long-polls in a loop, and after `settleSeconds` the
 * database's activity and the CPU are measured over `windowSeconds`. The `idle` row is the same process with
 * the same jobs queued and no waiter: the runtime's own background cost.
 */
export interface WaitersPlan {
  waiters: number;
  /** Seconds each long-poll waits (service.wait timeoutMs / `Prefer: wait=N`). */
  waitSeconds: number;
  windowSeconds: number;
  settleSeconds: number;
  producers: number;
}

export type WaiterClient = 'idle' | 'service' | 'http';

export interface WaitersRow {
  client: WaiterClient;
  /** jobs-amqp for `idle` and `service`, jobs-http for `http`. */
  row: Row;
}

export interface WaitersRound {
  usage: Usage;
  /** Long-polls that returned during the measured window. */
  returned: number;
}

export type WaitersResult = RowRounds<WaitersRow, WaitersRound>;

export function measureWaiters(
  rows: readonly WaitersRow[],
  plan: WaitersPlan,
  context: MeasureContext,
): Promise<WaitersResult[]> {
  return runRounds(
    rows,
    {
      label: (row) => `waiters (${row.client}): ${rowLabel(row.row)}`,
      round: (row) => waitersRound(row, plan, context),
      describe: (round) =>
        `${((round.usage.db?.transactions ?? 0) / (round.usage.wallMs / 1000)).toFixed(0)} transactions/s`,
    },
    context,
  );
}

function waitersRound(waitersRow: WaitersRow, plan: WaitersPlan, context: MeasureContext) {
  return withContender(waitersRow.row, context.servers, async (child): Promise<WaitersRound> => {
    await child.call('submitBacklog', { jobs: plan.waiters, producers: plan.producers });
    const waiting = waitersRow.client !== 'idle';
    if (waiting) await child.call('startWaiters', { waitSeconds: plan.waitSeconds });
    await delay(plan.settleSeconds * 1000);
    const returnedBefore = await child.call('waitersReturned');
    const window = await measured({ processes: { [CONTENDER]: child.pid }, db: context.db }, () =>
      delay(plan.windowSeconds * 1000),
    );
    const returned = (await child.call('waitersReturned')) - returnedBefore;
    const report = waiting ? await child.call('stopWaiters') : { returned: 0, finished: 0 };
    if (report.finished > 0) throw new Error(`${report.finished} waited jobs finished, but no worker ran`);
    return { usage: window.usage, returned };
  });
}
