import { fmt, ms, table } from '../markdown.js';
import {
  CONTENDER,
  summarize,
  type ThroughputResult,
  type ThroughputSummary,
} from '../measure/throughput.js';
import type { ProfileReport } from '../profiler.js';
import { usageCells, usageColumns } from './usage-cells.js';

/** The tables of the throughput-based measurements: the comparison, concurrency, retained jobs, backlog. */
const rowCells = (result: ThroughputResult) => [result.row.spec.name, result.row.node.version];

/** contender | Node | the table's own columns | the cost per job columns. */
function costPerJobTable(
  results: readonly ThroughputResult[],
  columns: readonly string[],
  cells: (result: ThroughputResult, summary: ThroughputSummary) => string[],
): string {
  return table(
    ['contender', 'Node', ...columns, ...usageColumns('job')],
    results.map((result) => {
      const summary = summarize(result);
      return [
        ...rowCells(result),
        ...cells(result, summary),
        ...usageCells(summary.perJob, result.row.spec.requires, CONTENDER),
      ];
    }),
  );
}

/** Jobs of a run, submitted/s, completed/s, and how long they took to complete. */
const rateCells = (_: ThroughputResult, summary: ThroughputSummary) => [
  fmt(summary.jobs),
  fmt(summary.enqueuePerSecond),
  fmt(summary.completedPerSecond),
  fmt(summary.totalMs / 1000, 2),
];

export function throughputTable(results: readonly ThroughputResult[]): string {
  return costPerJobTable(
    results,
    ['jobs>', 'enqueue (jobs/s)>', 'end-to-end (jobs/s)>', 'done in (s)>'],
    rateCells,
  );
}

export function latencyTable(results: readonly ThroughputResult[]): string {
  const rows = results.flatMap((result) => {
    const latency = summarize(result).latency;
    if (!latency) return [];
    const { start, complete } = latency;
    return [
      [
        ...rowCells(result),
        fmt(latency.jobs),
        ...[start.p50, start.p95, start.p99, complete.p50, complete.p95, complete.p99].map(ms),
      ],
    ];
  });
  return table(
    [
      'contender',
      'Node',
      'jobs>',
      'start p50>',
      'start p95>',
      'start p99>',
      'complete p50>',
      'complete p95>',
      'complete p99>',
    ],
    rows,
  );
}

export function roundsTable(results: readonly ThroughputResult[]): string {
  return table(
    ['contender', 'Node', 'end-to-end jobs/s, each round', 'complete p50 (ms), each round'],
    results.map((result) => [
      ...rowCells(result),
      result.rounds.map((round) => fmt((round.jobs * 1000) / round.totalMs)).join(', '),
      result.rounds.flatMap((round) => (round.latency ? [ms(round.latency.complete.p50)] : [])).join(', '),
    ]),
  );
}

export function setupList(results: readonly ThroughputResult[]): string {
  const specs = [...new Set(results.map((result) => result.row.spec))];
  return specs
    .map((spec) => `- **${spec.name}**: ${spec.setup}. Completion seen by the submitter: ${spec.completion}.`)
    .join('\n');
}

/** Per job calls of the repository / queue methods, all measured runs of a row together. */
export function profileTables(results: readonly ThroughputResult[]): string[] {
  return results.flatMap((result) => {
    const profiles = result.rounds.flatMap((round) => (round.profile ? [round.profile] : []));
    if (profiles.length === 0) return [];
    const merged = mergeProfiles(profiles);
    return [
      `Per job, ${result.row.spec.name} on Node ${result.row.node.version} (${fmt(merged.jobs)} jobs, measured runs):\n\n` +
        table(
          ['operation', 'calls per job>', 'mean ms per call>'],
          merged.entries.map((entry) => [
            entry.operation,
            fmt(entry.calls / merged.jobs, 2),
            entry.totalMs === null ? '' : fmt(entry.totalMs / entry.calls, 2),
          ]),
        ),
    ];
  });
}

function mergeProfiles(profiles: readonly ProfileReport[]): ProfileReport {
  const entries = new Map<string, { calls: number; totalMs: number | null }>();
  for (const entry of profiles.flatMap((profile) => profile.entries)) {
    const sum = entries.get(entry.operation) ?? { calls: 0, totalMs: entry.totalMs === null ? null : 0 };
    sum.calls += entry.calls;
    if (entry.totalMs !== null) sum.totalMs = (sum.totalMs ?? 0) + entry.totalMs;
    entries.set(entry.operation, sum);
  }
  return {
    jobs: profiles.reduce((sum, profile) => sum + profile.jobs, 0),
    entries: [...entries]
      .map(([operation, sum]) => ({ operation, ...sum }))
      .sort((a, b) => a.operation.localeCompare(b.operation)),
  };
}

export function scalingTable(results: readonly ThroughputResult[]): string {
  return costPerJobTable(results, ['concurrency>', 'end-to-end (jobs/s)>'], (result, summary) => [
    fmt(result.row.concurrency),
    fmt(summary.completedPerSecond),
  ]);
}

export function retainedTable(results: readonly ThroughputResult[]): string {
  const key = (result: ThroughputResult) => `${result.row.spec.id} ${result.row.node.id}`;
  const baseline = new Map<string, number>();
  for (const result of results) {
    const postgres = summarize(result).perJob?.postgres;
    if (result.row.retainedJobs === 0 && postgres !== undefined) baseline.set(key(result), postgres);
  }
  return costPerJobTable(
    results,
    ['finished jobs retained>', 'end-to-end (jobs/s)>', 'PostgreSQL CPU per job vs none retained>'],
    (result, summary) => {
      const base = baseline.get(key(result));
      return [
        fmt(result.row.retainedJobs),
        fmt(summary.completedPerSecond),
        base && summary.perJob ? `× ${fmt(summary.perJob.postgres / base, 2)}` : '–',
      ];
    },
  );
}

export function backlogTable(results: readonly ThroughputResult[]): string {
  return costPerJobTable(
    results,
    ['backlog (jobs)>', 'queued, workers stopped (jobs/s)>', 'drained (jobs/s)>', 'drain time (s)>'],
    rateCells,
  );
}
