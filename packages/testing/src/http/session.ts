// One HTTP suite's connection to its server: requests as an owner, each answer checked against what every
// answer must be, the status counts, and what an owner's lists show.
import { expect } from 'vitest';
import { HTTP_SUITE_ENDPOINTS, type HttpSuiteTarget, OWNER_HEADER } from './target.js';
import { type Answer, expectNoLeak, expectProblem, type RequestSpec, send, sendRaw } from './wire.js';

export interface SessionRequest extends RequestSpec {
  /** Sent as {@link OWNER_HEADER}; null: no owner header. */
  owner: string | null;
}

export class HttpSession {
  readonly target: HttpSuiteTarget;
  readonly origin: string;
  /** The mount path (`/jobs`). */
  readonly mount: string;
  /** Answers seen, by status (0: the connection closed without one). */
  readonly statuses = new Map<number, number>();

  constructor(target: HttpSuiteTarget) {
    this.target = target;
    const url = new URL(target.base);
    this.origin = url.origin;
    this.mount = url.pathname.replace(/\/$/, '');
  }

  /** Sends a request to `mount + path` and checks the answer: never a 5xx, errors as problems, nothing leaked. */
  async request(spec: SessionRequest): Promise<Answer> {
    const headers = { ...spec.headers };
    if (spec.owner !== null) headers[OWNER_HEADER] = spec.owner;
    const answer = await send(this.origin, { ...spec, path: `${this.mount}${spec.path}`, headers });
    this.check(answer, spec.method, `${spec.method} ${spec.path}`);
    return answer;
  }

  /** Writes raw bytes on a connection of their own and checks the answer like {@link request}'s. */
  async raw(bytes: string | Uint8Array, context: string, method = 'RAW'): Promise<Answer> {
    const answer = await sendRaw(this.origin, bytes);
    this.check(answer, method, context);
    return answer;
  }

  check(answer: Answer, method: string, context: string): void {
    this.statuses.set(answer.status, (this.statuses.get(answer.status) ?? 0) + 1);
    expect(answer.status, `${context}: never a server error\n${answer.text.slice(0, 500)}`).toBeLessThan(500);
    // The OpenAPI document and the reference page are static documents (prose, a bundled script): what no
    // answer may show is looked for in every other one.
    const staticDocument =
      answer.status === 200 &&
      (answer.headers['content-type']?.startsWith('text/html') || /\/openapi\.json(?:\?|$)/.test(context));
    if (!staticDocument) expectNoLeak(answer, context);
    if (answer.status >= 400) expectProblem(answer, method, context);
  }

  /** POSTs a JSON text (or bytes) to `/{endpoint}` as `owner`, with `Content-Type: application/json`. */
  post(
    owner: string | null,
    endpoint: string,
    body: string | Uint8Array,
    headers: Record<string, string> = {},
  ) {
    return this.request({
      method: 'POST',
      path: `/${endpoint}`,
      owner,
      headers: { 'content-type': 'application/json', ...headers },
      body,
    });
  }

  /** Follows the `Location` of a `303` to the output, as `owner`. */
  async outputOf(owner: string | null, answer: Answer): Promise<Answer> {
    expect(answer.status, answer.text.slice(0, 300)).toBe(303);
    const path = new URL(answer.headers.location!, this.origin).pathname.slice(this.mount.length);
    return this.request({ method: 'GET', path, owner });
  }

  /** JSON of an answer, failing with the answer when it is not JSON. */
  json<T = any>(answer: Answer): T {
    try {
      return JSON.parse(answer.text) as T;
    } catch {
      throw new Error(`Expected JSON, got ${answer.status}: ${answer.text.slice(0, 300)}`);
    }
  }

  /** The ids of an owner's jobs of one endpoint, every page. */
  async ids(owner: string | null, endpoint: string): Promise<string[]> {
    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
      const answer = await this.request({ method: 'GET', path: `/${endpoint}?limit=100${query}`, owner });
      expect(answer.status).toBe(200);
      const page = this.json<{ jobs: Array<{ id: string }>; nextCursor: string | null }>(answer);
      ids.push(...page.jobs.map((job) => job.id));
      cursor = page.nextCursor;
    } while (cursor !== null);
    return ids;
  }

  /** Every job id of an owner, as `endpoint/id`, sorted. */
  async snapshot(owner: string | null): Promise<string[]> {
    const all: string[] = [];
    for (const endpoint of HTTP_SUITE_ENDPOINTS) {
      for (const id of await this.ids(owner, endpoint)) all.push(`${endpoint}/${id}`);
    }
    return all.sort();
  }

  /** The status counts as one line: `200: 12, 202: 40, …`. */
  describeStatuses(): string {
    return [...this.statuses.entries()]
      .sort(([a], [b]) => a - b)
      .map(([status, count]) => `${status}: ${count}`)
      .join(', ');
  }
}
