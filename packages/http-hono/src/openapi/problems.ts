// The problem responses (RFC 9457 problem details) of the document: the components and the references
// operations make to them by status.
import { type HeaderComponent, headerRefs, ref } from './refs.js';

/** The problem response component of each status an operation can answer with a problem. */
const PROBLEM_RESPONSES = {
  '400': 'InvalidJson',
  '404': 'NotFound',
  '409': 'NotRetryable',
  '413': 'PayloadTooLarge',
  '415': 'UnsupportedMediaType',
  '422': 'InvalidInput',
  '500': 'InternalError',
  '503': 'Unavailable',
} as const;

export type ProblemStatus = keyof typeof PROBLEM_RESPONSES;

/** The problem responses of an operation: `problemRefs('404', '500')` → `{ '404': {$ref}, '500': {$ref} }`. */
export function problemRefs(...statuses: ProblemStatus[]): Record<string, { $ref: string }> {
  return Object.fromEntries(statuses.map((status) => [status, ref('responses', PROBLEM_RESPONSES[status])]));
}

/** A problem response: `application/problem+json` with the schema `schema`, and maybe headers. */
export function problemResponse(description: string, schema = 'Problem', headers: HeaderComponent[] = []) {
  return {
    description,
    ...(headers.length ? { headers: headerRefs(...headers) } : {}),
    content: { 'application/problem+json': { schema: ref('schemas', schema) } },
  };
}

/** `components.responses`: every problem an operation refers to (a `405` is described in `info`, with `Allow`). */
export function problemResponses(maxBodyBytes: number) {
  return {
    InvalidJson: problemResponse('`invalid-json`: the body is not valid JSON (or not UTF-8, or empty).'),
    NotFound: problemResponse(
      "`not-found`: unknown endpoint, malformed or unknown id, expired or another owner's job.",
    ),
    NotRetryable: problemResponse(
      '`not-retryable`: only a failed or canceled job can be retried; `jobStatus` says what this one is.',
    ),
    PayloadTooLarge: problemResponse(`\`payload-too-large\`: the body exceeds ${maxBodyBytes} bytes.`),
    UnsupportedMediaType: problemResponse(
      '`unsupported-media-type`: send `Content-Type: application/json` (UTF-8, no Content-Encoding).',
    ),
    InvalidInput: problemResponse(
      '`invalid-input` (the input does not match the schema, or a header or query parameter is invalid; `issues` lists the problems) or `idempotency-key-reused` (the key was used with another input).',
      'ValidationProblem',
    ),
    InternalError: problemResponse('`internal`: an unexpected error, logged on the server.'),
    Unavailable: problemResponse(
      '`unavailable`: a backend service is unavailable; retry after `Retry-After`.',
      'Problem',
      ['RetryAfter'],
    ),
  };
}

/** The problem response that `reference` (a `$ref` to a response component) names, without its body: `HEAD`'s. */
export function problemResponseWithoutBody(reference: string, maxBodyBytes: number) {
  const components: Record<string, { description: string; headers?: unknown; content?: unknown }> =
    problemResponses(maxBodyBytes);
  const { content: _body, ...rest } = components[reference.split('/').pop() ?? ''] ?? { description: '' };
  return rest;
}
