import { type AddressInfo, createServer, type Socket } from 'node:net';
import { InvalidInputError, newJobId, type QueueDelivery, UnavailableError } from '@jobs/core';
import { connect } from 'amqplib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AmqpQueueEvent } from './events.js';
import { type AmqpQueueOptions, createAmqpQueue } from './index.js';
import { PRIOR_DELIVERIES_HEADER } from './message.js';
import { redactUrl } from './options.js';
import type { AmqpJobQueue } from './queue.js';
import {
  Admin,
  AMQP_URL,
  closeConnectionsNamed,
  delay,
  rabbitmqctl,
  randomName,
  recordEvents,
  recordingLogger,
  waitFor,
} from './test-support.js';

const QUIET_MS = 500;

let admin: Admin;
const opened: Array<{ queue: AmqpJobQueue; endpoints: Set<string> }> = [];

beforeAll(async () => {
  admin = await Admin.open();
});

afterEach(async () => {
  const entries = opened.splice(0);
  for (const { queue } of entries) await queue.close();
  for (const { queue, endpoints } of entries) await admin.deleteTopology(queue.prefix, endpoints);
});

afterAll(async () => {
  await admin?.close();
});

interface Harness {
  queue: AmqpJobQueue;
  events: AmqpQueueEvent[];
  logger: ReturnType<typeof recordingLogger>;
  connectionName: string;
  /** A fresh endpoint name, deleted with the queue's topology after the test. */
  endpoint(): string;
}

function harness(options: AmqpQueueOptions = {}): Harness {
  const logger = recordingLogger();
  const connectionName = randomName('jobs-test');
  const queue = createAmqpQueue({
    url: AMQP_URL,
    prefix: randomName('t'),
    connectionName,
    logger,
    reconnect: { initialMs: 50, maxMs: 500 },
    ...options,
  });
  const entry = { queue, endpoints: new Set<string>() };
  opened.push(entry);
  return {
    queue,
    events: recordEvents(queue),
    logger,
    connectionName,
    endpoint() {
      const name = randomName('e');
      entry.endpoints.add(name);
      return name;
    },
  };
}

function count(events: AmqpQueueEvent[], type: AmqpQueueEvent['type']): number {
  return events.filter((event) => event.type === type).length;
}

async function queueInfo(name: string): Promise<Record<string, unknown>> {
  const json = await rabbitmqctl(
    'list_queues',
    'name',
    'type',
    'durable',
    'arguments',
    'messages_ready',
    'messages_unacknowledged',
    '--formatter',
    'json',
  );
  const rows = JSON.parse(json) as Array<Record<string, unknown>>;
  const row = rows.find((candidate) => candidate.name === name);
  if (!row) throw new Error(`queue ${name} not found`);
  return row;
}

describe('topology and messages', () => {
  it('declares a durable quorum queue per endpoint with dead-lettering and a delivery limit', async () => {
    const h = harness({ maxDeliveries: 4 });
    const e = h.endpoint();
    await h.queue.publish(e, newJobId());
    const info = await queueInfo(`${h.queue.prefix}.${e}`);
    expect(info).toMatchObject({ type: 'quorum', durable: true });
    const args = Object.fromEntries(
      (info.arguments as Array<[string, string, unknown]>).map(([k, , v]) => [k, v]),
    );
    expect(args).toEqual({
      'x-queue-type': 'quorum',
      'x-dead-letter-exchange': `${h.queue.prefix}.dead-letter`,
      'x-delivery-limit': 3,
    });
    const deadLetter = await queueInfo(`${h.queue.prefix}.dead-letter`);
    expect(deadLetter).toMatchObject({ type: 'quorum', durable: true });
    await admin.withChannel((channel) => channel.checkExchange(`${h.queue.prefix}.dead-letter`));
    expect(h.queue.names).toMatchObject({
      deadLetterExchange: `${h.queue.prefix}.dead-letter`,
      deadLetterQueue: `${h.queue.prefix}.dead-letter`,
    });
    expect(h.queue.names.queue(e)).toBe(`${h.queue.prefix}.${e}`);
  });

  it('publishes persistent JSON messages that carry only the endpoint and the job id', async () => {
    const h = harness();
    const e = h.endpoint();
    const id = newJobId();
    await h.queue.publish(e, id);
    const message = await admin.withChannel(async (channel) => {
      const got = await channel.get(`${h.queue.prefix}.${e}`, { noAck: true });
      if (!got) throw new Error('no message');
      return got;
    });
    expect(message.properties.deliveryMode).toBe(2);
    expect(message.properties.contentType).toBe('application/json');
    expect(JSON.parse(message.content.toString())).toEqual({ endpoint: e, jobId: id });
  });

  it('keeps an existing queue declared with other arguments, with a warning', async () => {
    const h = harness({ maxDeliveries: 5 });
    const e = h.endpoint();
    await admin.withChannel((channel) =>
      channel.assertQueue(`${h.queue.prefix}.${e}`, {
        durable: true,
        arguments: { 'x-queue-type': 'quorum' },
      }),
    );
    const id = newJobId();
    await h.queue.publish(e, id);
    const deliveries: QueueDelivery[] = [];
    await h.queue.consume(e, async (delivery) => void deliveries.push(delivery), { concurrency: 1 });
    await waitFor(() => deliveries.length === 1, { message: 'the delivery' });
    expect(deliveries[0]?.jobId).toBe(id);
    expect(h.logger.entries.some((entry) => entry.message.includes('other arguments'))).toBe(true);
  });

  it('rejects invalid names, ids and options before touching the broker', async () => {
    expect(() => createAmqpQueue({ prefix: 'Bad.Prefix' })).toThrow(TypeError);
    expect(() => createAmqpQueue({ maxDeliveries: 0 })).toThrow(TypeError);
    expect(() => createAmqpQueue({ ackAfterMs: -1 })).toThrow(TypeError);
    const h = harness();
    await expect(h.queue.publish('Not Valid', newJobId())).rejects.toBeInstanceOf(InvalidInputError);
    await expect(h.queue.publish(h.endpoint(), '')).rejects.toBeInstanceOf(InvalidInputError);
    await expect(h.queue.publish(h.endpoint(), 'x'.repeat(256))).rejects.toBeInstanceOf(InvalidInputError);
    await expect(h.queue.consume(h.endpoint(), async () => {}, { concurrency: 0 })).rejects.toBeInstanceOf(
      InvalidInputError,
    );
    expect(() => h.queue.on('nope' as 'state', () => {})).toThrow(TypeError);
    expect(h.queue.status()).toEqual({ publish: 'idle', consume: 'idle' });
  });

  it('depth counts the ready messages of an endpoint; an unknown endpoint has none', async () => {
    const h = harness();
    const e = h.endpoint();
    for (let i = 0; i < 3; i++) await h.queue.publish(e, newJobId());
    expect(await h.queue.depth(e)).toBe(3);
    expect(await h.queue.depth(h.endpoint())).toBe(0);
    expect(h.queue.status().publish).toBe('connected');
  });
});

describe('poison messages', () => {
  it('dead-letters unparseable messages and messages of another endpoint, without calling the handler', async () => {
    const h = harness();
    const e = h.endpoint();
    const good = newJobId();
    await h.queue.publish(e, good); // declares the queue
    await admin.publishRaw(`${h.queue.prefix}.${e}`, Buffer.from([0xff, 0x00, 0x7b]));
    await admin.publishRaw(
      `${h.queue.prefix}.${e}`,
      JSON.stringify({ endpoint: 'other', jobId: newJobId() }),
    );
    await admin.publishRaw(`${h.queue.prefix}.${e}`, JSON.stringify({ endpoint: e }));
    const deliveries: QueueDelivery[] = [];
    await h.queue.consume(e, async (delivery) => void deliveries.push(delivery), { concurrency: 2 });
    await waitFor(() => count(h.events, 'dead-lettered') === 3, { message: '3 dead letters' });
    await delay(QUIET_MS);
    expect(deliveries.map((d) => d.jobId)).toEqual([good]);
    expect(h.events.filter((event) => event.type === 'dead-lettered')).toEqual([
      { type: 'dead-lettered', endpoint: e, jobId: null, reason: 'unparseable', deliveries: 1 },
      { type: 'dead-lettered', endpoint: e, jobId: null, reason: 'unparseable', deliveries: 1 },
      { type: 'dead-lettered', endpoint: e, jobId: null, reason: 'unparseable', deliveries: 1 },
    ]);
    const letters = await waitFor(async () => {
      const found = await h.queue.deadLetters();
      return found.length === 3 ? found : null;
    });
    for (const letter of letters)
      expect(letter).toMatchObject({ endpoint: e, jobId: null, reason: 'rejected' });
    // deadLetters only looks: they are all still there.
    expect(await h.queue.deadLetters({ limit: 10 })).toHaveLength(3);
    expect(await h.queue.purgeDeadLetters()).toBe(3);
    expect(await h.queue.deadLetters()).toEqual([]);
  });

  it('a message whose handler always rejects is dead-lettered after maxDeliveries deliveries', async () => {
    const h = harness({ maxDeliveries: 3, redeliveryDelayMs: 10 });
    const e = h.endpoint();
    const id = newJobId();
    const deliveries: QueueDelivery[] = [];
    await h.queue.consume(
      e,
      async (delivery) => {
        deliveries.push(delivery);
        throw new Error('always');
      },
      { concurrency: 1 },
    );
    await h.queue.publish(e, id);
    await waitFor(() => count(h.events, 'dead-lettered') === 1, { message: 'the dead letter' });
    await delay(QUIET_MS);
    expect(deliveries.map((d) => [d.jobId, d.redelivered])).toEqual([
      [id, false],
      [id, true],
      [id, true],
    ]);
    expect(h.events.find((event) => event.type === 'dead-lettered')).toEqual({
      type: 'dead-lettered',
      endpoint: e,
      jobId: id,
      reason: 'delivery-limit',
      deliveries: 3,
    });
    const letters = await waitFor(async () => {
      const found = await h.queue.deadLetters();
      return found.length === 1 ? found : null;
    });
    expect(letters[0]).toMatchObject({ endpoint: e, jobId: id });
  });

  it('the broker dead-letters a message whose consumers die before settling it, past the delivery limit', async () => {
    const h = harness({ maxDeliveries: 2 });
    const e = h.endpoint();
    const id = newJobId();
    await h.queue.publish(e, id);
    // Two consumers that take the message and die without settling it (like a crashing worker process).
    for (let i = 0; i < 2; i++) {
      const channel = await (await admin.connection()).createChannel();
      channel.on('error', () => {});
      const got = await waitFor(
        async () => (await channel.get(`${h.queue.prefix}.${e}`, { noAck: false })) || null,
      );
      expect(JSON.parse(got.content.toString()).jobId).toBe(id);
      await channel.close();
    }
    const letters = await waitFor(async () => {
      const found = await h.queue.deadLetters();
      return found.length === 1 ? found : null;
    });
    expect(letters[0]).toMatchObject({ endpoint: e, jobId: id, reason: 'delivery_limit' });
    expect(await h.queue.depth(e)).toBe(0);
  });

  it('counts the deliveries of a re-published copy: past the limit it is dead-lettered without running', async () => {
    const h = harness({ maxDeliveries: 3 });
    const e = h.endpoint();
    await h.queue.publish(e, newJobId());
    const exhausted = newJobId();
    await admin.publishRaw(`${h.queue.prefix}.${e}`, JSON.stringify({ endpoint: e, jobId: exhausted }), {
      [PRIOR_DELIVERIES_HEADER]: 3,
    });
    const lastChance = newJobId();
    await admin.publishRaw(`${h.queue.prefix}.${e}`, JSON.stringify({ endpoint: e, jobId: lastChance }), {
      [PRIOR_DELIVERIES_HEADER]: 2,
    });
    const deliveries: QueueDelivery[] = [];
    await h.queue.consume(e, async (delivery) => void deliveries.push(delivery), { concurrency: 1 });
    await waitFor(() => deliveries.length === 2 && count(h.events, 'dead-lettered') === 1, {
      message: 'two deliveries and a dead letter',
    });
    await delay(QUIET_MS);
    expect(deliveries.map((d) => d.jobId)).not.toContain(exhausted);
    expect(deliveries.find((d) => d.jobId === lastChance)?.redelivered).toBe(true);
    expect(h.events.find((event) => event.type === 'dead-lettered')).toMatchObject({
      jobId: exhausted,
      reason: 'delivery-limit',
      deliveries: 3,
    });
  });
});

describe('ack policy', () => {
  it('acknowledges a delivery whose handler outlives ackAfterMs: losing the connection then redelivers nothing', async () => {
    const h = harness({ ackAfterMs: 200 });
    const e = h.endpoint();
    const queueName = `${h.queue.prefix}.${e}`;
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const deliveries: QueueDelivery[] = [];
    let finished = 0;
    await h.queue.consume(
      e,
      async (delivery) => {
        deliveries.push(delivery);
        if (deliveries.length === 1) await released;
        finished++;
      },
      { concurrency: 1 },
    );
    const id = newJobId();
    await h.queue.publish(e, id);
    await waitFor(() => deliveries.length === 1, { message: 'the delivery' });
    // Acknowledged while the handler still runs.
    await waitFor(async () => (await queueInfo(queueName)).messages_unacknowledged === 0, {
      message: 'the early acknowledgement',
    });
    expect(finished).toBe(0);
    expect(await closeConnectionsNamed(`${h.connectionName} (consume)`)).toBe(1);
    await waitFor(() => count(h.events, 'consumer-attached') === 2, {
      message: 'the consumer attached again',
    });
    release();
    await waitFor(() => finished === 1, { message: 'the handler to finish' });
    await delay(QUIET_MS);
    expect(deliveries.map((d) => d.jobId)).toEqual([id]);
    expect(await h.queue.depth(e)).toBe(0);
  });

  it('a handler still running when its channel dies is not acknowledged: the message is delivered again, nothing throws', async () => {
    const h = harness();
    const e = h.endpoint();
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const deliveries: QueueDelivery[] = [];
    await h.queue.consume(
      e,
      async (delivery) => {
        deliveries.push(delivery);
        if (deliveries.length === 1) await released;
      },
      { concurrency: 2 },
    );
    const id = newJobId();
    await h.queue.publish(e, id);
    await waitFor(() => deliveries.length === 1, { message: 'the first delivery' });
    expect(await closeConnectionsNamed(`${h.connectionName} (consume)`)).toBe(1);
    await waitFor(() => deliveries.length === 2, { message: 'the redelivery' });
    expect(deliveries[1]).toEqual({ endpoint: e, jobId: id, redelivered: true });
    release(); // its ack is impossible now: dropped quietly
    await delay(QUIET_MS);
    expect(deliveries).toHaveLength(2);
    expect(await h.queue.depth(e)).toBe(0);
    expect(h.logger.entries.filter((entry) => entry.level === 'error')).toEqual([]);
  });

  it('a delivery that waits for a slot longer than ackAfterMs is handed back, so another consumer runs it', async () => {
    const h = harness({ ackAfterMs: 300 });
    const e = h.endpoint();
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const busy: QueueDelivery[] = [];
    const busyConsumer = await h.queue.consume(
      e,
      async (delivery) => {
        busy.push(delivery);
        await released;
      },
      { concurrency: 1 },
    );
    const slow = newJobId();
    await h.queue.publish(e, slow);
    await waitFor(() => busy.length === 1, { message: 'the slow delivery' });
    // The slow job's message is acknowledged early, so the broker sends the next one; it waits for the slot.
    const waiting = newJobId();
    await h.queue.publish(e, waiting);
    await waitFor(async () => (await h.queue.depth(e)) === 0, { message: 'the second message to be taken' });
    const free: QueueDelivery[] = [];
    await h.queue.consume(e, async (delivery) => void free.push(delivery), { concurrency: 1 });
    await waitFor(() => free.length === 1, { message: 'the handed-back delivery' });
    expect(free[0]).toEqual({ endpoint: e, jobId: waiting, redelivered: false });
    release();
    await busyConsumer.stop();
    await delay(QUIET_MS);
    expect(busy.map((d) => d.jobId)).toEqual([slow]);
    expect(free.map((d) => d.jobId)).toEqual([waiting]);
  });

  it('closing the queue while handlers run drops their acks; the messages go to the next consumer', async () => {
    const first = harness();
    const e = first.endpoint();
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const seen: QueueDelivery[] = [];
    await first.queue.consume(
      e,
      async (delivery) => {
        seen.push(delivery);
        await released;
      },
      { concurrency: 1 },
    );
    const id = newJobId();
    await first.queue.publish(e, id);
    await waitFor(() => seen.length === 1, { message: 'the delivery' });
    await first.queue.close();
    release();
    await expect(first.queue.publish(e, newJobId())).rejects.toBeInstanceOf(UnavailableError);

    const second = createAmqpQueue({ url: AMQP_URL, prefix: first.queue.prefix, logger: recordingLogger() });
    opened.push({ queue: second, endpoints: new Set() });
    const again: QueueDelivery[] = [];
    await second.consume(e, async (delivery) => void again.push(delivery), { concurrency: 1 });
    await waitFor(() => again.length === 1, { message: 'the redelivery' });
    expect(again[0]).toEqual({ endpoint: e, jobId: id, redelivered: true });
  });
});

describe('broker-side changes', () => {
  it('an unroutable publish (its queue deleted behind the client) rejects; the next one declares the queue again', async () => {
    const h = harness();
    const e = h.endpoint();
    await h.queue.publish(e, newJobId());
    await admin.deleteQueue(`${h.queue.prefix}.${e}`);
    const error = await h.queue.publish(e, newJobId()).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UnavailableError);
    expect((error as Error).message).toMatch(/route/);
    await h.queue.publish(e, newJobId());
    expect(await h.queue.depth(e)).toBe(1);
  });

  it('a nacked publish rejects; publishing goes on on a new channel, the old one is closed', async () => {
    // RabbitMQ 3.10 can keep nacking a channel's messages to a quorum queue after a cluster failover (see
    // publisher.ts); here the nack comes from an operator's queue that refuses messages past the first.
    const h = harness();
    const e = h.endpoint();
    const name = `${h.queue.prefix}.${e}`;
    await admin.withChannel((channel) =>
      channel.assertQueue(name, {
        durable: true,
        arguments: { 'x-queue-type': 'quorum', 'x-max-length': 1, 'x-overflow': 'reject-publish' },
      }),
    );
    // A quorum queue starts refusing once it is past its limit: publish until one is refused.
    let error: unknown = null;
    for (let i = 0; i < 10 && !error; i++) {
      error = await h.queue.publish(e, newJobId()).then(
        () => null,
        (caught: unknown) => caught,
      );
    }
    expect(error).toBeInstanceOf(UnavailableError);
    expect((error as Error).message).toMatch(/nacked/);
    await waitFor(
      () => h.events.some((event) => event.type === 'channel-closed' && event.role === 'publish'),
      {
        message: 'the nacked channel replaced',
      },
    );
    expect(h.logger.entries.some((entry) => entry.message.includes('publishing on a new channel'))).toBe(
      true,
    );

    await admin.withChannel((channel) => channel.purgeQueue(name));
    const id = newJobId();
    await waitFor(
      () =>
        h.queue.publish(e, id).then(
          () => true,
          () => false,
        ),
      { message: 'a publish that succeeds' },
    );
    expect(await h.queue.depth(e)).toBe(1);
    // The publish connection is down to its one channel.
    const connections = await rabbitmqctl('list_connections', '-q', 'pid', 'client_properties');
    const pid = connections
      .split('\n')
      .find((line) => line.includes(`{"connection_name","${h.connectionName} (publish)"}`))
      ?.split('\t')[0];
    expect(pid).toMatch(/^</);
    await waitFor(
      async () =>
        (await rabbitmqctl('list_channels', '-q', 'connection')).split('\n').filter((line) => line === pid)
          .length === 1,
      { message: 'one channel left on the publish connection' },
    );
  });

  it('a consumer cancelled by the broker (its queue deleted) declares the queue again and subscribes again', async () => {
    const h = harness();
    const e = h.endpoint();
    const deliveries: QueueDelivery[] = [];
    await h.queue.consume(e, async (delivery) => void deliveries.push(delivery), { concurrency: 1 });
    await admin.deleteQueue(`${h.queue.prefix}.${e}`);
    await waitFor(() => count(h.events, 'consumer-cancelled') === 1, { message: 'the cancel' });
    await waitFor(() => count(h.events, 'consumer-attached') === 2, { message: 'the new subscription' });
    expect(await admin.consumerCount(`${h.queue.prefix}.${e}`)).toBe(1);
    const id = newJobId();
    await waitFor(
      () =>
        h.queue.publish(e, id).then(
          () => true,
          () => false,
        ),
      { message: 'a publish that succeeds' },
    );
    await waitFor(() => deliveries.length === 1, { message: 'the delivery' });
    expect(deliveries[0]?.jobId).toBe(id);
  });

  it('reconnects after its connections are closed: consumers re-attached, publishing resumes, events reported', async () => {
    const h = harness();
    const e = h.endpoint();
    const deliveries: QueueDelivery[] = [];
    await h.queue.consume(e, async (delivery) => void deliveries.push(delivery), { concurrency: 4 });
    await h.queue.publish(e, newJobId());
    await waitFor(() => deliveries.length === 1, { message: 'the first delivery' });
    expect(await closeConnectionsNamed(h.connectionName)).toBe(2);
    await waitFor(() => count(h.events, 'connected') === 4, { message: 'both connections back' });
    await waitFor(() => count(h.events, 'consumer-attached') === 2, {
      message: 'the consumer attached again',
    });
    for (const role of ['publish', 'consume'] as const) {
      expect(h.events).toContainEqual(expect.objectContaining({ type: 'disconnected', role }));
      expect(h.events).toContainEqual(expect.objectContaining({ type: 'reconnecting', role, attempt: 1 }));
    }
    const id = newJobId();
    await h.queue.publish(e, id);
    await waitFor(() => deliveries.length === 2, { message: 'the delivery after reconnecting' });
    expect(deliveries[1]?.jobId).toBe(id);
    expect(h.queue.status()).toEqual({ publish: 'connected', consume: 'connected' });
  });
});

describe('custom connection factory', () => {
  it('opens every connection through `connection`, again on reconnect', async () => {
    const name = randomName('jobs-test-custom');
    let opened = 0;
    const h = harness({
      connection: () => {
        opened++;
        return connect(AMQP_URL, { clientProperties: { connection_name: name } });
      },
    });
    const e = h.endpoint();
    const deliveries: QueueDelivery[] = [];
    await h.queue.consume(e, async (delivery) => void deliveries.push(delivery), { concurrency: 1 });
    await h.queue.publish(e, newJobId());
    await waitFor(() => deliveries.length === 1, { message: 'the delivery' });
    expect(opened).toBe(2);
    expect(await closeConnectionsNamed(name)).toBe(2);
    await waitFor(() => count(h.events, 'consumer-attached') === 2, {
      message: 'the consumer attached again',
    });
    await h.queue.publish(e, newJobId());
    await waitFor(() => deliveries.length === 2, { message: 'the delivery after reconnecting' });
    expect(opened).toBe(4);
  });
});

describe('unreachable broker', () => {
  it('publish and consume reject with UnavailableError within their bounds; nothing throws; close ends the retries', async () => {
    const logger = recordingLogger();
    const queue = createAmqpQueue({
      url: 'amqp://guest:guest@127.0.0.1:1',
      prefix: randomName('t'),
      logger,
      publishTimeoutMs: 300,
      connectTimeoutMs: 300,
      reconnect: { initialMs: 20, maxMs: 100 },
    });
    const events = recordEvents(queue);
    try {
      const error = await queue.publish('ping', newJobId()).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(UnavailableError);
      expect((error as Error).message).toMatch(/ECONNREFUSED/);
      await expect(queue.consume('ping', async () => {}, { concurrency: 1 })).rejects.toBeInstanceOf(
        UnavailableError,
      );
      await expect(queue.depth('ping')).rejects.toBeInstanceOf(UnavailableError);
      expect(queue.status()).toEqual({ publish: 'disconnected', consume: 'disconnected' });
      expect(events).toContainEqual(expect.objectContaining({ type: 'disconnected', role: 'publish' }));
      expect(events).toContainEqual(expect.objectContaining({ type: 'reconnecting', role: 'publish' }));
    } finally {
      await queue.close();
    }
    expect(queue.status()).toEqual({ publish: 'closed', consume: 'closed' });
    const after = events.length;
    await delay(300);
    expect(events.slice(after)).toEqual([]);
  });

  it('a broker that accepts TCP but never answers: attempts time out; close() does not wait for a hanging one', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    try {
      const quick = createAmqpQueue({
        url: `amqp://guest:guest@127.0.0.1:${port}`,
        prefix: randomName('t'),
        logger: recordingLogger(),
        connectTimeoutMs: 200,
        publishTimeoutMs: 200,
      });
      const error = await quick.publish('ping', newJobId()).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(UnavailableError);
      expect((error as Error).message).toMatch(/ETIMEDOUT|timed out/);
      await quick.close();

      // An attempt bounded far beyond the test's timeout: close() must abandon it.
      const hanging = createAmqpQueue({
        url: `amqp://guest:guest@127.0.0.1:${port}`,
        prefix: randomName('t'),
        logger: recordingLogger(),
        connectTimeoutMs: 600_000,
      });
      const publishing = hanging.publish('ping', newJobId()).catch((caught: unknown) => caught);
      await waitFor(() => sockets.size >= 2, { message: 'the second connection attempt' });
      await hanging.close();
      expect(await publishing).toBeInstanceOf(UnavailableError);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('with publishTimeoutMs 0 publishing works while connected (the first publish awaits the first connect)', async () => {
    const h = harness({ publishTimeoutMs: 0 });
    const e = h.endpoint();
    await h.queue.publish(e, newJobId());
    await h.queue.publish(e, newJobId());
    expect(await h.queue.depth(e)).toBe(2);
  });

  it('with publishTimeoutMs 0 a publish fails at once while not connected', async () => {
    const queue = createAmqpQueue({
      url: 'amqp://guest:guest@127.0.0.1:1',
      prefix: randomName('t'),
      logger: recordingLogger(),
      publishTimeoutMs: 0,
    });
    try {
      // The first waits for the first connection attempt; later ones do not wait for reconnects.
      await expect(queue.publish('ping', newJobId())).rejects.toBeInstanceOf(UnavailableError);
      await expect(queue.publish('ping', newJobId())).rejects.toBeInstanceOf(UnavailableError);
    } finally {
      await queue.close();
    }
  });
});

describe('several broker URLs (a cluster)', () => {
  const REFUSING = 'amqp://guest:secret-one@127.0.0.1:1';
  const refusing = 'amqp://127.0.0.1:1';

  /** This role's connection events: type and address. */
  const steps = (events: AmqpQueueEvent[], role: 'publish' | 'consume') =>
    events
      .filter((event) => 'role' in event && event.role === role && event.type !== 'channel-closed')
      .map((event) => `${event.type} ${'address' in event ? event.address : ''}`.trim());

  it('connects through the URL that answers, tries the next one at once within a round, and goes on with the next after a loss', async () => {
    const live = redactUrl(AMQP_URL);
    const h = harness({ url: [REFUSING, AMQP_URL] });
    const e = h.endpoint();
    const deliveries: QueueDelivery[] = [];
    await h.queue.consume(e, async (delivery) => void deliveries.push(delivery), { concurrency: 1 });
    await h.queue.publish(e, newJobId());
    await waitFor(() => deliveries.length === 1, { message: 'the first delivery' });
    for (const role of ['publish', 'consume'] as const) {
      // Each connection has its own order: the refusing URL first or not, but no backoff inside the round.
      expect([
        [`connecting ${live}`, `connected ${live}`],
        [`connecting ${refusing}`, `disconnected ${refusing}`, `connecting ${live}`, `connected ${live}`],
      ]).toContainEqual(steps(h.events, role));
    }

    const before = h.events.length;
    expect(await closeConnectionsNamed(h.connectionName)).toBe(2);
    await waitFor(() => count(h.events.slice(before), 'consumer-attached') === 1, {
      message: 'the consumer attached again',
    });
    await waitFor(() => count(h.events.slice(before), 'connected') === 2, {
      message: 'both connections back',
    });
    for (const role of ['publish', 'consume'] as const) {
      // After the loss the next round starts at the next URL (the refusing one), then the one that answers.
      expect(steps(h.events.slice(before), role)).toEqual([
        `disconnected ${live}`,
        'reconnecting',
        `connecting ${refusing}`,
        `disconnected ${refusing}`,
        `connecting ${live}`,
        `connected ${live}`,
      ]);
    }
    const id = newJobId();
    await h.queue.publish(e, id);
    await waitFor(() => deliveries.length === 2, { message: 'the delivery after reconnecting' });
    expect(deliveries[1]?.jobId).toBe(id);
    expect(JSON.stringify(h.events)).not.toMatch(/secret-one|guest:guest/);
    expect(JSON.stringify(h.logger.entries)).not.toMatch(/secret-one|guest:guest/);
  });

  it('when no URL answers: a round tries each once, the backoff comes between rounds, publish fails with UnavailableError', async () => {
    const logger = recordingLogger();
    const queue = createAmqpQueue({
      url: [REFUSING, 'amqp://guest:secret-two@127.0.0.1:2'],
      prefix: randomName('t'),
      logger,
      publishTimeoutMs: 300,
      connectTimeoutMs: 300,
      reconnect: { initialMs: 20, maxMs: 100 },
    });
    const events = recordEvents(queue);
    try {
      const error = await queue.publish('ping', newJobId()).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(UnavailableError);
      expect((error as Error).message).toMatch(/ECONNREFUSED/);
      expect((error as Error).message).not.toMatch(/secret/);
      const first = steps(events, 'publish').slice(0, 5);
      expect(first.map((step) => step.split(' ')[0])).toEqual([
        'connecting',
        'disconnected',
        'connecting',
        'disconnected',
        'reconnecting',
      ]);
      expect(new Set([first[0], first[2]])).toEqual(
        new Set([`connecting ${refusing}`, 'connecting amqp://127.0.0.1:2']),
      );
    } finally {
      await queue.close();
    }
    expect(JSON.stringify(logger.entries)).not.toMatch(/secret/);
  });

  it('refuses anything but amqp:// and amqps:// URLs, without showing their credentials', async () => {
    expect(() => createAmqpQueue({ url: [] })).toThrow(TypeError);
    expect(() => createAmqpQueue({ url: 'not a url' })).toThrow(TypeError);
    expect(() => createAmqpQueue({ url: ['amqp://rabbit-1', 5 as unknown as string] })).toThrow(TypeError);
    expect(() => createAmqpQueue({ url: ['amqp://rabbit-1', 'https://jobs:hunter2@rabbit-2'] })).toThrow(
      /amqp:\/\/ or amqps:\/\//,
    );
    const refused = (() => {
      try {
        createAmqpQueue({ url: 'https://jobs:hunter2@rabbit-2' });
        return null;
      } catch (error) {
        return error as Error;
      }
    })();
    expect(refused).toBeInstanceOf(TypeError);
    expect(refused?.message).toContain('https://***@rabbit-2');
    expect(refused?.message).not.toContain('hunter2');
    // With a custom connection factory the URL is not used, and not checked (as before).
    const custom = createAmqpQueue({ url: 'unused', connection: () => connect(AMQP_URL) });
    await custom.close();
    expect(redactUrl('amqps://jobs:hunter2@rabbit-1.internal:5671/prod?heartbeat=10')).toBe(
      'amqps://rabbit-1.internal:5671/prod',
    );
  });
});
