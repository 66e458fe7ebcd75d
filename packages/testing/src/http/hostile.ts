// Known hostile requests, each with the answer it must get: the cases a probe by hand found, kept as a contract
// that every repository behind the HTTP front end passes alike.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpSession } from './session.js';
import { type HttpSuiteFactory, type HttpSuiteTarget, httpSuiteSetup } from './target.js';

/** No headers, and a fresh `Idempotency-Key` (whose input hash walks the whole input). */
function withAndWithoutKey(): Array<Record<string, string>> {
  return [{}, { 'idempotency-key': `"k-${crypto.randomUUID()}"` }];
}

/** A keyset cursor as the server makes them (base64url of `[time, id]`), with any time. */
export function craftCursor(time: number, id: string = crypto.randomUUID()): string {
  return btoa(JSON.stringify([time, id]))
    .replaceAll('+', '-')
    .replaceAll('/', '_')
    .replace(/=+$/, '');
}

/** `[[[…]]]` (or `{"a":{"a":…}}`) nested `depth` levels. */
export function nested(depth: number, kind: 'array' | 'object' = 'array'): string {
  return kind === 'array'
    ? `${'['.repeat(depth)}${']'.repeat(depth)}`
    : `${'{"a":'.repeat(depth - 1)}{}${'}'.repeat(depth - 1)}`;
}

/**
 * Known hostile inputs on a real socket: cursors out of the Date range, strings no store can hold, JSON nested
 * too deep, malformed `Idempotency-Key`s, requests node:http rejects before the app. Each is answered with a
 * 4xx problem and stores nothing; what is valid at the edge is accepted and kept intact.
 */
export function describeHttpHostileInputContract(name: string, factory: HttpSuiteFactory): void {
  describe(`HTTP hostile inputs (${name})`, () => {
    let target: HttpSuiteTarget;
    let session: HttpSession;
    beforeAll(async () => {
      target = await factory(httpSuiteSetup());
      session = new HttpSession(target);
    });
    afterAll(async () => {
      await target?.close();
    });
    const owner = () => `hostile-${crypto.randomUUID()}`;

    it('answers 422 to a cursor whose time no store can read (out of 1970–9999), and 200 at the edges', async () => {
      const me = owner();
      const lastOf9999 = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
      for (const time of [
        8.64e15 + 1,
        8.64e15,
        lastOf9999 + 1,
        -1,
        -8.64e15,
        1e20,
        Number.MAX_SAFE_INTEGER,
        2 ** 63,
      ]) {
        const answer = await session.request({
          method: 'GET',
          path: `/echo?cursor=${craftCursor(time)}`,
          owner: me,
        });
        expect(answer.status, `time ${time}`).toBe(422);
        expect(session.json(answer).issues[0].path).toEqual(['cursor']);
      }
      for (const time of [0, Date.now(), lastOf9999]) {
        const answer = await session.request({
          method: 'GET',
          path: `/echo?cursor=${craftCursor(time)}`,
          owner: me,
        });
        expect(answer.status, `time ${time}`).toBe(200);
      }
    });

    it('refuses U+0000 and lone surrogates (422) and bytes that are not UTF-8 (400), storing nothing', async () => {
      const me = owner();
      const refused: Array<[string, string | Uint8Array, number]> = [
        ['echo', '{"text":"a\\u0000b"}', 422],
        ['echo', '{"text":"\\ud800"}', 422],
        ['echo', '{"text":"x\\udc00"}', 422],
        ['json', '{"a\\u0000":1}', 422],
        ['json', '["\\udbff"]', 422],
        ['unknown', '{"deep":{"s":"\\u0000"}}', 422],
        [
          'echo',
          new Uint8Array([
            0x7b, 0x22, 0x74, 0x65, 0x78, 0x74, 0x22, 0x3a, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d,
          ]),
          400,
        ],
        ['echo', '{"text":"a\u0000b"}', 400], // a raw control character in a string: not JSON
      ];
      for (const [endpoint, body, status] of refused) {
        for (const key of withAndWithoutKey()) {
          const answer = await session.post(me, endpoint, body, key);
          expect(answer.status, `${endpoint} ${String(body)}`).toBe(status);
        }
      }
      expect(await session.snapshot(me)).toEqual([]);

      const pair = await session.post(me, 'echo', '{"text":"\\ud83d\\ude00 \u00e9"}', { prefer: 'wait=10' });
      const output = await session.outputOf(me, pair);
      expect(session.json(output)).toEqual({ text: '\u{1f600} \u00e9' });
    });

    it('answers 422 too_deep to JSON nested past the limit, on every endpoint and with an Idempotency-Key', async () => {
      const me = owner();
      const limit = target.maxJsonDepth ?? 64;
      for (const body of [nested(limit + 1), nested(limit + 1, 'object'), nested(5_000), nested(100_000)]) {
        for (const endpoint of ['json', 'unknown', 'echo']) {
          for (const key of withAndWithoutKey()) {
            const answer = await session.post(me, endpoint, body, key);
            expect(answer.status, `${endpoint}, ${body.length} bytes`).toBe(422);
            expect(session.json(answer)).toMatchObject({
              code: 'invalid_input',
              issues: [{ code: 'too_deep' }],
            });
          }
        }
      }
      expect(await session.snapshot(me)).toEqual([]);

      // At the limit: accepted, stored and answered intact.
      const edge = nested(limit);
      const accepted = await session.post(me, 'json', edge, {
        'idempotency-key': '"edge"',
        prefer: 'wait=10',
      });
      const output = await session.outputOf(me, accepted);
      expect(output.text).toBe(edge);
    });

    it('takes an Idempotency-Key only as a Structured Field string (a token, list or empty key is 422)', async () => {
      const me = owner();
      for (const key of [',', 'abc', '"a", "b"', '"a";x=1', '""', '"unterminated', '"é"']) {
        const answer = await session.post(me, 'echo', '{"text":"k"}', { 'idempotency-key': key });
        expect(answer.status, key).toBe(422);
        expect(session.json(answer).issues[0].path).toEqual(['Idempotency-Key']);
      }
      expect(await session.snapshot(me)).toEqual([]);
      const send = () => session.post(me, 'echo', '{"text":"k"}', { 'idempotency-key': '"a,b"' });
      const first = await send();
      const replay = await send();
      expect([first.status, replay.status]).toEqual([202, 202]);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(session.json(replay).id).toBe(session.json(first).id);
    });

    it('answers requests node:http refuses before the app (malformed, headers too large) with problems', async () => {
      const host = `Host: ${new URL(session.origin).host}\r\n`;
      const cases: Array<[string, string, number]> = [
        ['not HTTP', 'GARBAGE\r\n\r\n', 400],
        ['a header line without a colon', `GET ${session.mount}/echo HTTP/1.1\r\n${host}broken\r\n\r\n`, 400],
        [
          'Content-Length and chunked',
          `POST ${session.mount}/echo HTTP/1.1\r\n${host}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
          400,
        ],
        [
          'a bad chunk size',
          `POST ${session.mount}/echo HTTP/1.1\r\n${host}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
          400,
        ],
        ['a space in the path', `GET ${session.mount}/echo x HTTP/1.1\r\n${host}\r\n`, 400],
        ['a URL of 64 KiB', `GET ${session.mount}/echo?${'q'.repeat(65_536)} HTTP/1.1\r\n${host}\r\n`, 431],
        [
          'a header of 64 KiB',
          `GET ${session.mount}/echo HTTP/1.1\r\n${host}X-Big: ${'b'.repeat(65_536)}\r\n\r\n`,
          431,
        ],
      ];
      for (const [what, bytes, status] of cases) {
        const answer = await session.raw(bytes, what);
        expect(answer.status, what).toBe(status);
        expect(answer.headers['content-type'], what).toBe('application/problem+json');
      }
    });
  });
}
