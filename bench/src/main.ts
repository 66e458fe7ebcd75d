import os from 'node:os';
import { type BenchConfig, HELP, parseCli } from './cli.js';
import { DbActivity } from './db-activity.js';
import { waitIdle } from './idle.js';
import type { MeasureContext } from './measure/throughput.js';
import { MEASURE, selectedSpecs, writeScalingPlot } from './measurements.js';
import { nodeRuntime } from './node-runtimes.js';
import { checkServers } from './servers.js';
import type { Server } from './types.js';

async function main(): Promise<void> {
  const config = parseCli(process.argv.slice(2));
  if (!config) {
    console.log(HELP);
    return;
  }
  const log = (line: string) => console.error(`[bench] ${line}`);
  const needed = new Set<Server>(selectedSpecs(config).flatMap((spec) => spec.requires));
  const versions = await checkServers(config.servers, needed);
  const idle: string[] = [];
  const db = needed.has('postgres') ? await DbActivity.open(config.servers.databaseUrl) : null;
  const context: MeasureContext = {
    servers: config.servers,
    db,
    repeats: config.repeats,
    retries: config.retries,
    log,
    ...(config.waitIdlePercent === null
      ? {}
      : {
          async beforeRound(label: string) {
            const percent = await waitIdle(config.waitIdlePercent!, 10 * 60_000);
            idle.push(`${label} ${percent.toFixed(0)}`);
            log(`${label}: CPUs ${percent.toFixed(0)} % idle before start`);
          },
        }),
  };

  const loadBefore = os.loadavg();
  const startedAt = new Date();
  const sections: string[] = [];
  try {
    for (const measurement of [...config.measurements]) {
      log(`--- ${measurement}`);
      const section = await MEASURE[measurement](config, context);
      sections.push(section.markdown);
      if (measurement === 'scaling') log(`plot written to ${await writeScalingPlot(config, section)}`);
    }
  } finally {
    await db?.close();
  }
  const minutes = (Date.now() - startedAt.getTime()) / 60_000;
  console.log(
    [
      header(config, versions, startedAt, minutes, loadBefore, os.loadavg(), idle),
      ...sections.flatMap((section) => ['', section]),
    ].join('\n'),
  );
}

function header(
  config: BenchConfig,
  versions: readonly string[],
  startedAt: Date,
  minutes: number,
  loadBefore: number[],
  loadAfter: number[],
  idle: readonly string[],
): string {
  const cpus = os.cpus();
  const load = (values: number[]) => values.map((n) => n.toFixed(2)).join(' / ');
  const nodes = [...new Set([...config.ourNodes, config.peerNode])].map((id) => nodeRuntime(id).version);
  const lines = [
    `## Results (${startedAt.toISOString()}, ${minutes.toFixed(0)} min)`,
    '',
    `Machine: ${cpus.length} × ${cpus[0]?.model ?? 'unknown CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, ${os.type()} ${os.release()}; ` +
      `Node ${nodes.join(', ')}; ${versions.join('; ')}. The servers run on the same cores as the bench.`,
    `Load average (1/5/15 min) before: ${load(loadBefore)}, after: ${load(loadAfter)}.`,
    `Settings: ${config.repeats} rounds (each row started afresh in a child process of its own and measured once), the median reported; ` +
      `worker concurrency ${config.concurrency} unless a table says otherwise, PostgreSQL pool ${config.pool ?? 'concurrency + 4'}, ${config.producers} submits in flight.`,
  ];
  if (idle.length > 0) lines.push(`CPU idle % over the 5 s before each round: ${idle.join(', ')}.`);
  return lines.join('\n');
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
