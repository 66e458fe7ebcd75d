// The parameter and header components of the document.
import { MAX_PRIORITY, MAX_UNIQUE_KEY_LENGTH, MIN_PRIORITY } from '@jobs/core';
import { type JsonSchema, ref } from './refs.js';

/** `components.parameters`. */
export function parameters(maxWaitSeconds: number) {
  return {
    JobId: {
      name: 'id',
      in: 'path',
      required: true,
      description: 'Job id.',
      schema: { type: 'string', format: 'uuid' },
    },
    Prefer: {
      name: 'Prefer',
      in: 'header',
      required: false,
      description: `RFC 7240. \`wait=N\` waits up to N seconds (capped at ${maxWaitSeconds}); \`Preference-Applied\` tells the wait honoured.`,
      schema: { type: 'string', examples: ['wait=10'] },
    },
    IfNoneMatch: {
      name: 'If-None-Match',
      in: 'header',
      required: false,
      description:
        'RFC 9110: the `ETag` of the job state last seen (or a list of them, or `*`; weak comparison). Answers 304 while the job is in that state; with `Prefer: wait=N`, waits until it is not.',
      schema: { type: 'string', examples: ['"1767607201250-1x2y3z4a5b"'] },
    },
    IdempotencyKey: {
      name: 'Idempotency-Key',
      in: 'header',
      required: false,
      description:
        'A Structured Field string (`"key"`, RFC 8941; a bare token, a list or an empty key is refused with 422), 1–255 visible ASCII characters, unique per intended job.',
      schema: { type: 'string', examples: ['"8e03978e-40d5-43e8-bc93-6894a57f9324"'] },
    },
    JobRunAt: {
      name: 'Job-Run-At',
      in: 'header',
      required: false,
      description:
        'Do not start the job before this time: an RFC 3339 date-time with `Z` or an offset. A time in the past starts it at once. Excludes `Job-Delay`; an invalid value answers 422 naming the header.',
      schema: { type: 'string', format: 'date-time', examples: ['2026-01-05T10:00:00Z'] },
    },
    JobDelay: {
      name: 'Job-Delay',
      in: 'header',
      required: false,
      description:
        "Do not start the job before this many seconds from now (by the server's clock): a non-negative decimal with at most 3 decimals, such as `90` or `0.25`. Excludes `Job-Run-At`; an invalid value answers 422 naming the header.",
      schema: { type: 'string', pattern: '^[0-9]{1,10}(\\.[0-9]{1,3})?$', examples: ['90', '0.25'] },
    },
    JobPriority: {
      name: 'Job-Priority',
      in: 'header',
      required: false,
      description: `The job's priority, an integer from ${MIN_PRIORITY} to ${MAX_PRIORITY}: among due jobs of the endpoint, a higher one is started first. Default: the endpoint's (0 unless it sets another).`,
      schema: { type: 'integer', minimum: MIN_PRIORITY, maximum: MAX_PRIORITY, examples: [10] },
    },
    JobUniqueKey: {
      name: 'Job-Unique-Key',
      in: 'header',
      required: false,
      description: `The job's unique key (1 to ${MAX_UNIQUE_KEY_LENGTH} printable ASCII characters; replaces the endpoint's own): while a queued or running job of this endpoint and owner holds it, the submit stores nothing and answers that job with \`Job-Unique-Match: existing\`. A final or deleted job holds its key no more.`,
      schema: {
        type: 'string',
        minLength: 1,
        maxLength: MAX_UNIQUE_KEY_LENGTH,
        examples: ['report-2026-01'],
      },
    },
    StatusFilter: {
      name: 'status',
      in: 'query',
      required: false,
      schema: ref('schemas', 'JobStatus'),
    },
    Limit: {
      name: 'limit',
      in: 'query',
      required: false,
      description: 'Page size.',
      schema: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
    },
    Cursor: {
      name: 'cursor',
      in: 'query',
      required: false,
      description: '`nextCursor` of the previous page.',
      schema: { type: 'string' },
    },
    LastEventId: {
      name: 'Last-Event-ID',
      in: 'header',
      required: false,
      description: 'Sent by a reconnecting EventSource.',
      schema: { type: 'string' },
    },
  };
}

/** `components.headers`; `HEADER_NAMES` in refs.ts says which response header each one describes. */
export function headers() {
  const header = (description: string, schema: JsonSchema) => ({ description, schema });
  return {
    Location: header('The job URL.', { type: 'string', format: 'uri-reference' }),
    OperationLocation: header(
      'The job URL, as the status monitor of the Azure REST API guidelines (clients such as `@azure/core-lro` poll it and read `status`). A path, like `Location`: resolve it against the request URL.',
      { type: 'string', format: 'uri-reference' },
    ),
    OutputLocation: header("The job's output URL.", { type: 'string', format: 'uri-reference' }),
    ContentLocation: header('The URL of the job the body represents.', {
      type: 'string',
      format: 'uri-reference',
    }),
    RetryAfter: header('Seconds to wait before polling (or retrying) again.', {
      type: 'integer',
      minimum: 0,
    }),
    ETag: header(
      'RFC 9110 entity tag of the job state (`"<updatedAt epoch ms>-<fingerprint>"`; opaque to clients). It changes with every change of the job; send it back in `If-None-Match`.',
      { type: 'string' },
    ),
    PreferenceApplied: header('RFC 7240: the `wait=N` that was honoured.', { type: 'string' }),
    IdempotentReplayed: header('`true` when an Idempotency-Key replay returned an existing job.', {
      type: 'string',
      enum: ['true'],
    }),
    UniqueMatch: header(
      "`existing` when the job holding the unique key (`Job-Unique-Key` or the endpoint's) was returned: nothing new was stored.",
      { type: 'string', enum: ['existing'] },
    ),
    Vary: header('`Prefer`: the answer depends on the wait preference.', { type: 'string' }),
    Link: header('RFC 8288 link to the next page (`rel="next"`).', { type: 'string' }),
    CacheControl: header('`no-store`: job state changes.', { type: 'string' }),
  };
}
