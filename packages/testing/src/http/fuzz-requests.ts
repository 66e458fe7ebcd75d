// The requests the HTTP fuzz sends, as fast-check arbitraries: recipes that name known jobs, cursors and
// entity tags by index, resolved against what the run has seen when the request is sent.
import { JOB_STATUSES } from '@jobs/core';
import fc from 'fast-check';
import { craftCursor, nested } from './hostile.js';
import { HTTP_SUITE_ENDPOINTS } from './target.js';

/** A request body: text, bytes, or JSON nested `nested` levels deep (made when sent: a counterexample stays short). */
export type Body = string | Uint8Array | { nested: number; kind: 'array' | 'object' };

/** The bytes of a {@link Body}. */
export function bodyBytes(body: Body | undefined): string | Uint8Array | undefined {
  return body === undefined || typeof body === 'string' || body instanceof Uint8Array
    ? body
    : nested(body.nested, body.kind);
}

/** A reference to something the run has seen (a job, its tag, a cursor), by index, or a made-up value. */
export type Seen = { seen: number } | { made: string };

export interface FuzzRecipe {
  method: string;
  /** An endpoint name, or anything else (encoded or raw). */
  endpoint: string;
  /** null: the collection (`/{endpoint}`). */
  id: Seen | null;
  /** After the job (`/events`, `/output`) or the collection (`/batch`, `/schedules`), '', or junk. */
  suffix: string;
  query: { status?: string; limit?: string; cursor?: Seen; extra?: string };
  headers: Record<string, string>;
  /** Set: an `If-None-Match` of a seen entity tag (the header wins when both are set). */
  ifNoneMatch?: Seen;
  body?: Body;
  /** The run's own owner, or the other one. */
  owner: 'me' | 'other';
}

const printable = fc.string({ maxLength: 24 });
/** Path-safe junk: percent-encoded anything, or raw visible ASCII without the URL's delimiters. */
const segment = fc.oneof(
  printable.map(encodeURIComponent),
  fc.string({ unit: fc.constantFrom(..."abcXYZ019-._~!$&'()*+,;=:@%"), maxLength: 12 }),
  fc.constantFrom('..', '.', '%2e%2e', '%2F', '%00', 'ECHO', 'echo%20', 'openapi.json', 'docs', ''),
);

const seen = (made: fc.Arbitrary<string>): fc.Arbitrary<Seen> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.nat(50).map((index) => ({ seen: index })) },
    made.map((value) => ({ made: value })),
  );

const uuid = fc.uuid().map((id) => id.toLowerCase());

const cursorTime = fc.oneof(
  fc.integer({ min: -1e16, max: 1e16 }),
  fc.constantFrom(-1, 0, 8.64e15, 8.64e15 + 1, Number.MAX_SAFE_INTEGER, 1e300, 0.5),
  fc.double(),
);
const cursor = seen(
  fc.oneof(
    fc.tuple(cursorTime, uuid).map(([time, id]) => craftCursor(time, id)),
    fc.base64String({ maxLength: 60 }),
    printable,
  ),
);

const query = fc.record(
  {
    status: fc.oneof(fc.constantFrom(...JOB_STATUSES), printable),
    limit: fc.oneof(fc.nat(150).map(String), fc.constantFrom('-1', '0', '1e2', '10000', 'abc', '', '2.5')),
    cursor,
    extra: printable,
  },
  { requiredKeys: [] },
);

const sfString = printable.map((key) => `"${key.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`);
const headers = fc.record(
  {
    'content-type': fc.constantFrom(
      'application/json',
      'application/json; charset=utf-8',
      'application/problem+json',
      'APPLICATION/JSON',
      'application/json; charset=latin1',
      'text/plain',
      'application/x-www-form-urlencoded',
      'application/json;;;',
    ),
    prefer: fc.constantFrom(
      'wait=0',
      'wait=1',
      'wait=2',
      'wait=abc',
      'wait=-1',
      'respond-async',
      'wait=1, wait=0',
    ),
    'idempotency-key': fc.oneof(
      sfString,
      printable,
      fc.constantFrom(',', '', '""', '"a", "b"', '"k";p=1', '"k'),
    ),
    'last-event-id': fc.oneof(fc.nat().map(String), printable),
    'content-encoding': fc.constantFrom('gzip', 'identity', 'br', 'x'),
    'if-none-match': fc.oneof(fc.constantFrom('*', '"x"', 'W/"x"', '"a", "b"'), printable),
    accept: fc.constantFrom('application/json', 'text/event-stream', '*/*', 'text/html'),
  },
  { requiredKeys: [] },
);

const text = (value: unknown) => JSON.stringify(value);
const escapes = fc.constantFrom(
  '\\u0000',
  '\\ud800',
  '\\udfff',
  '\\udbff\\udbff',
  '\\ud83d\\ude00',
  '\\"',
  '\\\\',
);
const body: fc.Arbitrary<Body> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({ text: printable, n: fc.option(fc.nat(1_000), { nil: undefined }) }).map(text),
  },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map(text) },
  {
    weight: 1,
    arbitrary: fc.record({ tag: printable.filter((tag) => tag.length > 0), steps: fc.constant(0) }).map(text),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(printable, escapes)
      .map(([value, escaped]) => `{"text":"${escaped}${value.replace(/["\\]/g, '')}"}`),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      nested: fc.oneof(fc.integer({ min: 60, max: 70 }), fc.constantFrom(5_000, 50_000)),
      kind: fc.constantFrom<'array' | 'object'>('array', 'object'),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom('', ' ', '{', '{"text":', 'null', '[]', '"\\u0000"', '\ufeff{"text":"bom"}'),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 48 }) },
  { weight: 1, arbitrary: printable },
);

const method = fc.oneof(
  { weight: 5, arbitrary: fc.constant('POST') },
  { weight: 5, arbitrary: fc.constant('GET') },
  { weight: 2, arbitrary: fc.constant('DELETE') },
  { weight: 1, arbitrary: fc.constantFrom('HEAD', 'OPTIONS', 'PUT', 'PATCH', 'TRACE', 'PROPFIND') },
);

/** A request of any shape: junk anywhere (method, path, query, headers, body). */
const hostileRecipe: fc.Arbitrary<FuzzRecipe> = fc.record(
  {
    method,
    endpoint: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...HTTP_SUITE_ENDPOINTS) }, segment),
    id: fc.option(
      seen(
        fc.oneof(
          uuid,
          segment,
          uuid.map((id) => id.toUpperCase()),
        ),
      ),
      { nil: null, freq: 3 },
    ),
    suffix: fc.oneof(
      { weight: 5, arbitrary: fc.constant('') },
      { weight: 2, arbitrary: fc.constantFrom('/events', '/output', '/batch', '/schedules') },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          '/',
          '/events/x',
          '/output/',
          '/x',
          '/events%2F',
          '/batch/',
          '/batch/x',
          '/BATCH',
          '/schedules/',
          '/schedules/x',
          '/schedules%2F',
        ),
      },
    ),
    query,
    headers,
    ifNoneMatch: seen(fc.constant('"x"')),
    body,
    owner: fc.constantFrom<'me' | 'other'>('me', 'me', 'me', 'other'),
  },
  { requiredKeys: ['method', 'endpoint', 'id', 'suffix', 'query', 'headers', 'owner'] },
);

const seenJob = fc.nat(50).map((index) => ({ seen: index }));
const waitOrNot = fc.option(fc.constantFrom('wait=0', 'wait=1'), { nil: undefined });
const defined = (entries: Record<string, string | undefined>) =>
  Object.fromEntries(Object.entries(entries).filter(([, value]) => value !== undefined)) as Record<
    string,
    string
  >;

/** A valid input of one of the suite's endpoints. */
const validInput = fc.oneof(
  fc
    .record({ text: printable, n: fc.option(fc.nat(1_000), { nil: undefined }) })
    .map((v) => ['echo', text(v)]),
  fc.jsonValue({ maxDepth: 4 }).map((v) => ['json', text(v)]),
  fc.jsonValue({ maxDepth: 3 }).map((v) => ['unknown', text(v)]),
  printable.filter((tag) => tag.length > 0).map((tag) => ['task', text({ tag, steps: 0 })]),
);

/** The input of a job of `endpoint`, valid or not. */
const batchInput = (endpoint: string): fc.Arbitrary<unknown> =>
  endpoint === 'echo'
    ? fc.oneof(
        {
          weight: 4,
          arbitrary: fc.record({ text: printable, n: fc.option(fc.nat(1_000), { nil: undefined }) }),
        },
        { weight: 1, arbitrary: fc.oneof(fc.record({ text: fc.nat() }), fc.constant({}), fc.jsonValue()) },
      )
    : fc.jsonValue({ maxDepth: 3 });
/** One item of a batch: mostly valid, else refused on its own (a bad field, an unknown one, not an object). */
const batchItem = (endpoint: string): fc.Arbitrary<unknown> =>
  fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record(
        {
          input: batchInput(endpoint),
          // The keys of the single submits' Idempotency-Key headers: an item may replay one of those.
          idempotencyKey: fc.constantFrom('k1', 'k2', 'k3'),
          priority: fc.integer({ min: -1_000, max: 1_000 }),
          delaySeconds: fc.constantFrom(0, 0.001, 1, 3_600),
          runAt: fc.constantFrom('2000-01-01T00:00:00Z', '2999-12-31T23:59:59.999+01:00'),
        },
        { requiredKeys: ['input'] },
      ),
    },
    {
      weight: 1,
      arbitrary: fc.oneof(
        fc.constantFrom(null, 42, 'x', [], {}),
        fc.record({ input: fc.constant({ text: 'a' }), priority: fc.constantFrom(1_001, -1_001, 0.5, '1') }),
        fc.record({ input: fc.constant({ text: 'a' }), delaySeconds: fc.constantFrom(-1, 1e11, 'soon') }),
        fc.record({
          input: fc.constant({ text: 'a' }),
          runAt: fc.constantFrom('yesterday', 0, '2026-13-01T00:00:00Z'),
        }),
        fc.record({
          input: fc.constant({ text: 'a' }),
          runAt: fc.constant('2030-01-01T00:00:00Z'),
          delaySeconds: fc.constant(1),
        }),
        fc.record({
          input: fc.constant({ text: 'a' }),
          idempotencyKey: fc.constantFrom('', 'a b', 'é', 'k'.repeat(300), 1),
        }),
        fc.record({ input: fc.constant({ text: 'a' }), owner: printable }),
      ),
    },
  );

/** A request a client of the API sends: submits (maybe with a key that repeats), reads, waits, lists, deletes. */
const validRecipe: fc.Arbitrary<FuzzRecipe> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .record({
        input: validInput,
        prefer: waitOrNot,
        key: fc.option(fc.constantFrom('"k1"', '"k2"', '"k3"'), { nil: undefined }),
        owner: fc.constantFrom<'me' | 'other'>('me', 'me', 'me', 'other'),
      })
      .map(({ input: [endpoint, body], prefer, key, owner }) => ({
        method: 'POST',
        endpoint: endpoint!,
        id: null,
        suffix: '',
        query: {},
        headers: defined({ 'content-type': 'application/json', prefer, 'idempotency-key': key }),
        body,
        owner,
      })),
  },
  {
    weight: 4,
    arbitrary: fc
      .record({
        method: fc.constantFrom('GET', 'GET', 'HEAD', 'DELETE'),
        id: seenJob,
        suffix: fc.constantFrom('', '', '/output', '/events'),
        prefer: waitOrNot,
        lastEventId: fc.option(fc.nat().map(String), { nil: undefined }),
        ifNoneMatch: fc.option(seenJob, { nil: undefined }),
        owner: fc.constantFrom<'me' | 'other'>('me', 'me', 'me', 'other'),
      })
      .map(({ method, id, suffix, prefer, lastEventId, ifNoneMatch, owner }) => ({
        method,
        endpoint: 'echo',
        id,
        suffix: method === 'DELETE' ? '' : suffix,
        query: {},
        headers: defined({ prefer, 'last-event-id': lastEventId }),
        ...(ifNoneMatch ? { ifNoneMatch } : {}),
        owner,
      })),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({
        endpoint: fc.constantFrom(...HTTP_SUITE_ENDPOINTS),
        status: fc.option(fc.constantFrom(...JOB_STATUSES), { nil: undefined }),
        limit: fc.option(fc.integer({ min: 1, max: 100 }).map(String), { nil: undefined }),
        cursor: fc.option(
          fc.nat(50).map((index) => ({ seen: index })),
          { nil: undefined },
        ),
      })
      .map(({ endpoint, status, limit, cursor }) => ({
        method: 'GET',
        endpoint,
        id: null,
        suffix: '',
        query: { ...(status ? { status } : {}), ...(limit ? { limit } : {}), ...(cursor ? { cursor } : {}) },
        headers: {},
        owner: 'me' as const,
      })),
  },
);

/** `POST /{endpoint}/batch` as a client sends it: valid items beside refused ones, keys that repeat. */
const batchRecipe: fc.Arbitrary<FuzzRecipe> = fc
  .constantFrom('echo', 'json', 'unknown')
  .chain((endpoint) =>
    fc.record({
      endpoint: fc.constant(endpoint),
      items: fc.array(batchItem(endpoint), { maxLength: 6 }),
      owner: fc.constantFrom<'me' | 'other'>('me', 'me', 'me', 'other'),
    }),
  )
  .map(({ endpoint, items, owner }) => ({
    method: 'POST',
    endpoint,
    id: null,
    suffix: '/batch',
    query: {},
    headers: { 'content-type': 'application/json' },
    body: text({ jobs: items }),
    owner,
  }));

/** `GET` or `HEAD /{endpoint}/schedules`. */
const schedulesRecipe: fc.Arbitrary<FuzzRecipe> = fc
  .record({
    method: fc.constantFrom('GET', 'GET', 'HEAD'),
    endpoint: fc.constantFrom(...HTTP_SUITE_ENDPOINTS),
    owner: fc.constantFrom<'me' | 'other'>('me', 'other'),
  })
  .map(({ method, endpoint, owner }) => ({
    method,
    endpoint,
    id: null,
    suffix: '/schedules',
    query: {},
    headers: {},
    owner,
  }));

/** One fuzzed request: as a client sends them, or hostile. */
export const fuzzRecipe: fc.Arbitrary<FuzzRecipe> = fc.oneof(
  { weight: 3, arbitrary: validRecipe },
  { weight: 1, arbitrary: fc.oneof(batchRecipe, schedulesRecipe) },
  { weight: 2, arbitrary: hostileRecipe },
);

const token = fc.string({
  unit: fc.constantFrom(...'GETPOSTDELabc!#$%&*+-.^_`|~019'),
  minLength: 1,
  maxLength: 8,
});
const junkLine = fc.oneof(
  fc.constantFrom(
    'broken',
    ' folded: value',
    'Bad Name: x',
    'X-Ctl: a\u0001b',
    'Content-Length: -1',
    'Content-Length: 1e3',
    'Content-Length: 3, 4',
    'Transfer-Encoding: chunked, gzip',
    'Transfer-Encoding: identity',
    'Host: a b',
    'Host: exa\\mple',
    'Expect: 200-ok',
    'Expect: 100-continue',
    `X-Big: ${'b'.repeat(20_000)}`,
  ),
  fc.tuple(token, fc.string({ maxLength: 20 })).map(([name, value]) => `${name}: ${value}`),
);

/** A request that may not be HTTP at all, as the bytes to write (each on a connection of its own). */
export function rawRequest(mount: string, host: string): fc.Arbitrary<string> {
  return fc
    .record({
      method: fc.oneof(fc.constantFrom('GET', 'POST', 'DELETE', 'HEAD'), token),
      path: fc.oneof(
        fc.constantFrom(
          `${mount}/echo`,
          `${mount}/echo/${crypto.randomUUID()}`,
          `${mount}\\echo`,
          '*',
          'http://x/y',
        ),
        fc.string({ maxLength: 30 }).map((path) => `${mount}/${path}`),
      ),
      version: fc.constantFrom('HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/9.9', 'http/1.1', ''),
      host: fc.boolean(),
      lines: fc.array(junkLine, { maxLength: 3 }),
      body: fc.constantFrom('', '{"text":"raw"}', '0\r\n\r\n', 'zz\r\n{}\r\n0\r\n\r\n'),
    })
    .map(({ method, path, version, host: withHost, lines, body }) => {
      const head = [
        `${method} ${path} ${version}`.trimEnd(),
        ...(withHost ? [`Host: ${host}`] : []),
        ...lines,
      ];
      if (body !== '' && !lines.some((line) => /^(content-length|transfer-encoding):/i.test(line))) {
        head.push(`Content-Length: ${body.length}`);
      }
      return `${head.join('\r\n')}\r\n\r\n${body}`;
    });
}
