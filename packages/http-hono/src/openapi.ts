import { type Endpoint, JOB_STATUSES } from '@jobs/core';
import { z } from 'zod';

export interface OpenApiOptions {
  /** info.title. Default "Jobs API". */
  title?: string;
  /** info.version. Default "1.0.0". */
  version?: string;
  /** info.description (CommonMark). A description of the asynchronous job contract is appended. */
  description?: string;
  /** servers; default one server whose URL is the mount path the document was requested under. */
  servers?: Array<{ url: string; description?: string }>;
  /** Path of the interactive reference page under the mount, or false for none. Default "/docs". */
  docsPath?: string | false;
}

type JsonSchema = Record<string, unknown>;

export interface OpenApiBuildOptions extends OpenApiOptions {
  endpoints: readonly Endpoint[];
  basePath: string;
  maxWaitSeconds: number;
  maxBodyBytes: number;
  docsPath: string | false;
}

const CONTRACT = `
Asynchronous jobs: \`POST /{endpoint}\` stores a job and answers \`202 Accepted\` with its URL in
\`Location\`. Poll the job URL (honouring \`Retry-After\`) or long-poll it with \`Prefer: wait=N\`, sending the last
\`ETag\` seen in \`If-None-Match\` so that the server answers as soon as the job is in another state (\`304\` when
it is not); once the job succeeded, the job URL answers \`303 See Other\` to its output. Read the output, then \`DELETE\` the job.
\`GET /{endpoint}/{id}/events\` streams the job's changes as Server-Sent Events.

Every error is \`application/problem+json\` (RFC 9457) with a stable \`type\` URI and a \`code\`.
A method a resource does not support answers \`405\` with \`Allow\`.`;

/** Builds the OpenAPI 3.1 document of the given endpoints, their schemas converted with `z.toJSONSchema`. */
export function buildOpenApiDocument(options: OpenApiBuildOptions): Record<string, unknown> {
  const schemas: Record<string, JsonSchema> = { ...baseSchemas() };
  const paths: Record<string, unknown> = {};
  const tags: Array<{ name: string; description?: string }> = [];

  for (const endpoint of options.endpoints) {
    const base = pascal(endpoint.name);
    const inputName = `${base}Input`;
    const outputName = `${base}Output`;
    addZodSchema(schemas, inputName, endpoint.input, 'input');
    addZodSchema(schemas, outputName, endpoint.output, 'output');
    tags.push({
      name: endpoint.name,
      ...(endpoint.description ? { description: endpoint.description } : {}),
    });
    const name = endpoint.name;
    const collection = `/${name}`;
    const item = `/${name}/{id}`;
    const tag = [name];
    paths[collection] = {
      post: {
        tags: tag,
        operationId: `submit${base}`,
        summary: `Submit a ${name} job`,
        description: [
          endpoint.description,
          `Validates the input against the ${name} schema, stores the job and answers 202 with the job.`,
          `\`Prefer: wait=N\` waits up to N seconds (at most ${options.maxWaitSeconds}) for a final state and`,
          'answers 303 to the output when the job succeeded in time.',
          '`Idempotency-Key` makes retries safe: the same key with the same input returns the original job',
          '(202, `Idempotent-Replayed: true`); with another input it answers 422; while the original request',
          `is still being processed, 409. Bodies over ${options.maxBodyBytes} bytes answer 413.`,
        ]
          .filter(Boolean)
          .join(' '),
        parameters: [ref('parameters', 'Prefer'), ref('parameters', 'IdempotencyKey')],
        requestBody: {
          required: true,
          content: { 'application/json': { schema: ref('schemas', inputName) } },
        },
        responses: {
          '200': {
            description:
              'The job already failed or was canceled (during `Prefer: wait=N`, or on an Idempotency-Key replay); `error` says why.',
            headers: {
              Location: ref('headers', 'Location'),
              'Content-Location': ref('headers', 'ContentLocation'),
              ETag: ref('headers', 'ETag'),
              'Preference-Applied': ref('headers', 'PreferenceApplied'),
              'Idempotent-Replayed': ref('headers', 'IdempotentReplayed'),
              Vary: ref('headers', 'Vary'),
            },
            content: { 'application/json': { schema: ref('schemas', 'Job') } },
          },
          '202': {
            description: 'Job accepted (or replayed for a known Idempotency-Key).',
            headers: {
              Location: ref('headers', 'Location'),
              'Content-Location': ref('headers', 'ContentLocation'),
              ETag: ref('headers', 'ETag'),
              'Retry-After': ref('headers', 'RetryAfter'),
              'Preference-Applied': ref('headers', 'PreferenceApplied'),
              'Idempotent-Replayed': ref('headers', 'IdempotentReplayed'),
              Vary: ref('headers', 'Vary'),
            },
            content: { 'application/json': { schema: ref('schemas', 'Job') } },
          },
          '303': {
            description: 'With `Prefer: wait=N`: the job succeeded in time; `Location` is its output.',
            headers: {
              Location: ref('headers', 'OutputLocation'),
              'Content-Location': ref('headers', 'ContentLocation'),
              ETag: ref('headers', 'ETag'),
              'Preference-Applied': ref('headers', 'PreferenceApplied'),
              'Idempotent-Replayed': ref('headers', 'IdempotentReplayed'),
              Vary: ref('headers', 'Vary'),
            },
            content: { 'application/json': { schema: ref('schemas', 'Job') } },
          },
          '400': ref('responses', 'InvalidJson'),
          '404': ref('responses', 'NotFound'),
          '409': ref('responses', 'IdempotencyInProgress'),
          '413': ref('responses', 'PayloadTooLarge'),
          '415': ref('responses', 'UnsupportedMediaType'),
          '422': ref('responses', 'InvalidInput'),
          '500': ref('responses', 'InternalError'),
          '503': ref('responses', 'Unavailable'),
        },
      },
      get: {
        tags: tag,
        operationId: `list${base}`,
        summary: `List ${name} jobs`,
        description:
          'The caller\'s jobs of this endpoint, newest first. Follow `nextCursor` (or the `Link: rel="next"` header) for the next page.',
        parameters: [
          ref('parameters', 'StatusFilter'),
          ref('parameters', 'Limit'),
          ref('parameters', 'Cursor'),
        ],
        responses: {
          '200': {
            description: 'One page of jobs.',
            headers: { Link: ref('headers', 'Link'), 'Cache-Control': ref('headers', 'CacheControl') },
            content: { 'application/json': { schema: ref('schemas', 'JobList') } },
          },
          '404': ref('responses', 'NotFound'),
          '422': ref('responses', 'InvalidInput'),
          '500': ref('responses', 'InternalError'),
          '503': ref('responses', 'Unavailable'),
        },
      },
    };
    paths[item] = {
      parameters: [ref('parameters', 'JobId')],
      get: {
        tags: tag,
        operationId: `get${base}Job`,
        summary: `Get a ${name} job`,
        description: [
          'Queued or running: 200 with `Retry-After`. Succeeded: 303 to the output, the job in the body.',
          "Failed or canceled: 200 with `error`. Unknown, expired or another owner's: 404.",
          `\`Prefer: wait=N\` long-polls: answers as soon as the job changes, or after N seconds (at most ${options.maxWaitSeconds}).`,
          'Every answer carries the `ETag` of the job state. With `If-None-Match` set to the last `ETag` seen, the',
          'answer is 304 while the job is still in that state; with `Prefer: wait=N` as well, the request waits until',
          'the state differs from that one (at once if it already does) and answers 200/303 with the new state, or',
          '304 when the wait ended with no change, so that no change between two long-polls is missed.',
        ].join(' '),
        parameters: [ref('parameters', 'Prefer'), ref('parameters', 'IfNoneMatch')],
        responses: {
          '200': {
            description: 'The job is queued, running, failed or canceled.',
            headers: {
              ETag: ref('headers', 'ETag'),
              'Retry-After': ref('headers', 'RetryAfter'),
              'Cache-Control': ref('headers', 'CacheControl'),
              'Preference-Applied': ref('headers', 'PreferenceApplied'),
              Vary: ref('headers', 'Vary'),
            },
            content: { 'application/json': { schema: ref('schemas', 'Job') } },
          },
          '303': {
            description: 'The job succeeded; `Location` is its output.',
            headers: {
              Location: ref('headers', 'OutputLocation'),
              ETag: ref('headers', 'ETag'),
              'Cache-Control': ref('headers', 'CacheControl'),
              'Preference-Applied': ref('headers', 'PreferenceApplied'),
              Vary: ref('headers', 'Vary'),
            },
            content: { 'application/json': { schema: ref('schemas', 'Job') } },
          },
          '304': {
            description:
              'Not Modified: `If-None-Match` matches the job state (with `Prefer: wait=N`: it still did when the wait ended). No body.',
            headers: {
              ETag: ref('headers', 'ETag'),
              'Retry-After': ref('headers', 'RetryAfter'),
              'Cache-Control': ref('headers', 'CacheControl'),
              'Preference-Applied': ref('headers', 'PreferenceApplied'),
              Vary: ref('headers', 'Vary'),
            },
          },
          '404': ref('responses', 'NotFound'),
          '500': ref('responses', 'InternalError'),
          '503': ref('responses', 'Unavailable'),
        },
      },
      delete: {
        tags: tag,
        operationId: `delete${base}Job`,
        summary: `Cancel or remove a ${name} job`,
        description:
          'Queued: canceled at once (200). Running: cancel requested, the worker is signalled (202). Final: removed (204). Unknown: 404.',
        responses: {
          '200': {
            description: 'The queued job was canceled.',
            headers: { ETag: ref('headers', 'ETag') },
            content: { 'application/json': { schema: ref('schemas', 'Job') } },
          },
          '202': {
            description: 'The job is running; cancellation was requested.',
            headers: { ETag: ref('headers', 'ETag'), 'Retry-After': ref('headers', 'RetryAfter') },
            content: { 'application/json': { schema: ref('schemas', 'Job') } },
          },
          '204': { description: 'The finished job was removed.' },
          '404': ref('responses', 'NotFound'),
          '500': ref('responses', 'InternalError'),
          '503': ref('responses', 'Unavailable'),
        },
      },
    };
    paths[`${item}/events`] = {
      parameters: [ref('parameters', 'JobId')],
      get: {
        tags: tag,
        operationId: `stream${base}Events`,
        summary: `Stream a ${name} job's changes`,
        description:
          'Server-Sent Events: the current state at once, then one event per change, named `status` or `progress`, with `id:` (the update time in epoch ms) and the job JSON as `data`; `: heartbeat` comments while idle; closed after the event of a final state. An `error` event (problem JSON) ends the stream if the job disappears or the backend fails.',
        parameters: [ref('parameters', 'LastEventId')],
        responses: {
          '200': {
            description: 'An event stream.',
            headers: { 'Cache-Control': ref('headers', 'CacheControl') },
            content: {
              'text/event-stream': {
                schema: { type: 'string', description: 'Events whose `data` is a Job.' },
                example:
                  'event: status\nid: 1717171717000\ndata: {"id":"…","status":"running",…}\n\nevent: progress\nid: 1717171718000\ndata: {"id":"…","status":"running","progress":{"fraction":0.5},…}\n\n',
              },
            },
          },
          '204': {
            description:
              'A reconnecting client (`Last-Event-ID`) already received the final event: nothing more will come.',
          },
          '404': ref('responses', 'NotFound'),
          '500': ref('responses', 'InternalError'),
          '503': ref('responses', 'Unavailable'),
        },
      },
    };
    paths[`${item}/output`] = {
      parameters: [ref('parameters', 'JobId')],
      get: {
        tags: tag,
        operationId: `get${base}Output`,
        summary: `Get a ${name} job's output`,
        description:
          'The output of a succeeded job. A job not finished yet answers 404 `output-not-ready`; a failed or canceled one 404 `output-not-available`.',
        responses: {
          '200': {
            description: 'The output.',
            headers: { 'Cache-Control': ref('headers', 'CacheControl') },
            content: { 'application/json': { schema: ref('schemas', outputName) } },
          },
          '404': {
            description:
              'Unknown job (`not-found`), not finished yet (`output-not-ready`), or failed/canceled (`output-not-available`).',
            content: { 'application/problem+json': { schema: ref('schemas', 'Problem') } },
          },
          '500': ref('responses', 'InternalError'),
          '503': ref('responses', 'Unavailable'),
        },
      },
    };
  }

  paths['/openapi.json'] = {
    get: {
      tags: ['meta'],
      operationId: 'getOpenApiDocument',
      summary: 'This OpenAPI document',
      responses: {
        '200': {
          description: 'OpenAPI 3.1 document.',
          content: { 'application/json': { schema: { type: 'object' } } },
        },
      },
    },
  };
  if (options.docsPath) {
    paths[options.docsPath] = {
      get: {
        tags: ['meta'],
        operationId: 'getApiReference',
        summary: 'Interactive API reference',
        responses: {
          '200': { description: 'HTML page.', content: { 'text/html': { schema: { type: 'string' } } } },
        },
      },
    };
  }
  tags.push({ name: 'meta', description: 'The API description itself.' });

  return {
    openapi: '3.1.0',
    info: {
      title: options.title ?? 'Jobs API',
      version: options.version ?? '1.0.0',
      description: [options.description, CONTRACT.trim()].filter(Boolean).join('\n\n'),
    },
    servers: options.servers ?? [{ url: options.basePath || '/' }],
    tags,
    paths,
    components: {
      schemas,
      parameters: parameters(options.maxWaitSeconds),
      headers: headers(),
      responses: responses(options.maxBodyBytes),
    },
  };
}

function ref(kind: string, name: string) {
  return { $ref: `#/components/${kind}/${name}` };
}

/** `make-thumbnail` → `MakeThumbnail`. */
export function pascal(name: string): string {
  return name
    .split(/[-_]+/)
    .filter(Boolean)
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join('');
}

/**
 * Converts a zod schema and stores it as `components.schemas[name]`. The `$defs` zod emits (for schemas
 * with an id, or recursive ones) become components of their own, and their `$ref`s are rewritten, since in
 * an OpenAPI document `#` means the document, not the schema.
 */
function addZodSchema(
  schemas: Record<string, JsonSchema>,
  name: string,
  schema: z.ZodType,
  io: 'input' | 'output',
): void {
  let converted: JsonSchema;
  try {
    converted = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as JsonSchema;
  } catch (error) {
    converted = {
      description: `This schema cannot be expressed in JSON Schema (${error instanceof Error ? error.message : String(error)}).`,
    };
  }
  const { $schema: _dialect, $defs, ...root } = converted;
  const definitions = ($defs ?? {}) as Record<string, JsonSchema>;
  const rename = (def: string) => `${name}_${def.replace(/[^A-Za-z0-9._-]/g, '_')}`;
  const rewrite = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(rewrite);
    if (value === null || typeof value !== 'object') return value;
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) {
      if (key === '$ref' && typeof inner === 'string') {
        if (inner === '#') out[key] = `#/components/schemas/${name}`;
        else if (inner.startsWith('#/$defs/')) out[key] = `#/components/schemas/${rename(inner.slice(8))}`;
        else out[key] = inner;
      } else {
        out[key] = rewrite(inner);
      }
    }
    return out;
  };
  schemas[name] = rewrite(root) as JsonSchema;
  for (const [def, body] of Object.entries(definitions)) schemas[rename(def)] = rewrite(body) as JsonSchema;
}

const dateTime = { type: 'string', format: 'date-time' };
const nullableDateTime = { type: ['string', 'null'], format: 'date-time' };

function baseSchemas(): Record<string, JsonSchema> {
  return {
    JobStatus: { type: 'string', enum: [...JOB_STATUSES] },
    JobProgress: {
      type: 'object',
      required: ['fraction'],
      properties: {
        fraction: { type: 'number', minimum: 0, maximum: 1 },
        message: { type: 'string' },
      },
    },
    Job: {
      type: 'object',
      description: 'A job. The input is not echoed.',
      required: [
        'id',
        'endpoint',
        'status',
        'createdAt',
        'updatedAt',
        'startedAt',
        'finishedAt',
        'expiresAt',
        'estimatedCompletionAt',
        'attempt',
        'maxAttempts',
        'progress',
        'error',
        'cancelRequested',
        'links',
      ],
      properties: {
        id: { type: 'string', format: 'uuid' },
        endpoint: { type: 'string' },
        status: ref('schemas', 'JobStatus'),
        createdAt: dateTime,
        updatedAt: dateTime,
        startedAt: nullableDateTime,
        finishedAt: nullableDateTime,
        expiresAt: { ...nullableDateTime, description: 'When the finished job is removed.' },
        estimatedCompletionAt: nullableDateTime,
        attempt: { type: 'integer', minimum: 0, description: 'Executions started so far.' },
        maxAttempts: { type: 'integer', minimum: 1 },
        progress: { anyOf: [ref('schemas', 'JobProgress'), { type: 'null' }] },
        error: {
          anyOf: [ref('schemas', 'Problem'), { type: 'null' }],
          description: 'Why the job failed or was canceled (or why the last attempt failed).',
        },
        cancelRequested: { type: 'boolean' },
        links: {
          type: 'object',
          required: ['self', 'events'],
          properties: {
            self: { type: 'string', format: 'uri-reference' },
            events: { type: 'string', format: 'uri-reference' },
            output: { type: 'string', format: 'uri-reference', description: 'Only when the job succeeded.' },
          },
        },
      },
    },
    JobList: {
      type: 'object',
      required: ['jobs', 'nextCursor'],
      properties: {
        jobs: { type: 'array', items: ref('schemas', 'Job') },
        nextCursor: { type: ['string', 'null'], description: 'Pass as `cursor` for the next page.' },
      },
    },
    Problem: {
      type: 'object',
      description: 'RFC 9457 problem details.',
      required: ['type', 'title', 'code'],
      properties: {
        type: { type: 'string', format: 'uri-reference' },
        title: { type: 'string' },
        status: { type: 'integer' },
        code: { type: 'string', description: 'Stable machine-readable code.' },
        detail: { type: 'string' },
      },
      additionalProperties: true,
    },
    ValidationProblem: {
      allOf: [
        ref('schemas', 'Problem'),
        {
          type: 'object',
          properties: {
            issues: {
              type: 'array',
              items: {
                type: 'object',
                required: ['path', 'message'],
                properties: {
                  path: { type: 'array', items: { type: ['string', 'integer'] } },
                  message: { type: 'string' },
                  code: { type: 'string' },
                },
              },
            },
          },
        },
      ],
    },
  };
}

function parameters(maxWaitSeconds: number) {
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
        'A Structured Field string (`"key"`, a bare token is accepted too), 1–255 visible ASCII characters, unique per intended job.',
      schema: { type: 'string', examples: ['"8e03978e-40d5-43e8-bc93-6894a57f9324"'] },
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

function headers() {
  const header = (description: string, schema: JsonSchema) => ({ description, schema });
  return {
    Location: header('The job URL.', { type: 'string', format: 'uri-reference' }),
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
    Vary: header('`Prefer`: the answer depends on the wait preference.', { type: 'string' }),
    Link: header('RFC 8288 link to the next page (`rel="next"`).', { type: 'string' }),
    CacheControl: header('`no-store`: job state changes.', { type: 'string' }),
    Allow: header('The methods the resource supports.', { type: 'string' }),
  };
}

function responses(maxBodyBytes: number) {
  const problem = (description: string, schema = 'Problem', extraHeaders: Record<string, unknown> = {}) => ({
    description,
    ...(Object.keys(extraHeaders).length ? { headers: extraHeaders } : {}),
    content: { 'application/problem+json': { schema: ref('schemas', schema) } },
  });
  return {
    InvalidJson: problem('`invalid-json`: the body is not valid JSON (or not UTF-8, or empty).'),
    NotFound: problem(
      "`not-found`: unknown endpoint, malformed or unknown id, expired or another owner's job.",
    ),
    MethodNotAllowed: problem('`method-not-allowed`: see `Allow`.', 'Problem', {
      Allow: ref('headers', 'Allow'),
    }),
    IdempotencyInProgress: problem(
      '`idempotency-in-progress`: the request that first used this Idempotency-Key is still being processed.',
      'Problem',
      { 'Retry-After': ref('headers', 'RetryAfter') },
    ),
    PayloadTooLarge: problem(`\`payload-too-large\`: the body exceeds ${maxBodyBytes} bytes.`),
    UnsupportedMediaType: problem(
      '`unsupported-media-type`: send `Content-Type: application/json` (UTF-8, no Content-Encoding).',
    ),
    InvalidInput: problem(
      '`invalid-input` (the input does not match the schema, or a header or query parameter is invalid; `issues` lists the problems) or `idempotency-key-reused` (the key was used with another input).',
      'ValidationProblem',
    ),
    InternalError: problem('`internal`: an unexpected error, logged on the server.'),
    Unavailable: problem(
      '`unavailable`: a backend service is unavailable; retry after `Retry-After`.',
      'Problem',
      {
        'Retry-After': ref('headers', 'RetryAfter'),
      },
    ),
  };
}
