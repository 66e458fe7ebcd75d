import { summarize, type ThroughputResult } from '../measure/throughput.js';
import { lineChartSvg, type Series } from './svg-chart.js';

/** Throughput and PostgreSQL CPU per job against worker concurrency, one line per contender and Node. */
export function scalingChartSvg(results: readonly ThroughputResult[]): string {
  const lines = new Map<string, { throughput: Array<[number, number]>; postgres: Array<[number, number]> }>();
  for (const result of results) {
    const name = `${result.row.spec.name}, Node ${result.row.node.version}`;
    const line = lines.get(name) ?? { throughput: [], postgres: [] };
    const summary = summarize(result);
    line.throughput.push([result.row.concurrency, summary.completedPerSecond]);
    if (summary.perJob) line.postgres.push([result.row.concurrency, summary.perJob.postgres]);
    lines.set(name, line);
  }
  const series = (pick: 'throughput' | 'postgres'): Series[] =>
    [...lines].map(([name, line]) => ({ name, points: line[pick] }));
  return lineChartSvg('How cost grows with worker concurrency (no-op jobs)', [
    {
      title: 'Throughput',
      xLabel: 'worker concurrency',
      yLabel: 'jobs/s end to end',
      logX: true,
      series: series('throughput'),
    },
    {
      title: 'PostgreSQL CPU per job',
      xLabel: 'worker concurrency',
      yLabel: 'ms per job',
      logX: true,
      series: series('postgres'),
    },
  ]);
}
