import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { NodeRuntime } from './node-runtimes.js';
import { BENCH_ROOT } from './paths.js';

/**
 * Request / response over the IPC channel of a child process started with `child_process.fork`: the child
 * serves an object of async methods (each takes one argument), the parent calls them by name. The parent
 * process only orchestrates and measures; all the work under test happens in children.
 */
/** Method argument and result types are checked at the call site (`RpcChild.call`). */
export type Api = Record<string, (argument: any) => Promise<unknown>>;

interface Request {
  id: number;
  method: string;
  argument: unknown;
}

type Response =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: { message: string; stack?: string } };

/**
 * In the child: answers the parent's calls with `api`; when the parent disconnects (it is done, or it died),
 * runs `onDisconnect` (bounded to 15 s) and exits.
 */
export function serveRpc(api: Api, onDisconnect: () => Promise<void> = async () => {}): void {
  if (!process.send)
    throw new Error('serveRpc() needs an IPC channel: start this file with child_process.fork');
  process.on('message', (message: Request) => {
    const method = api[message.method];
    // With a callback, a reply to a parent that has gone is dropped instead of raising an 'error' event.
    const reply = (response: Response) => process.connected && process.send?.(response, () => {});
    if (!method) {
      reply({ id: message.id, ok: false, error: { message: `unknown method ${message.method}` } });
      return;
    }
    method(message.argument).then(
      (value) => reply({ id: message.id, ok: true, value }),
      (error: unknown) =>
        reply({
          id: message.id,
          ok: false,
          error:
            error instanceof Error
              ? { message: error.message, ...(error.stack ? { stack: error.stack } : {}) }
              : { message: String(error) },
        }),
    );
  });
  // Ctrl-C reaches the whole process group: the child leaves it to the parent, and cleans up when the parent
  // has gone (disconnect) rather than dying in the middle of a call.
  process.on('SIGINT', () => {});
  process.on('disconnect', () => {
    const timer = setTimeout(() => process.exit(1), 15_000);
    onDisconnect().then(
      () => process.exit(0),
      (error: unknown) => {
        clearTimeout(timer);
        console.error(error);
        process.exit(1);
      },
    );
  });
}

/** In the parent: a child process running `entry` under `runtime`, with tsx as the TypeScript loader. */
export class RpcChild<A extends Api> {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  readonly #exited: Promise<void>;
  #nextId = 0;
  #exitReason: string | null = null;

  constructor(
    entry: URL,
    readonly runtime: NodeRuntime,
    readonly label: string,
  ) {
    this.#child = fork(fileURLToPath(entry), [], {
      execPath: runtime.path,
      execArgv: ['--import', 'tsx'],
      cwd: BENCH_ROOT,
      // The child's stdout goes to our stderr: stdout carries the Markdown report only.
      stdio: ['ignore', 2, 2, 'ipc'],
      serialization: 'advanced',
    });
    this.#child.on('message', (response: Response) => {
      const call = this.#pending.get(response.id);
      if (!call) return;
      this.#pending.delete(response.id);
      if (response.ok) call.resolve(response.value);
      else {
        const error = new Error(`${label}: ${response.error.message}`);
        if (response.error.stack) error.stack = `${error.message}\n(in the child) ${response.error.stack}`;
        call.reject(error);
      }
    });
    this.#exited = new Promise((resolve) => {
      this.#child.once('exit', (code, signal) => {
        this.#exitReason = `${label} exited (code ${code}, signal ${signal})`;
        for (const call of this.#pending.values()) call.reject(new Error(this.#exitReason));
        this.#pending.clear();
        resolve();
      });
    });
  }

  get pid(): number {
    const pid = this.#child.pid;
    if (pid === undefined) throw new Error(`${this.label} did not start`);
    return pid;
  }

  call<M extends keyof A & string>(
    method: M,
    ...argument: Parameters<A[M]> extends [] ? [] : [Parameters<A[M]>[0]]
  ): Promise<Awaited<ReturnType<A[M]>>> {
    if (this.#exitReason) return Promise.reject(new Error(this.#exitReason));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.#child.send({ id, method, argument: argument[0] } satisfies Request);
    });
  }

  /** Disconnects (the child exits on its own), and kills it if it has not exited after `timeoutMs`. */
  async exit(timeoutMs = 20_000): Promise<void> {
    if (this.#exitReason) return;
    if (this.#child.connected) this.#child.disconnect();
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), timeoutMs);
    await this.#exited;
    clearTimeout(timer);
  }
}

/** Runs `use` with a child process of its own, which exits afterwards (and is killed if it does not). */
export async function withChild<A extends Api, T>(
  entry: URL,
  runtime: NodeRuntime,
  label: string,
  use: (child: RpcChild<A>) => Promise<T>,
): Promise<T> {
  const child = new RpcChild<A>(entry, runtime, label);
  try {
    return await use(child);
  } finally {
    await child.exit();
  }
}
