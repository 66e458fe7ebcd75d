// The schema components of the document: the job, its list and problems, and the endpoints' zod schemas.
import { JOB_STATUSES, MAX_PRIORITY, MIN_PRIORITY } from '@jobs/core';
import { z } from 'zod';
import { type JsonSchema, ref } from './refs.js';

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
export function addZodSchema(
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

/** The schemas every document has, whatever its endpoints. */
export function baseSchemas(): Record<string, JsonSchema> {
  const job = jobProperties();
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
      // Every field is always present (null when it has no value), but for resourceLocation.
      required: Object.keys(job).filter((name) => name !== 'resourceLocation'),
      properties: job,
    },
    JobList: {
      type: 'object',
      required: ['jobs', 'nextCursor'],
      properties: {
        jobs: { type: 'array', items: ref('schemas', 'Job') },
        nextCursor: { type: ['string', 'null'], description: 'Pass as `cursor` for the next page.' },
      },
    },
    Schedule: {
      type: 'object',
      description: 'A recurring schedule of the endpoint. Its input is not shown.',
      required: [
        'name',
        'endpoint',
        'cron',
        'timeZone',
        'everyMs',
        'missed',
        'priority',
        'lastOccurrenceAt',
        'nextOccurrenceAt',
      ],
      properties: {
        name: { type: 'string' },
        endpoint: { type: 'string' },
        cron: {
          type: ['string', 'null'],
          description: 'A cron expression (5 fields, or 6 with seconds first); null for an interval.',
        },
        timeZone: {
          type: ['string', 'null'],
          description: 'The IANA time zone of `cron` (null: UTC, or an interval).',
        },
        everyMs: {
          type: ['integer', 'null'],
          minimum: 1000,
          description:
            'The interval in milliseconds (occurrences at its multiples since the Unix epoch); null for a cron.',
        },
        missed: {
          type: 'string',
          enum: ['skip', 'run-once'],
          description:
            'What happens to occurrences missed while nothing ran: skipped, or the latest submitted once.',
        },
        priority: {
          type: 'integer',
          minimum: MIN_PRIORITY,
          maximum: MAX_PRIORITY,
          description: 'The priority of its jobs.',
        },
        lastOccurrenceAt: {
          ...nullableDateTime,
          description:
            'The last occurrence handled (submitted, or skipped as missed); null before the first.',
        },
        nextOccurrenceAt: {
          ...nullableDateTime,
          description: 'The next occurrence; null when there is none.',
        },
      },
    },
    ScheduleList: {
      type: 'object',
      required: ['schedules'],
      properties: { schedules: { type: 'array', items: ref('schemas', 'Schedule') } },
    },
    Problem: {
      type: 'object',
      description: 'RFC 9457 problem details.',
      required: ['type', 'title', 'code'],
      properties: {
        type: {
          type: 'string',
          format: 'uri-reference',
          description:
            'Identifies the problem type: by default `urn:jobs:problem:<code>` (an identifier, not a link), or under the base the server was configured with.',
        },
        title: { type: 'string' },
        status: { type: 'integer' },
        code: { type: 'string', description: 'Stable machine-readable code.' },
        detail: { type: 'string' },
      },
      additionalProperties: true,
    },
    JobError: {
      description:
        'Why a job failed or was canceled: problem details with `message` (the detail, else the title), as Azure-style clients read `code` and `message`.',
      allOf: [
        ref('schemas', 'Problem'),
        { type: 'object', required: ['message'], properties: { message: { type: 'string' } } },
      ],
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

/** The fields of the job representation (representation.ts), in the order they are sent. */
function jobProperties(): Record<string, JsonSchema> {
  return {
    id: { type: 'string', format: 'uuid' },
    endpoint: { type: 'string' },
    status: ref('schemas', 'JobStatus'),
    createdAt: dateTime,
    updatedAt: dateTime,
    startedAt: nullableDateTime,
    finishedAt: nullableDateTime,
    expiresAt: { ...nullableDateTime, description: 'When the finished job is removed.' },
    estimatedCompletionAt: nullableDateTime,
    runAt: {
      ...dateTime,
      description:
        "A queued job is not started before this time: when it was submitted, the time a delayed submit asked for, or a retry's backoff.",
    },
    priority: {
      type: 'integer',
      minimum: MIN_PRIORITY,
      maximum: MAX_PRIORITY,
      description: 'Among due jobs of the endpoint, a higher priority is started first.',
    },
    attempt: { type: 'integer', minimum: 0, description: 'Executions started so far.' },
    maxAttempts: { type: 'integer', minimum: 1 },
    progress: { anyOf: [ref('schemas', 'JobProgress'), { type: 'null' }] },
    error: {
      anyOf: [ref('schemas', 'JobError'), { type: 'null' }],
      description: 'Why the job failed or was canceled (or why the last attempt failed).',
    },
    cancelRequested: { type: 'boolean' },
    resourceLocation: {
      type: 'string',
      format: 'uri-reference',
      description:
        'Only when the job succeeded: the output URL (`links.output`), for clients that do not follow the 303.',
    },
    links: {
      type: 'object',
      required: ['self', 'events'],
      properties: {
        self: { type: 'string', format: 'uri-reference' },
        events: { type: 'string', format: 'uri-reference' },
        output: { type: 'string', format: 'uri-reference', description: 'Only when the job succeeded.' },
      },
    },
  };
}
