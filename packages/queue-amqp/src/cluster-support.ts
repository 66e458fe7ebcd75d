/**
 * A RabbitMQ cluster of this machine's `rabbitmq-server`, for `cluster.faults.test.ts` (not exported): three
 * nodes with their own names, ports and directories, started detached, clustered with `rabbitmqctl`, killed
 * with SIGKILL and restarted by the test, and removed afterwards. It never touches the shared broker on 5672
 * nor any node it did not start: every process it signals is checked to carry one of its node names.
 *
 * What it needs: `rabbitmq-server` and `rabbitmqctl` on the PATH (not `JOBS_RABBITMQCTL`: the nodes run here),
 * run as root (Debian's scripts then switch to the `rabbitmq` user, which gets the directories) or as the user
 * the broker runs as. All nodes and `rabbitmqctl` share that user's Erlang cookie (Debian:
 * /var/lib/rabbitmq/.erlang.cookie; the scripts set HOME to that directory for root too). The first node starts
 * `epmd` if none runs. Every failure throws, with the tail of the node's log.
 *
 * Over 400 lines on purpose: node lifecycle, clustering and cleanup share the per-node state and are only ever
 * read together, by whoever debugs the cluster test.
 */
import { execFile } from 'node:child_process';
import { chown, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { delay } from '@jobs/testing';

const run = promisify(execFile);

/** Directories of this module's clusters start with it; one left by a test process that died is removed. */
const DIRECTORY_PREFIX = 'jobs-rabbitmq-cluster-';

export interface ClusterNode {
  /** `jobs-<run>-n1@localhost` */
  readonly name: string;
  /** `n1` */
  readonly short: string;
  readonly port: number;
  readonly distPort: number;
  /** `amqp://guest:guest@127.0.0.1:<port>` */
  readonly url: string;
  readonly directory: string;
}

export interface ClusterOptions {
  /** Nodes; default 3. */
  size?: number;
  /** First AMQP port tried; the next free ones are taken. Default 5691. */
  firstPort?: number;
  /** First Erlang distribution port tried. Default 25691. */
  firstDistPort?: number;
  /** Progress lines (starting, joining, killing, ...). */
  log?: (line: string) => void;
}

export class LocalRabbitCluster {
  readonly nodes: readonly ClusterNode[];
  readonly #base: string;
  readonly #log: (line: string) => void;
  readonly #owner: { uid: number; gid: number } | null;
  #destroyed = false;

  private constructor(
    base: string,
    nodes: ClusterNode[],
    owner: { uid: number; gid: number } | null,
    log: (line: string) => void,
  ) {
    this.#base = base;
    this.nodes = nodes;
    this.#owner = owner;
    this.#log = log;
  }

  /** The nodes' AMQP URLs, in node order. */
  get urls(): string[] {
    return this.nodes.map((node) => node.url);
  }

  /**
   * Starts the nodes and clusters them (every node joins the first). On any failure the nodes started so far
   * are killed and the directory removed, and the error says why.
   */
  static async start(options: ClusterOptions = {}): Promise<LocalRabbitCluster> {
    const size = options.size ?? 3;
    const log = options.log ?? (() => {});
    await removeAbandonedClusters(log);
    const owner = await brokerUser();
    if (owner) await checkReachable(tmpdir(), owner);
    const base = await mkdtemp(join(tmpdir(), DIRECTORY_PREFIX));
    // Who owns it: a later run removes the directory (and kills its nodes) once this process is gone.
    await writeFile(join(base, 'owner.pid'), String(process.pid));
    const runId = Math.random().toString(16).slice(2, 8);
    const ports = await freePorts(options.firstPort ?? 5691, size);
    const distPorts = await freePorts(options.firstDistPort ?? 25691, size, ports);
    const nodes = ports.map((port, index) => ({
      name: `jobs-${runId}-n${index + 1}@localhost`,
      short: `n${index + 1}`,
      port,
      distPort: distPorts[index]!,
      url: `amqp://guest:guest@127.0.0.1:${port}`,
      directory: join(base, `n${index + 1}`),
    }));
    const cluster = new LocalRabbitCluster(base, nodes, owner, log);
    try {
      if (owner) await chown(base, owner.uid, owner.gid);
      for (const node of nodes) await cluster.#prepare(node);
      // The first node alone: it may have to create the Erlang cookie and start epmd, which the others share.
      await cluster.#launch(nodes[0]!);
      await Promise.all(nodes.slice(1).map((node) => cluster.#launch(node)));
      for (const node of nodes.slice(1)) {
        log(`${node.short} joins ${nodes[0]!.short}`);
        await cluster.ctl(node, 'stop_app');
        await cluster.ctl(node, 'join_cluster', nodes[0]!.name);
        await cluster.ctl(node, 'start_app');
      }
      await cluster.awaitRunning(nodes);
      return cluster;
    } catch (error) {
      await cluster.destroy().catch(() => {});
      throw error;
    }
  }

  /** Runs `rabbitmqctl -n <node> ...`; throws with its output when it fails. */
  async ctl(node: ClusterNode, ...args: string[]): Promise<string> {
    return command('rabbitmqctl', ['-n', node.name, ...args]);
  }

  /** The cluster's running nodes, as `node` (a running node) sees them. */
  async runningNodes(node: ClusterNode): Promise<string[]> {
    const status = JSON.parse(await this.ctl(node, 'cluster_status', '--formatter', 'json')) as {
      running_nodes?: string[];
    };
    return status.running_nodes ?? [];
  }

  /** Waits until every node of `expected` runs the broker and sees the others running. */
  async awaitRunning(expected: readonly ClusterNode[], timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      try {
        const views = await Promise.all(expected.map((node) => this.runningNodes(node)));
        if (views.every((running) => expected.every((node) => running.includes(node.name)))) return;
        last = JSON.stringify(views);
      } catch (error) {
        last = String(error);
      }
      if (Date.now() > deadline) throw new Error(`The cluster did not form: ${last}`);
      await delay(500);
    }
  }

  /** A queue's members, online members and leader, as `via` (a running node) sees them. */
  async queueReplicas(
    via: ClusterNode,
    queue: string,
  ): Promise<{ leader: string; members: string[]; online: string[] }> {
    const rows = JSON.parse(
      await this.ctl(
        via,
        'list_queues',
        '-q',
        '--timeout',
        '20',
        'name',
        'leader',
        'members',
        'online',
        '--formatter',
        'json',
      ),
    ) as Array<{ name: string; leader: string; members: string[]; online: string[] }>;
    const row = rows.find((candidate) => candidate.name === queue);
    if (!row)
      throw new Error(`Queue ${queue} is not declared (queues: ${rows.map((r) => r.name).join(', ')}).`);
    return { leader: row.leader, members: row.members, online: row.online };
  }

  /**
   * Waits until every member of each quorum queue is a live Raft follower or leader (a restarted node's
   * replicas have recovered and rejoined), so the queue keeps its majority when another node is lost.
   */
  async awaitReplicas(via: ClusterNode, queues: readonly string[], timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const queue of queues) {
      let last = '';
      for (;;) {
        try {
          const members = JSON.parse(
            await command('rabbitmq-queues', ['-n', via.name, 'quorum_status', queue, '--formatter', 'json']),
          ) as Array<Record<string, unknown>>;
          const states = members.map((member) => `${member['Node Name']}=${member['Raft State']}`);
          last = states.join(', ');
          if (
            members.length === this.nodes.length &&
            members.every(
              (member) => member['Raft State'] === 'leader' || member['Raft State'] === 'follower',
            )
          ) {
            break;
          }
        } catch (error) {
          last = String(error);
        }
        if (Date.now() > deadline) throw new Error(`The replicas of ${queue} did not recover: ${last}`);
        await delay(250);
      }
    }
  }

  /** The node's Erlang VM (beam) process id, checked to be this node's. */
  async pid(node: ClusterNode): Promise<number> {
    const text = await readFile(join(node.directory, 'pid'), 'utf8').catch(() => '');
    const pid = Number.parseInt(text.trim(), 10);
    if (!Number.isInteger(pid) || !(await isNodeProcess(pid, node.name)))
      throw new Error(`${node.name} is not running (pid file: ${JSON.stringify(text.trim())}).`);
    return pid;
  }

  /** `kill -9` of the node's VM: no shutdown, connections dropped, like a crashed machine. Returns the pid. */
  async kill(node: ClusterNode): Promise<number> {
    const pid = await this.pid(node);
    this.#log(`kill -9 ${node.short} (pid ${pid})`);
    process.kill(pid, 'SIGKILL');
    await waitUntil(async () => !(await isAlive(pid)), 30_000, `${node.name} (pid ${pid}) to exit`);
    return pid;
  }

  /** Starts a killed node again on its data; it rejoins the cluster by itself. Waits until the broker runs. */
  async restart(node: ClusterNode): Promise<void> {
    await rm(join(node.directory, 'pid'), { force: true });
    await this.#launch(node);
  }

  /** Kills every node still running (SIGKILL: its data is deleted anyway) and removes the directory. Idempotent. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    await killNodes(this.nodes.map((node) => node.name));
    await rm(this.#base, { recursive: true, force: true });
    this.#log(`cluster removed (${this.#base})`);
  }

  async #prepare(node: ClusterNode): Promise<void> {
    await mkdir(join(node.directory, 'mnesia'), { recursive: true });
    await mkdir(join(node.directory, 'log'), { recursive: true });
    // Its own listener (the system's rabbitmq.conf pins 5672) and nothing else from /etc/rabbitmq.
    await writeFile(
      join(node.directory, 'rabbitmq.conf'),
      [`listeners.tcp.1 = 127.0.0.1:${node.port}`, 'log.file.level = info', ''].join('\n'),
    );
    await writeFile(join(node.directory, 'advanced.config'), '[].\n');
    await writeFile(join(node.directory, 'enabled_plugins'), '[].\n');
    if (this.#owner) await chownTree(node.directory, this.#owner);
  }

  /** `rabbitmq-server -detached` with the node's environment, then waits for the broker application. */
  async #launch(node: ClusterNode): Promise<void> {
    this.#log(`starting ${node.short}: ${node.name}, amqp ${node.port}, dist ${node.distPort}`);
    const file = (name: string) => join(node.directory, name);
    const env = {
      ...process.env,
      RABBITMQ_NODENAME: node.name,
      RABBITMQ_DIST_PORT: String(node.distPort),
      // Inter-node traffic on the loopback interface only (the AMQP listener is in rabbitmq.conf).
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
      RABBITMQ_CONFIG_FILE: file('rabbitmq.conf'),
      RABBITMQ_ADVANCED_CONFIG_FILE: file('advanced.config'),
      RABBITMQ_ENABLED_PLUGINS_FILE: file('enabled_plugins'),
      RABBITMQ_MNESIA_BASE: file('mnesia'),
      RABBITMQ_LOG_BASE: file('log'),
      RABBITMQ_PID_FILE: file('pid'),
    };
    try {
      await command('rabbitmq-server', ['-detached'], { env, cwd: tmpdir() });
      await command('rabbitmqctl', ['-n', node.name, 'wait', file('pid'), '--timeout', '90']);
    } catch (error) {
      const log = await readFile(join(node.directory, 'log', `${node.name}.log`), 'utf8').catch(
        (readError: unknown) => `(no log: ${readError})`,
      );
      throw new Error(
        `RabbitMQ node ${node.name} did not start (amqp port ${node.port}, dist port ${node.distPort}, ` +
          `directory ${node.directory}): ${error instanceof Error ? error.message : error}\n` +
          `--- last lines of its log:\n${log.split('\n').slice(-40).join('\n')}`,
      );
    }
  }
}

/** Runs a command; on failure throws with its exit status and output. */
async function command(
  file: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<string> {
  try {
    const { stdout } = await run(file, args, { timeout: 100_000, maxBuffer: 16 * 1024 * 1024, ...options });
    return stdout;
  } catch (error) {
    const failed = error as { code?: unknown; stdout?: string; stderr?: string; message?: string };
    const output = `${failed.stdout ?? ''}${failed.stderr ?? ''}`.trim();
    throw new Error(
      `${file} ${args.join(' ')} failed (${failed.code ?? failed.message}): ${output || failed.message}`,
    );
  }
}

/** The broker's user when this process runs as root (Debian's scripts switch to it), else null. */
async function brokerUser(): Promise<{ uid: number; gid: number } | null> {
  if (process.getuid?.() !== 0) return null;
  try {
    const uid = Number((await command('id', ['-u', 'rabbitmq'])).trim());
    const gid = Number((await command('id', ['-g', 'rabbitmq'])).trim());
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : null;
  } catch {
    return null; // no such user: the broker runs as root
  }
}

/** The broker's user must get through every directory down to `path` (a TMPDIR under /root would not do). */
async function checkReachable(path: string, owner: { uid: number; gid: number }): Promise<void> {
  for (let directory = resolve(path); ; directory = dirname(directory)) {
    const info = await stat(directory);
    const reachable =
      info.uid === owner.uid
        ? (info.mode & 0o100) !== 0
        : info.gid === owner.gid
          ? (info.mode & 0o010) !== 0
          : (info.mode & 0o001) !== 0;
    if (!reachable) {
      throw new Error(
        `The broker's user (uid ${owner.uid}) cannot enter ${directory} (mode ${(info.mode & 0o777).toString(8)}), ` +
          `so the test's RabbitMQ nodes could not use ${path}: set TMPDIR to a directory it can reach, e.g. /tmp.`,
      );
    }
    if (directory === dirname(directory)) return;
  }
}

async function chownTree(path: string, owner: { uid: number; gid: number }): Promise<void> {
  await chown(path, owner.uid, owner.gid);
  for (const entry of await readdir(path, { withFileTypes: true })) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) await chownTree(child, owner);
    else await chown(child, owner.uid, owner.gid);
  }
}

/** `count` ports from `first` on that nothing listens on (on 127.0.0.1), skipping `taken`. */
async function freePorts(first: number, count: number, taken: readonly number[] = []): Promise<number[]> {
  const ports: number[] = [];
  for (let port = first; ports.length < count && port < first + 200; port++) {
    if (!taken.includes(port) && (await canListen(port))) ports.push(port);
  }
  if (ports.length < count) throw new Error(`No ${count} free ports from ${first} on.`);
  return ports;
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function isAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A killed process that nobody reaped yet (a container's init may not) is gone for our purposes.
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  return stat === null ? true : !/^\d+ \(.*\) Z /.test(stat);
}

/** Whether `pid` is alive and belongs to the node `name` (started with RABBITMQ_NODENAME=name). */
async function isNodeProcess(pid: number, name: string): Promise<boolean> {
  if (!(await isAlive(pid))) return false;
  const environ = await readFile(`/proc/${pid}/environ`, 'latin1').catch(() => null);
  return environ?.split('\0').includes(`RABBITMQ_NODENAME=${name}`) ?? false;
}

/**
 * Kills (SIGKILL) every process of these nodes: the VM and its helpers, found by RABBITMQ_NODENAME in their
 * environment; never `epmd`, which the first node may have started for the whole machine.
 */
async function killNodes(names: readonly string[]): Promise<void> {
  const wanted = new Set(names.map((name) => `RABBITMQ_NODENAME=${name}`));
  const pids: number[] = [];
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const environ = await readFile(`/proc/${pid}/environ`, 'latin1').catch(() => null);
    if (!environ?.split('\0').some((variable) => wanted.has(variable))) continue;
    const comm = (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim();
    if (comm === 'epmd') continue;
    try {
      process.kill(pid, 'SIGKILL');
      pids.push(pid);
    } catch {
      // already gone
    }
  }
  for (const pid of pids) {
    await waitUntil(async () => !(await isAlive(pid)), 30_000, `pid ${pid} to exit`).catch(() => {});
  }
}

/** Clusters of test processes that died without cleaning up: their nodes killed, their directories removed. */
async function removeAbandonedClusters(log: (line: string) => void): Promise<void> {
  const entries = await readdir(tmpdir()).catch(() => [] as string[]);
  for (const entry of entries) {
    if (!entry.startsWith(DIRECTORY_PREFIX)) continue;
    const base = join(tmpdir(), entry);
    const owner = Number.parseInt(await readFile(join(base, 'owner.pid'), 'utf8').catch(() => ''), 10);
    if (Number.isInteger(owner) && (await isAlive(owner))) continue; // another run, still going
    const names: string[] = [];
    for (const node of await readdir(base).catch(() => [] as string[])) {
      const logs = await readdir(join(base, node, 'log')).catch(() => [] as string[]);
      for (const file of logs) {
        const match = /^(jobs-[0-9a-f]+-n\d+@localhost)\.log$/.exec(file);
        if (match) names.push(match[1]!);
      }
    }
    log(`removing an abandoned cluster directory ${base} (nodes: ${names.join(', ') || 'none'})`);
    await killNodes(names);
    await rm(base, { recursive: true, force: true });
  }
}

async function waitUntil(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}.`);
    await delay(50);
  }
}
