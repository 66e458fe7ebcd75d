import { fmt, table } from '../markdown.js';
import { medianUsagePer, usagePer } from '../measure/probes.js';
import { CONTENDER } from '../measure/throughput.js';
import type { WaiterClient, WaitersPlan, WaitersResult } from '../measure/waiters.js';
import { median } from '../stats.js';
import { usageCells, usageColumns } from './usage-cells.js';

const CLIENTS: Record<WaiterClient, string> = {
  idle: 'none (the same jobs queued, nobody waiting)',
  service: 'service.wait(endpoint, id, { timeoutMs }) in a loop',
  http: 'GET /jobs/noop/{id} with `Prefer: wait=N` in a loop',
};

/** Costs per second of the measured window: CPU ms per second is also ‰ of one CPU (10 ms/s = 1 %). */
export function waitersTable(results: readonly WaitersResult[], plan: WaitersPlan): string {
  return table(
    ['waiters', 'Node', 'jobs waited on>', 'long-polls returned/s>', ...usageColumns('s')],
    results.map(({ row, rounds }) => {
      const per = medianUsagePer(rounds.map((round) => usagePer(round.usage, round.usage.wallMs / 1000)));
      const returned = median(rounds.map((round) => round.returned / (round.usage.wallMs / 1000)));
      return [
        CLIENTS[row.client],
        row.row.node.version,
        fmt(row.client === 'idle' ? 0 : plan.waiters),
        fmt(returned, 1),
        ...usageCells(per, row.row.spec.requires, CONTENDER),
      ];
    }),
  );
}
