import { cost, fmt } from '../markdown.js';
import type { UsagePer } from '../measure/probes.js';
import type { Server } from '../types.js';

/**
 * The cost columns every table shares: CPU ms of the contender's process, of PostgreSQL and of the broker
 * (RabbitMQ or Redis) per unit, database transactions and rows read per unit, and the other load.
 * `unit` names what the costs are divided by ("job", "request", "s"), `process` the child process measured.
 */
export function usageColumns(unit: string, process = 'contender process'): string[] {
  return [
    `CPU ms/${unit}: ${process}>`,
    'PostgreSQL>',
    'RabbitMQ / Redis>',
    `transactions/${unit}>`,
    `rows read/${unit}>`,
    'other load (% of a CPU)>',
  ];
}

export function usageCells(per: UsagePer | null, requires: readonly Server[], process: string): string[] {
  if (!per) return ['n/a', 'n/a', 'n/a', 'n/a', 'n/a', 'n/a'];
  const uses = (server: Server) => requires.includes(server);
  const broker = uses('rabbitmq') ? per.rabbitmq : uses('redis') ? per.redis : null;
  return [
    cost(per.processes[process]),
    uses('postgres') ? cost(per.postgres) : '–',
    cost(broker),
    uses('postgres') ? cost(per.transactions, 1) : '–',
    uses('postgres') ? cost(per.rowsRead, 1) : '–',
    fmt(per.othersPercent),
  ];
}
