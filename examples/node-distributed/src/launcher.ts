import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export type Role = 'api' | 'worker';

export interface ProcessSpec {
  /** Shown as the log prefix: `api-1`, `worker-2`. */
  name: string;
  role: Role;
  /** Environment on top of the cluster's. */
  env?: Record<string, string>;
}

export interface ClusterOptions {
  /** API processes: one per entry, each with its PORT (0: any free port, reported when ready). */
  apiPorts: readonly number[];
  workers: number;
  /** Environment of every process, on top of this process's own. */
  env?: Record<string, string>;
  /** Extra environment per process name. */
  envFor?: (name: string, role: Role) => Record<string, string> | undefined;
  /** Receives every output line of every process (default: printed with a `[name]` prefix). */
  output?: (name: string, line: string, stream: 'stdout' | 'stderr') => void;
  /** How long a process may take to report ready. Default 60 s. */
  readyTimeoutMs?: number;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));
const ENTRY: Record<Role, string> = {
  api: fileURLToPath(new URL('./api.ts', import.meta.url)),
  worker: fileURLToPath(new URL('./worker.ts', import.meta.url)),
};
/** Lets tsx resolve the workspace's @jobs/* packages to their sources: no build needed. */
const TSCONFIG = fileURLToPath(new URL('../tsconfig.run.json', import.meta.url));
const COLORS = [36, 33, 35, 32, 34, 91, 96, 93];

/** One child process of the cluster. */
export class ClusterProcess {
  readonly name: string;
  readonly role: Role;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves with the exit code or signal; never rejects. */
  readonly exited: Promise<Exit>;
  /** Resolves when the process reports ready; rejects if it exits or times out first. */
  readonly ready: Promise<void>;
  /** The HTTP port of an API process, once ready. */
  port: number | null = null;
  exit: Exit | null = null;
  /** The last output lines, for error messages. */
  readonly tail: string[] = [];

  constructor(spec: ProcessSpec, options: ClusterOptions, color: number) {
    this.name = spec.name;
    this.role = spec.role;
    this.child = spawn(process.execPath, ['--import', 'tsx', ENTRY[spec.role]], {
      cwd: PACKAGE_DIR,
      env: {
        ...process.env,
        TSX_TSCONFIG_PATH: TSCONFIG,
        PROCESS_NAME: spec.name,
        ...options.env,
        ...spec.env,
        ...options.envFor?.(spec.name, spec.role),
      },
      // An IPC channel: the process reports ready through it, and stops if the launcher disappears.
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    if (this.child.pid === undefined) throw new Error(`Could not start ${spec.name}.`);
    this.pid = this.child.pid;
    const prefix = process.stdout.isTTY ? `\x1b[${color}m[${spec.name}]\x1b[0m` : `[${spec.name}]`;
    const output =
      options.output ??
      ((_name: string, line: string, stream: 'stdout' | 'stderr') =>
        (stream === 'stdout' ? process.stdout : process.stderr).write(`${prefix} ${line}\n`));
    for (const stream of ['stdout', 'stderr'] as const) {
      createInterface({ input: this.child[stream]!, crlfDelay: Number.POSITIVE_INFINITY }).on(
        'line',
        (line) => {
          this.tail.push(line);
          if (this.tail.length > 50) this.tail.shift();
          output(spec.name, line, stream);
        },
      );
    }
    this.exited = new Promise<Exit>((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
    const readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
    this.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `${spec.name} did not become ready within ${readyTimeoutMs} ms.\n${this.tail.join('\n')}`,
            ),
          ),
        readyTimeoutMs,
      );
      this.child.on('message', (message: { type?: unknown; port?: unknown }) => {
        if (message?.type !== 'ready') return;
        if (typeof message.port === 'number') this.port = message.port;
        clearTimeout(timer);
        resolve();
      });
      void this.exited.then((exit) => {
        clearTimeout(timer);
        reject(
          new Error(
            `${spec.name} exited before it was ready (${describeExit(exit)}).\n${this.tail.join('\n')}`,
          ),
        );
      });
    });
    this.ready.catch(() => {}); // observed by whoever awaits it; never an unhandled rejection
  }

  get running(): boolean {
    return this.exit === null;
  }

  /** Sends a signal if the process still runs. */
  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** SIGTERM, then SIGKILL if it has not exited within `timeoutMs`. */
  async stop(timeoutMs: number): Promise<Exit> {
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

export class Cluster {
  readonly processes: ClusterProcess[] = [];
  readonly #options: ClusterOptions;

  constructor(options: ClusterOptions) {
    this.#options = options;
  }

  get apis(): ClusterProcess[] {
    return this.processes.filter((p) => p.role === 'api');
  }

  get workers(): ClusterProcess[] {
    return this.processes.filter((p) => p.role === 'worker');
  }

  /** Starts one more process (does not wait for it to be ready). */
  spawn(spec: ProcessSpec): ClusterProcess {
    const child = new ClusterProcess(spec, this.#options, COLORS[this.processes.length % COLORS.length]!);
    this.processes.push(child);
    return child;
  }

  /** SIGTERM to every process at once, SIGKILL to those still running after `timeoutMs`. */
  async stop(timeoutMs = 30_000): Promise<Array<{ name: string; exit: Exit }>> {
    return Promise.all(this.processes.map(async (p) => ({ name: p.name, exit: await p.stop(timeoutMs) })));
  }

  /** SIGKILL to every process still running; resolves once all have exited. */
  async kill(): Promise<void> {
    for (const p of this.processes) p.signal('SIGKILL');
    await Promise.all(this.processes.map((p) => p.exited));
  }
}

/**
 * Starts the API and worker processes and waits until each reports ready. If one fails to start, all are
 * killed and the error says which one and why.
 */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const cluster = new Cluster(options);
  options.apiPorts.forEach((port, i) => {
    cluster.spawn({ name: `api-${i + 1}`, role: 'api', env: { PORT: String(port) } });
  });
  for (let i = 0; i < options.workers; i++) cluster.spawn({ name: `worker-${i + 1}`, role: 'worker' });
  try {
    await Promise.all(cluster.processes.map((p) => p.ready));
  } catch (error) {
    await cluster.kill();
    throw error;
  }
  return cluster;
}

export function describeExit(exit: Exit): string {
  return exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
}
