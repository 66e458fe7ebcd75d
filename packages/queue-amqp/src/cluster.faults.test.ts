/**
 * RabbitMQ as a cluster: three nodes started by this test on this machine (their own names, ports and
 * directories; see cluster-support.ts), quorum queues replicated on all three, the queue given the three
 * addresses. 2,000 jobs run through the jobs runtime while one node is killed with SIGKILL, restarted and
 * rejoined, and then another node is killed: every job must succeed with its result recorded exactly once,
 * and the connections must have moved to live nodes.
 *
 * A faults test (second, serial pass of `pnpm test`): three more brokers load the machine. It needs
 * `rabbitmq-server` and `rabbitmqctl` installed here (run as root or as the broker's user), and fails, never
 * skips, when the nodes cannot be started. The shared broker on 5672 is not touched.
 */
import { type JobQueue, newJobId } from '@jobs/core';
import { createMemoryRepository } from '@jobs/memory';
import { afterAll, describe, expect, it } from 'vitest';
import { type ClusterNode, LocalRabbitCluster } from './cluster-support.js';
import type { AmqpQueueEvent, ConnectionRole } from './events.js';
import { createAmqpQueue } from './index.js';
import {
  countRecordedResults,
  delay,
  doublingRuntime,
  randomName,
  recordingLogger,
  waitFor,
} from './test-support.js';

const JOBS = 2_000;
/** The submitter stays at most this many jobs ahead of the recorded results: publishing never stops. */
const AHEAD = 200;
/** ... and holds at this many jobs until the first killed node is back, so the second kill is mid-run too. */
const HOLD_AT = 1_000;
/** Jobs done when the first node is killed, and (past HOLD_AT) when the second is. */
const FIRST_KILL_AT = 500;
const SECOND_KILL_AT = HOLD_AT + 100;

let cluster: LocalRabbitCluster | undefined;

afterAll(async () => {
  await cluster?.destroy(); // also when the test failed half-way
});

interface Timed {
  at: number;
  event: AmqpQueueEvent;
}

interface Failover {
  role: ConnectionRole;
  from: string;
  to: string;
  lostAt: number;
  /** From the lost connection to the connection on another node. */
  ms: number;
}

/** Each connection lost and opened again, from the recorded events: which address to which. */
function failovers(timeline: readonly Timed[], role: ConnectionRole): Failover[] {
  const result: Failover[] = [];
  let current: string | undefined;
  let lost: { from: string; at: number } | null = null;
  for (const { at, event } of timeline) {
    if (!('role' in event) || event.role !== role) continue;
    if (event.type === 'connected') {
      if (lost && event.address)
        result.push({ role, from: lost.from, to: event.address, lostAt: lost.at, ms: at - lost.at });
      lost = null;
      current = event.address;
    } else if (event.type === 'disconnected' && current !== undefined && event.address === current) {
      lost = { from: current, at };
      current = undefined;
    }
  }
  return result;
}

describe('RabbitMQ cluster of three nodes', () => {
  it('2,000 jobs while one node is killed (-9), restarted, then another killed: every job succeeds once; publishers and consumers fail over', async () => {
    const t0 = Date.now();
    // Progress goes out as it happens, so that even a test that times out shows how far it got.
    const note = (line: string) =>
      console.log(`[queue-amqp cluster] ${((Date.now() - t0) / 1000).toFixed(1)}s ${line}`);
    try {
      cluster = await LocalRabbitCluster.start({ log: note });
      const nodes = cluster.nodes;
      const setupMs = Date.now() - t0;
      const nodeAt = (address: string | undefined): ClusterNode => {
        const node = nodes.find((candidate) => address === `amqp://127.0.0.1:${candidate.port}`);
        if (!node) throw new Error(`No cluster node at ${address}.`);
        return node;
      };
      const addressOf = (node: ClusterNode) => `amqp://127.0.0.1:${node.port}`;

      const queueLogger = recordingLogger();
      const runtimeLogger = recordingLogger();
      const queue = createAmqpQueue({
        url: cluster.urls,
        prefix: randomName('t'),
        connectionName: randomName('jobs-cluster'),
        logger: queueLogger,
        reconnect: { initialMs: 100, maxMs: 1_000 },
        publishTimeoutMs: 2_000,
        confirmTimeoutMs: 5_000,
      });
      const timeline: Timed[] = [];
      queue.on('state', (event) => timeline.push({ at: Date.now(), event }));
      /** The node a connection is on now (from its last `connected` event). */
      const nodeOf = (role: ConnectionRole): ClusterNode => {
        expect(queue.status()[role]).toBe('connected');
        const last = timeline.findLast(({ event }) => event.type === 'connected' && event.role === role);
        return nodeAt((last?.event as { address?: string } | undefined)?.address);
      };
      // Publishes that failed (the broker nacked them, or their connection died before the confirm): the jobs
      // stay queued and the dispatcher publishes them again.
      const refused: Array<{ at: number; kind: string }> = [];
      const publishMany = queue.publishMany!.bind(queue);
      (queue as JobQueue).publishMany = async (messages) => {
        const errors = await publishMany(messages);
        for (const error of errors) if (error) refused.push({ at: Date.now(), kind: refusal(error) });
        return errors;
      };

      // Deliveries that came back: unacknowledged when their consumer's node died, delivered again.
      let redeliveries = 0;
      const consume = queue.consume.bind(queue);
      queue.consume = (name, handler, options) =>
        consume(
          name,
          (delivery) => {
            if (delivery.redelivered) redeliveries++;
            return handler(delivery);
          },
          options,
        );

      const repository = createMemoryRepository();
      const recorded = countRecordedResults(repository);
      const { runtime, endpoint, runs } = doublingRuntime(repository, queue, runtimeLogger);
      const endpointQueue = queue.names.queue(endpoint.name);
      const deadLetterQueue = queue.names.deadLetterQueue;
      const ids: string[] = [];
      const kills: Array<{ node: ClusterNode; at: number }> = [];
      let limit = HOLD_AT;
      let stopped = false;
      let submitting: Promise<void> | null = null;
      const diagnose = async () => {
        const live = [];
        for (const node of nodes) {
          try {
            live.push(`${node.short}: ${JSON.stringify(await cluster!.queueReplicas(node, endpointQueue))}`);
            break;
          } catch (error) {
            live.push(`${node.short}: ${String(error).slice(0, 200)}`);
          }
        }
        const statuses = new Map<string, number>();
        for (const id of ids) {
          const status = (await repository.get(id).catch(() => null))?.status ?? 'unknown';
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
        }
        return [
          `submitted ${ids.length}, recorded ${recorded.size}, jobs by status ${JSON.stringify([...statuses])}`,
          `connections ${JSON.stringify(queue.status())}`,
          `queue ${live.join(' / ')}`,
          'last events:',
          ...timeline
            .slice(-25)
            .map(({ at, event }) => `  ${((at - t0) / 1000).toFixed(1)}s ${JSON.stringify(event)}`),
          'queue warnings:',
          ...queueLogger.entries
            .slice(-15)
            .map((entry) => `  ${entry.message} ${JSON.stringify(entry.fields)}`),
          'runtime warnings:',
          ...runtimeLogger.entries
            .slice(-15)
            .map((entry) => `  ${entry.message} ${JSON.stringify(entry.fields)}`),
        ].join('\n');
      };
      // The publisher declares the queues (publishing a message for a job that does not exist, which the runtime
      // drops as stale), so the queue's leader starts on the publisher's node (RabbitMQ starts a new quorum
      // queue's leader on the declaring node): the first kill takes both, the case where RabbitMQ 3.10 nacks the
      // publishes of the channel opened after the failover (see publisher.ts).
      await queue.publish(endpoint.name, newJobId());
      await runtime.start();
      try {
        // Replicated on every node of the cluster.
        for (const name of [endpointQueue, deadLetterQueue]) {
          const replicas = await cluster.queueReplicas(nodes[0]!, name);
          expect([...replicas.members].sort()).toEqual(nodes.map((node) => node.name).sort());
        }
        // rabbitmqctl takes about a second: the leader is looked up now, so that the kill comes right at its mark.
        const firstLeader = (await cluster.queueReplicas(nodes[0]!, endpointQueue)).leader;
        const runStartedAt = Date.now();
        submitting = (async () => {
          while (ids.length < JOBS && !stopped) {
            if (ids.length >= limit || ids.length - recorded.size >= AHEAD) {
              await delay(10);
              continue;
            }
            const count = Math.min(25, limit - ids.length);
            const first = ids.length;
            const batch = await Promise.all(
              Array.from({ length: count }, (_, i) =>
                runtime.service.submit(endpoint.name, { n: first + i }),
              ),
            );
            ids.push(...batch.map((result) => result.job.id));
          }
        })();

        // 1. Kill the publishers' node, which leads the queue, mid-run.
        await waitFor(() => recorded.size >= FIRST_KILL_AT, { timeoutMs: 60_000, message: 'the first jobs' });
        const first = nodeOf('publish');
        expect(firstLeader).toBe(first.name);
        const firstRoles = (['publish', 'consume'] as const).filter((role) => nodeOf(role) === first);
        const firstKilledAt = Date.now();
        const doneAtFirstKill = recorded.size;
        const submittedAtFirstKill = ids.length;
        kills.push({ node: first, at: Date.now() });
        await cluster.kill(first);
        note(
          `killed ${first.short} (${firstRoles.join(' + ')} connection) at ${doneAtFirstKill} done, ` +
            `${submittedAtFirstKill} submitted`,
        );
        // The two nodes left keep the queue (a majority) and the jobs going.
        await waitFor(() => recorded.size >= doneAtFirstKill + 100, {
          timeoutMs: 60_000,
          message: 'jobs done while a node is down',
        });
        await delay(2_000);
        const doneWhileDown = recorded.size - doneAtFirstKill;
        const survivors = nodes.filter((node) => node !== first);
        const leaderWhileDown = (await cluster.queueReplicas(survivors[0]!, endpointQueue)).leader;

        // 2. Bring it back: it rejoins the cluster and its replicas catch up.
        await cluster.restart(first);
        await cluster.awaitRunning(nodes);
        await cluster.awaitReplicas(survivors[0]!, [endpointQueue, deadLetterQueue]);
        const firstDownMs = Date.now() - firstKilledAt;
        note(`${first.short} back, its replicas followers, after ${firstDownMs} ms; ${recorded.size} done`);

        // 3. Kill another node, the consumers' (they moved off the first one if they were there), mid-run again.
        const secondLeader = (await cluster.queueReplicas(survivors[0]!, endpointQueue)).leader;
        limit = JOBS;
        await waitFor(() => recorded.size >= SECOND_KILL_AT, {
          timeoutMs: 60_000,
          message: 'jobs after the hold',
        });
        const consuming = nodeOf('consume');
        const second = consuming !== first ? consuming : survivors[0]!;
        const secondRoles = (['publish', 'consume'] as const).filter((role) => nodeOf(role) === second);
        const doneAtSecondKill = recorded.size;
        const submittedAtSecondKill = ids.length;
        kills.push({ node: second, at: Date.now() });
        await cluster.kill(second);
        note(
          `killed ${second.short} (${secondRoles.join(' + ') || 'no'} connection) at ${doneAtSecondKill} done, ` +
            `${submittedAtSecondKill} submitted`,
        );

        await waitFor(() => ids.length >= JOBS, { timeoutMs: 60_000, message: `${JOBS} jobs submitted` });
        await submitting;
        await waitFor(() => recorded.size >= JOBS, {
          timeoutMs: 120_000,
          intervalMs: 100,
          message: `${JOBS} jobs to succeed`,
        });
        const runMs = Date.now() - runStartedAt;
        await delay(1_000); // a straggler that ran twice would try to record now; it must be refused

        // Every job succeeded, with its own output, recorded exactly once.
        expect(ids).toHaveLength(JOBS);
        expect(new Set(ids).size).toBe(JOBS);
        for (const id of ids) {
          const job = await repository.get(id);
          expect(job?.status).toBe('succeeded');
          expect(job?.output).toEqual({ doubled: (job?.input as { n: number }).n * 2 });
          expect(recorded.get(id)).toBe(1);
        }
        expect(recorded.size).toBe(JOBS);

        // Publishers and consumers lost their connections to killed nodes and went on on other ones.
        const killed = new Set([addressOf(first), addressOf(second)]);
        const moves = { publish: failovers(timeline, 'publish'), consume: failovers(timeline, 'consume') };
        for (const role of ['publish', 'consume'] as const) {
          const fromKilled = moves[role].filter((move) => killed.has(move.from));
          expect(
            fromKilled.length,
            `${role} failovers: ${JSON.stringify(moves[role])}`,
          ).toBeGreaterThanOrEqual(1);
          for (const move of fromKilled) expect(move.to).not.toBe(move.from);
        }
        expect(moves.publish.some((move) => move.from === addressOf(first))).toBe(true);
        expect(moves.consume.some((move) => move.from === addressOf(second))).toBe(true);
        const attached = timeline.filter(({ event }) => event.type === 'consumer-attached').length;
        expect(attached).toBeGreaterThanOrEqual(2);
        expect(queue.status()).toEqual({ publish: 'connected', consume: 'connected' });

        const deadLetters = (await queue.deadLetters({ limit: 1_000 })).length;
        const executedTwice = [...runs.values()].filter((count) => count > 1).length;
        const recordedTwice = [...recorded.values()].filter((count) => count > 1).length;
        const short = (name: string) => nodes.find((node) => node.name === name)?.short ?? name;
        const afterKills = kills.map((kill, index) => {
          const until = kills[index + 1]?.at ?? Number.POSITIVE_INFINITY;
          const inWindow = refused.filter((refusal) => refusal.at >= kill.at && refusal.at < until);
          if (inWindow.length === 0) return `after kill ${index + 1}: 0`;
          const kinds = new Map<string, number>();
          for (const { kind } of inWindow) kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
          const lastMs = Math.max(...inWindow.map((refusal) => refusal.at)) - kill.at;
          return (
            `after kill ${index + 1}: ${inWindow.length} (${[...kinds].map(([kind, n]) => `${kind} ${n}`).join(', ')}; ` +
            `the last ${(lastMs / 1000).toFixed(1)} s after the kill)`
          );
        });
        const beforeKills = refused.filter((refusal) => refusal.at < kills[0]!.at).length;
        const describeMoves = (role: ConnectionRole) =>
          moves[role]
            .map((move) => `${nodeAt(move.from).short}→${nodeAt(move.to).short} in ${move.ms} ms`)
            .join(', ') || 'none';
        console.log(
          `[queue-amqp cluster] ${JOBS} jobs over 3 nodes in ${(runMs / 1000).toFixed(1)} s ` +
            `(cluster started in ${(setupMs / 1000).toFixed(1)} s): ` +
            `kill -9 ${first.short} (${firstRoles.join('+')} connection; queue leader ${short(firstLeader)}` +
            `→${short(leaderWhileDown)}) at ${doneAtFirstKill} done, ${doneWhileDown} done while it was down, ` +
            `back in ${(firstDownMs / 1000).toFixed(1)} s; kill -9 ${second.short} ` +
            `(${secondRoles.join('+') || 'no'} connection; queue leader ${short(secondLeader)}) ` +
            `at ${doneAtSecondKill} done; failovers publish ${describeMoves('publish')}, ` +
            `consume ${describeMoves('consume')}; consumer attached ${attached}x; redeliveries ${redeliveries}; ` +
            `publishes refused (the jobs dispatched again): before the kills ${beforeKills}, ` +
            `${afterKills.join(', ')}; ` +
            `duplicates executed ${executedTwice}, recorded ${recordedTwice}; dead letters ${deadLetters}`,
        );
      } catch (error) {
        // Before the cleanup below, while the repository and the queue can still be asked.
        console.error(
          `[queue-amqp cluster] failed after ${((Date.now() - t0) / 1000).toFixed(1)} s:\n${await diagnose()}`,
        );
        throw error;
      } finally {
        stopped = true;
        await submitting?.catch(() => {});
        await runtime.stop({ timeoutMs: 5_000 });
        await queue.close();
        await repository.close();
      }
    } catch (error) {
      console.error(`[queue-amqp cluster] failed after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      throw error;
    } finally {
      await cluster?.destroy();
    }
  }, 240_000);
});

/** What kind of failure a refused publish was, for the summary. */
function refusal(error: Error): string {
  const message = error.message;
  if (/nacked/.test(message)) return 'nacked';
  if (/channel closed/i.test(message)) return 'channel closed before the confirm';
  if (/not confirmed/.test(message)) return 'no confirm in time';
  if (/not connected/.test(message)) return 'no connection';
  return message;
}
