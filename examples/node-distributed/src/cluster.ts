/**
 * A local cluster in one command: two API processes (ports 3001 and 3002) and three worker processes,
 * against the local PostgreSQL and RabbitMQ, each line of output prefixed with its process name.
 * Ctrl-C stops all of them gracefully (a second Ctrl-C kills them).
 *
 *   pnpm cluster                                    # from the repository root
 *   API_PORTS=4001,4002,4003 WORKERS=5 pnpm cluster # other shapes
 *
 * Every other variable (DATABASE_URL, AMQP_URL, JOBS_SCHEMA, CONCURRENCY, ...) is passed to the processes.
 * The API processes serve the dashboard at /dashboard behind DASHBOARD_TOKEN (printed; a fresh one per run unless
 * given).
 */
import { randomBytes } from 'node:crypto';
import { type Cluster, describeExit, startCluster } from './launcher.js';

function parsePorts(text: string): number[] {
  const ports = text.split(',').map((part) => Number(part.trim()));
  if (ports.length === 0 || ports.some((port) => !Number.isInteger(port) || port < 0 || port > 65_535)) {
    throw new Error(`API_PORTS must be a comma-separated list of ports, got ${JSON.stringify(text)}.`);
  }
  return ports;
}

function parseCount(text: string): number {
  const count = Number(text);
  if (!Number.isInteger(count) || count < 0 || count > 64)
    throw new Error(`WORKERS must be 0 to 64, got ${text}.`);
  return count;
}

const say = (message: string) => process.stdout.write(`[cluster] ${message}\n`);

async function main(): Promise<number> {
  const apiPorts = parsePorts(process.env.API_PORTS ?? '3001,3002');
  const workers = parseCount(process.env.WORKERS ?? '3');
  const stopTimeoutMs = Number(process.env.SHUTDOWN_TIMEOUT_MS ?? 10_000) + 15_000;

  let cluster: Cluster | null = null;
  let stopping: Promise<number> | null = null;
  let finish: (code: number) => void = () => {};
  const finished = new Promise<number>((resolve) => {
    finish = resolve;
  });
  let firstSignalAt = 0;
  const stop = (why: string): void => {
    if (stopping) {
      // A terminal's Ctrl-C reaches this process more than once at the same moment (directly, and forwarded by
      // a package manager): only a later one means "kill them now".
      if (Date.now() - firstSignalAt < 2_000) return;
      say('stopping now: killing every process');
      void cluster?.kill();
      return;
    }
    firstSignalAt = Date.now();
    say(`${why}: stopping every process (Ctrl-C again to kill them)`);
    stopping = (async () => {
      if (!cluster) return 130;
      const exits = await cluster.stop(stopTimeoutMs);
      for (const { name, exit } of exits) say(`${name} exited (${describeExit(exit)})`);
      return exits.every(({ exit }) => exit.code === 0) ? 0 : 1;
    })();
    void stopping.then(finish);
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));

  // The API processes serve the dashboard to whoever has this token (a fresh one per run unless given).
  const dashboardToken = process.env.DASHBOARD_TOKEN?.trim() || randomBytes(18).toString('base64url');
  say(`starting ${apiPorts.length} API and ${workers} worker processes`);
  cluster = await startCluster({ apiPorts, workers, env: { DASHBOARD_TOKEN: dashboardToken } });
  for (const api of cluster.apis) say(`${api.name}: http://127.0.0.1:${api.port}/jobs (pid ${api.pid})`);
  for (const worker of cluster.workers) say(`${worker.name}: pid ${worker.pid}`);
  const first = cluster.apis[0];
  if (first) {
    say(`dashboard: http://127.0.0.1:${first.port}/dashboard (any user name, password ${dashboardToken})`);
    say(
      `ready; try: curl -i -X POST -H 'Content-Type: application/json' -d '{"ms":2000}' http://127.0.0.1:${first.port}/jobs/sleep`,
    );
  }
  for (const p of cluster.processes) {
    void p.exited.then((exit) => {
      if (!stopping) say(`${p.name} exited unexpectedly (${describeExit(exit)}); the others keep running`);
      if (!stopping && cluster?.processes.every((q) => !q.running)) stop('every process exited');
    });
  }
  return finished;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    say(`failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
