// The load's clients: each one a keep-alive agent of its own on an address of its own (127.0.1.N, so that the
// server's per-address cap of waiting requests applies per client as it would on the internet) and an owner of
// its own, looping: submit, wait (long-poll or event stream), read the output, list, replay, delete.
import http from 'node:http';

export interface ClientResults {
  /** Requests by operation and answer (`submit 202`, `events 200`, …). */
  answers: Map<string, number>;
  /** Unexpected answers and failures, first ones with detail. */
  errors: string[];
  errorCount: number;
  /** Milliseconds per operation, to summarize. */
  latencies: Map<string, number[]>;
  /** Jobs whose output was read and checked. */
  completed: number;
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

class Client {
  readonly #agent: http.Agent;
  readonly #results: ClientResults;
  readonly #origin: URL;
  readonly #id: number;
  #sequence = 0;

  constructor(origin: string, id: number, results: ClientResults) {
    this.#origin = new URL(origin);
    this.#id = id;
    this.#results = results;
    // 127.0.1.1 … 127.0.1.254, then 127.0.2.1 …: every address of 127/8 is this machine.
    const localAddress = `127.0.${1 + Math.floor(id / 254)}.${1 + (id % 254)}`;
    this.#agent = new http.Agent({ keepAlive: true, maxSockets: 4, localAddress });
  }

  /** One request; an answer outside `expected` (or a failure) is counted as an error. */
  async request(
    operation: string,
    method: string,
    path: string,
    expected: number[],
    options: { headers?: Record<string, string>; body?: string; stream?: boolean } = {},
  ): Promise<Reply | null> {
    const started = performance.now();
    try {
      const reply = await this.#send(method, path, options.headers ?? {}, options.body);
      const key = `${operation} ${reply.status}`;
      this.#results.answers.set(key, (this.#results.answers.get(key) ?? 0) + 1);
      if (!expected.includes(reply.status)) {
        this.#error(`${method} ${path}: ${reply.status} ${reply.body.slice(0, 300)}`);
        return null;
      }
      return reply;
    } catch (error) {
      this.#error(`${method} ${path}: ${String(error)}`);
      return null;
    } finally {
      const list = this.#results.latencies.get(operation) ?? [];
      list.push(performance.now() - started);
      this.#results.latencies.set(operation, list);
    }
  }

  #error(message: string): void {
    this.#results.errorCount++;
    if (this.#results.errors.length < 20) this.#results.errors.push(`client ${this.#id}: ${message}`);
  }

  #send(method: string, path: string, headers: Record<string, string>, body?: string): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const request = http.request(
        {
          agent: this.#agent,
          host: this.#origin.hostname,
          port: this.#origin.port,
          method,
          path,
          headers: {
            'x-owner': `client-${this.#id}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            ...headers,
          },
          timeout: 90_000,
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () =>
            resolve({
              status: response.statusCode ?? 0,
              headers: response.headers,
              body: Buffer.concat(chunks).toString('utf8'),
            }),
          );
          response.on('error', reject);
        },
      );
      request.on('timeout', () => request.destroy(new Error('timed out')));
      request.on('error', reject);
      request.end(body);
    });
  }

  /** One job, start to end. */
  async cycle(): Promise<void> {
    const n = this.#sequence++;
    const ms = Math.floor(Math.random() * 300);
    const input = JSON.stringify({ ms, client: this.#id });
    const keyed: Record<string, string> = n % 3 === 0 ? { 'idempotency-key': `"c${this.#id}-${n}"` } : {};
    const wait: Record<string, string> = n % 3 === 1 ? { prefer: 'wait=5' } : {};
    const submitted = await this.request('submit', 'POST', '/jobs/work', [202, 303], {
      headers: { ...keyed, ...wait },
      body: input,
    });
    if (!submitted) return;
    const job = JSON.parse(submitted.body) as {
      id: string;
      status: string;
      links: { self: string; events: string };
    };
    if (submitted.status !== 303 && !(await this.#waitFinal(job, n))) return;
    const output = await this.request('output', 'GET', `${job.links.self}/output`, [200]);
    if (output && output.body === JSON.stringify({ ms, client: this.#id })) this.#results.completed++;
    else if (output) this.#error(`output of ${job.id}: ${output.body.slice(0, 200)}`);
    if (n % 5 === 0) await this.request('list', 'GET', '/jobs/work?limit=20', [200]);
    if (keyed['idempotency-key']) {
      const replay = await this.request('replay', 'POST', '/jobs/work', [200, 202], {
        headers: keyed,
        body: input,
      });
      if (replay && replay.headers['idempotent-replayed'] !== 'true')
        this.#error('a replay was not replayed');
    }
    await this.request('delete', 'DELETE', job.links.self, [204]);
  }

  /** Long-polls (with If-None-Match) or streams the job's events until it is final; false on an error. */
  async #waitFinal(job: { links: { self: string; events: string } }, n: number): Promise<boolean> {
    if (n % 4 === 3) {
      const events = await this.request('events', 'GET', job.links.events, [200, 204]);
      return events !== null && /"status":"succeeded"/.test(events.body);
    }
    let etag: string | undefined;
    const giveUp = Date.now() + 60_000;
    for (;;) {
      if (Date.now() > giveUp) {
        this.#error(`${job.links.self} not final after 60 s`);
        return false;
      }
      const headers: Record<string, string> = {
        prefer: 'wait=10',
        ...(etag ? { 'if-none-match': etag } : {}),
      };
      const reply = await this.request('long-poll', 'GET', job.links.self, [200, 303, 304], { headers });
      if (!reply) return false;
      if (reply.status === 303) return true;
      etag = reply.headers.etag ?? etag;
    }
  }

  close(): void {
    this.#agent.destroy();
  }
}

/** Runs `count` clients against `origin` until `until` (epoch ms); each finishes the job it has begun. */
export async function runClients(origin: string, count: number, until: number): Promise<ClientResults> {
  const results: ClientResults = {
    answers: new Map(),
    errors: [],
    errorCount: 0,
    latencies: new Map(),
    completed: 0,
  };
  const clients = Array.from({ length: count }, (_, id) => new Client(origin, id, results));
  await Promise.all(
    clients.map(async (client) => {
      while (Date.now() < until) await client.cycle();
      client.close();
    }),
  );
  return results;
}
