// Property-based fuzzing of every route (batch submit and schedule lists too) over a real socket: sequences of hostile requests as two owners, each
// answer checked (never a 5xx, errors as problems, nothing leaked) and each owner's jobs compared before and
// after (a rejected request changes nothing, an accepted one is visible).
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bodyBytes, type FuzzRecipe, fuzzRecipe, rawRequest, type Seen } from './fuzz-requests.js';
import { HttpSession } from './session.js';
import { type HttpSuiteFactory, type HttpSuiteTarget, httpSuiteSetup } from './target.js';
import type { Answer } from './wire.js';

export interface HttpFuzzOptions {
  /** Sequences of requests (each 1 to 12 long, as a fresh pair of owners). Default 30, or JOBS_HTTP_FUZZ_RUNS. */
  numRuns?: number;
  /** Malformed raw requests. Default 60, or JOBS_HTTP_FUZZ_RAW_RUNS. */
  rawRuns?: number;
  /** Called with the counts of the fuzzed answers by status (0: closed without one), after the suite. */
  report?: (counts: ReadonlyMap<number, number>) => void;
}

/** What a run has seen, which recipes name by index. */
interface RunState {
  owners: { me: string; other: string };
  /** `endpoint/id` of every job the run created. */
  jobs: string[];
  etags: string[];
  cursors: string[];
}

function pick(state: string[], ref: Seen | undefined): string | undefined {
  if (ref === undefined) return undefined;
  if ('made' in ref) return ref.made;
  return state.length === 0 ? undefined : state[ref.seen % state.length];
}

/** The path (under the mount), headers and body of a recipe, in this run. */
function resolve(recipe: FuzzRecipe, state: RunState) {
  let endpoint = recipe.endpoint;
  let path: string;
  if (recipe.id === null) {
    path = `/${endpoint}${recipe.suffix}`;
  } else {
    const job = 'seen' in recipe.id ? pick(state.jobs, recipe.id) : undefined;
    if (job !== undefined) [endpoint = recipe.endpoint] = job.split('/');
    path = `/${endpoint}/${job?.split('/')[1] ?? ('made' in recipe.id ? recipe.id.made : crypto.randomUUID())}${recipe.suffix}`;
  }
  const params = new URLSearchParams();
  const { status, limit, cursor, extra } = recipe.query;
  if (status !== undefined) params.set('status', status);
  if (limit !== undefined) params.set('limit', limit);
  const cursorValue = pick(state.cursors, cursor);
  if (cursorValue !== undefined) params.set('cursor', cursorValue);
  if (extra !== undefined) params.set(extra, extra);
  const query = params.size > 0 ? `?${params}` : '';
  const headers = { ...recipe.headers };
  const etag = pick(state.etags, recipe.ifNoneMatch);
  if (etag !== undefined && headers['if-none-match'] === undefined) headers['if-none-match'] = etag;
  return { path: `${path}${query}`, headers, endpoint };
}

interface BatchResult {
  status: number;
  job?: { id: string; endpoint: string };
  problem?: { status: number; title: string };
}

/** What the answer of an accepted request says the owner's jobs became; null: unchanged. */
function expectedChange(recipe: FuzzRecipe, answer: Answer, endpoint: string, jobKey: string | undefined) {
  if (recipe.method === 'POST' && [200, 202, 303].includes(answer.status) && recipe.id === null) {
    const body = JSON.parse(answer.text) as { id: string } | { results: BatchResult[] };
    // A batch: the jobs of its accepted items (a replay names a job the owner already has).
    if ('results' in body)
      return { add: body.results.flatMap((result) => (result.job ? [`${endpoint}/${result.job.id}`] : [])) };
    return { add: [`${endpoint}/${body.id}`] };
  }
  if (recipe.method === 'DELETE' && answer.status === 204 && jobKey !== undefined) return { remove: jobKey };
  return null;
}

/**
 * The answers of a batch and of a schedule list, item by item: a batch never refuses an item with a server
 * error, and a refused item is a problem; a list of schedules names only its endpoint's.
 */
function checkListedItems(recipe: FuzzRecipe, answer: Answer, endpoint: string, path: string): void {
  if (answer.status !== 200 || recipe.method === 'HEAD') return;
  if (recipe.method === 'POST' && /^\/[^/?]+\/batch\/?(?:\?|$)/.test(path)) {
    const { results } = JSON.parse(answer.text) as { results: BatchResult[] };
    expect(Array.isArray(results), `POST ${path}: results`).toBe(true);
    for (const result of results) {
      expect(result.status, `POST ${path}: ${JSON.stringify(result)}`).toBeLessThan(500);
      if (result.job) expect(result.job.endpoint).toBe(endpoint);
      else
        expect(result.problem, `POST ${path}: ${JSON.stringify(result)}`).toMatchObject({
          status: result.status,
          title: expect.any(String),
        });
    }
  }
  if (recipe.method === 'GET' && /^\/[^/?]+\/schedules\/?(?:\?|$)/.test(path)) {
    const { schedules } = JSON.parse(answer.text) as { schedules: Array<{ endpoint: string }> };
    expect(Array.isArray(schedules), `GET ${path}: schedules`).toBe(true);
    for (const schedule of schedules) expect(schedule.endpoint).toBe(endpoint);
  }
}

/**
 * Sends one recipe as its owner, checks the answer, and compares the jobs of the run's own owner with what the
 * answer says changed. Returns those jobs (`endpoint/id`, sorted).
 */
async function step(
  session: HttpSession,
  recipe: FuzzRecipe,
  state: RunState,
  mine: string[],
  count: (answer: Answer) => void,
): Promise<string[]> {
  const { path, headers, endpoint } = resolve(recipe, state);
  const owner = state.owners[recipe.owner];
  const body = bodyBytes(recipe.body);
  // Declared, so that no body is read as the next request (node:http sends a HEAD's or GET's without a length).
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
  const answer = await session.request({ method: recipe.method, path, headers, body, owner });
  count(answer);
  if (answer.headers.etag) state.etags.push(answer.headers.etag);
  for (const match of answer.headers.link?.matchAll(/cursor=([^&>]+)/g) ?? []) {
    state.cursors.push(decodeURIComponent(match[1]!));
  }
  checkListedItems(recipe, answer, endpoint, path);
  const jobKey = recipe.id !== null ? path.split(/[/?]/).slice(1, 3).join('/') : undefined;
  const change = recipe.owner === 'me' ? expectedChange(recipe, answer, endpoint, jobKey) : null;
  let expected = mine;
  for (const added of change?.add ?? []) {
    state.jobs.push(added);
    if (!expected.includes(added)) expected = [...expected, added].sort();
    const visible = await session.request({ method: 'GET', path: `/${added}`, owner });
    expect([200, 303], `${added} after ${recipe.method} ${path}`).toContain(visible.status);
  }
  if (change?.remove) expected = mine.filter((job) => job !== change.remove);
  const after = await session.snapshot(state.owners.me);
  expect(after, `${recipe.method} ${path} answered ${answer.status}`).toEqual(expected);
  return expected;
}

/**
 * Property-based fuzzing of every route of the app over a real socket (fast-check): never a 5xx, every error
 * `application/problem+json`, no stack, path, SQL or connection string in any answer, a rejected request
 * changes no job of its owner, an accepted submit is listed and readable, and raw bytes that are not HTTP are
 * answered with problems too. Run it for every repository: `describeHttpFuzz('postgres', factory)`.
 */
export function describeHttpFuzz(
  name: string,
  factory: HttpSuiteFactory,
  options: HttpFuzzOptions = {},
): void {
  const numRuns = options.numRuns ?? Number(process.env.JOBS_HTTP_FUZZ_RUNS ?? 30);
  const rawRuns = options.rawRuns ?? Number(process.env.JOBS_HTTP_FUZZ_RAW_RUNS ?? 60);
  describe(`HTTP fuzz (${name})`, () => {
    let target: HttpSuiteTarget;
    let session: HttpSession;
    const counts = new Map<number, number>();
    const count = (answer: Answer) => counts.set(answer.status, (counts.get(answer.status) ?? 0) + 1);
    beforeAll(async () => {
      target = await factory(httpSuiteSetup());
      session = new HttpSession(target);
    });
    afterAll(async () => {
      options.report?.(counts);
      const line = [...counts.entries()].sort(([a], [b]) => a - b).map(([status, n]) => `${status}: ${n}`);
      const total = [...counts.values()].reduce((sum, n) => sum + n, 0);
      console.log(`HTTP fuzz (${name}): ${total} requests; by status ${line.join(', ')}`);
      await target?.close();
    });

    it(
      'never answers 5xx or leaks, answers errors as problems, and changes only what it accepted',
      async () => {
        await fc.assert(
          fc.asyncProperty(fc.array(fuzzRecipe, { minLength: 1, maxLength: 12 }), async (recipes) => {
            const run = crypto.randomUUID().slice(0, 8);
            const state: RunState = {
              owners: { me: `me-${run}`, other: `other-${run}` },
              jobs: [],
              etags: [],
              cursors: [],
            };
            let mine: string[] = [];
            for (const recipe of recipes) mine = await step(session, recipe, state, mine, count);
          }),
          { numRuns, endOnFailure: true },
        );
      },
      30_000 + numRuns * 1_000,
    );

    it(
      'answers bytes that are not valid HTTP with problems (or closes a truncated request)',
      async () => {
        const host = new URL(session.origin).host;
        await fc.assert(
          fc.asyncProperty(rawRequest(session.mount, host), async (bytes) => {
            const method = bytes.startsWith('HEAD ') ? 'HEAD' : 'RAW';
            count(await session.raw(bytes, JSON.stringify(bytes.slice(0, 200)), method));
          }),
          { numRuns: rawRuns, endOnFailure: true },
        );
      },
      30_000 + rawRuns * 200,
    );
  });
}
