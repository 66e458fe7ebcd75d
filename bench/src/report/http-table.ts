import { fmt, ms, table } from '../markdown.js';
import { type HttpResult, httpLabel, LOAD_GENERATOR, SERVER } from '../measure/http-overhead.js';
import { medianUsagePer, usagePer } from '../measure/probes.js';
import { median } from '../stats.js';
import { usageCells, usageColumns } from './usage-cells.js';

const requestsPerSecond = (result: HttpResult) =>
  median(result.rounds.map((round) => round.load.requestsPerSecond));

export function httpTable(results: readonly HttpResult[]): string {
  return table(
    [
      'server',
      'requests/s>',
      'latency p50 (ms)>',
      'p99 (ms)>',
      ...usageColumns('request', 'server process'),
      'load generator>',
    ],
    results.map((result) => {
      const per = medianUsagePer(result.rounds.map((round) => usagePer(round.usage, round.load.requests)));
      const requires = result.row.row?.spec.requires ?? [];
      return [
        httpLabel(result.row),
        fmt(requestsPerSecond(result)),
        ms(median(result.rounds.map((round) => round.load.latencyP50Ms))),
        ms(median(result.rounds.map((round) => round.load.latencyP99Ms))),
        ...usageCells(per, requires, SERVER),
        per ? fmt(per.processes[LOAD_GENERATOR] ?? 0, 2) : 'n/a',
      ];
    }),
  );
}

/** createJobsApp's requests/s as a share of the bare Hono server's, Node by Node. */
export function httpRatioTable(results: readonly HttpResult[]): string {
  const nodes = [...new Set(results.map((result) => result.row.node.version))];
  return table(
    ['Node', 'createJobsApp (requests/s)>', 'bare Hono (requests/s)>', 'createJobsApp / bare>'],
    nodes.flatMap((node) => {
      const of = (server: 'jobs' | 'bare') =>
        results.find((result) => result.row.node.version === node && result.row.server === server);
      const jobs = of('jobs');
      const bare = of('bare');
      if (!jobs || !bare) return [];
      const ratio = requestsPerSecond(jobs) / requestsPerSecond(bare);
      return [[node, fmt(requestsPerSecond(jobs)), fmt(requestsPerSecond(bare)), `${fmt(100 * ratio, 1)} %`]];
    }),
  );
}
