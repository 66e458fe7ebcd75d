// The HTTP suites' client: node:http for requests a fetch would refuse to send (any method, raw paths, bytes that
// are not UTF-8), a bare socket for requests that are not even HTTP, and the checks every answer goes through.
import http from 'node:http';
import net from 'node:net';
import { expect } from 'vitest';

export interface Answer {
  /** 0: the server closed the connection without answering. */
  status: number;
  headers: Record<string, string>;
  text: string;
}

export interface RequestSpec {
  method: string;
  /** Path and query, as sent (not encoded here). */
  path: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** An event stream is read this long, then the request is aborted. Default 1,500 ms. */
  streamMs?: number;
}

/** Sends one request on a connection of its own; the answer's body is read to its end (a stream: for `streamMs`). */
export function send(origin: string, spec: RequestSpec): Promise<Answer> {
  const url = new URL(origin);
  return new Promise<Answer>((resolve, reject) => {
    const request = http.request({
      host: url.hostname,
      port: url.port,
      method: spec.method,
      path: spec.path,
      headers: spec.headers ?? {},
      agent: false,
    });
    request.on('error', reject);
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      let timer: NodeJS.Timeout | undefined;
      const finish = () => {
        clearTimeout(timer);
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(response.headers)) {
          if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
        }
        resolve({ status: response.statusCode ?? 0, headers, text: Buffer.concat(chunks).toString('utf8') });
      };
      if (String(response.headers['content-type']).startsWith('text/event-stream')) {
        timer = setTimeout(() => {
          response.destroy();
          finish();
        }, spec.streamMs ?? 1_500);
      }
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', finish);
      response.on('error', finish); // the stream we cut off
    });
    request.end(spec.body === undefined ? undefined : Buffer.from(spec.body));
  });
}

/** Writes `bytes` on a new connection, half-closes it, and reads what the server answers until it closes. */
export function sendRaw(origin: string, bytes: string | Uint8Array): Promise<Answer> {
  const url = new URL(origin);
  return new Promise<Answer>((resolve) => {
    const socket = net.connect(Number(url.port), url.hostname);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', () => {}); // a reset after the answer: what was read is the answer
    socket.on('close', () => resolve(parseRaw(Buffer.concat(chunks))));
    socket.on('connect', () => socket.end(Buffer.from(bytes)));
  });
}

/** An HTTP/1.1 answer read off a socket (the first one: a server answers a broken request once, then closes). */
export function parseRaw(data: Buffer): Answer {
  // An interim answer (100 Continue) comes before the answer.
  while (/^HTTP\/1\.[01] 1\d\d /.test(data.subarray(0, 16).toString('latin1'))) {
    const interimEnd = data.indexOf('\r\n\r\n');
    if (interimEnd === -1) break;
    data = data.subarray(interimEnd + 4);
  }
  const end = data.indexOf('\r\n\r\n');
  if (end === -1) return { status: 0, headers: {}, text: data.toString('latin1') };
  const [statusLine = '', ...lines] = data.subarray(0, end).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = data.subarray(end + 4);
  if (headers['transfer-encoding']?.toLowerCase() === 'chunked') body = dechunk(body);
  else if (headers['content-length'] !== undefined)
    body = body.subarray(0, Number(headers['content-length']));
  return { status: Number(statusLine.split(' ')[1] ?? 0), headers, text: body.toString('utf8') };
}

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', offset);
    if (lineEnd === -1) break;
    const size = Number.parseInt(data.subarray(offset, lineEnd).toString('latin1'), 16);
    if (!(size > 0)) break;
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    offset = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

/** What no answer may contain: internals an attacker could use. */
const LEAKS: ReadonlyArray<readonly [string, RegExp]> = [
  ['a stack frame', /(?:file:\/\/|node:|\/)[^\s"'()]*:\d+:\d+\)?/],
  ['a source path', /node_modules|(?:\/[\w.@-]+)+\.(?:ts|mts|cts|js|mjs|cjs)\b/],
  ['a JavaScript error', /\b(?:RangeError|TypeError|ReferenceError|Maximum call stack)\b/],
  ['SQL', /\b(?:SELECT\b[^"]*\bFROM|INSERT INTO|UPDATE\b[^"]*\bSET|DELETE FROM|RETURNING)\b/],
  [
    'a database error',
    /\b(?:relation|column) "|syntax error at|violates [\w ]*constraint|SQLSTATE|invalid byte sequence|unsupported Unicode escape|invalid input syntax/i,
  ],
  ['a connection string', /\b(?:postgres(?:ql)?|amqps?|redis|mysql):\/\//i],
  ['a backend address', /\b(?:127\.0\.0\.1|localhost):(?:5432|5672)\b/],
];

/** Fails when the answer (body or any header) shows a stack, a path, SQL, a database error or a connection string. */
export function expectNoLeak(answer: Answer, context: string): void {
  const seen = `${Object.entries(answer.headers)
    .map(([name, value]) => `${name}: ${value}`)
    .join('\n')}\n${answer.text}`;
  for (const [what, pattern] of LEAKS) {
    const match = pattern.exec(seen);
    expect(match, `${context}: the answer shows ${what}: ${match?.[0]}\n${seen.slice(0, 2_000)}`).toBeNull();
  }
}

/**
 * Checks an error answer (4xx or 5xx): `application/problem+json` with the RFC 9457 members, `status` equal to
 * the answer's (a HEAD has no body, only the media type).
 */
export function expectProblem(
  answer: Answer,
  method: string,
  context: string,
): Record<string, unknown> | null {
  expect(answer.headers['content-type'], `${context}: content type of a ${answer.status}`).toMatch(
    /^application\/problem\+json\b/,
  );
  if (method === 'HEAD') return null;
  let problem: Record<string, unknown>;
  try {
    problem = JSON.parse(answer.text) as Record<string, unknown>;
  } catch {
    throw new Error(`${context}: a ${answer.status} whose body is not JSON: ${answer.text.slice(0, 300)}`);
  }
  expect(problem, context).toMatchObject({
    type: expect.stringMatching(/^[a-z][a-z0-9+.-]*:\S+$/i), // an absolute URI (RFC 9457 §3.1.1)
    title: expect.any(String),
    status: answer.status,
    code: expect.any(String),
  });
  return problem;
}
