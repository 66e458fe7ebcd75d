// The batch submit of an endpoint (`POST /{endpoint}/batch`) and the schemas of its request and its answer.
import { MAX_IDEMPOTENCY_KEY_LENGTH, MAX_PRIORITY, MAX_UNIQUE_KEY_LENGTH, MIN_PRIORITY } from '@jobs/core';
import { MAX_BATCH_JOBS } from '../routes/batch.js';
import { MAX_DELAY_SECONDS } from '../schedule.js';
import type { OperationContext } from './operations.js';
import { problemRefs } from './problems.js';
import { headerRefs, type JsonSchema, jsonContent, ref } from './refs.js';

/** The names of an endpoint's batch schemas: `Ping` → `PingBatchRequest`, `PingBatchItem`. */
export function batchSchemaNames(base: string) {
  return { request: `${base}BatchRequest`, item: `${base}BatchItem` };
}

export function batchOperation(op: OperationContext) {
  const name = op.endpoint.name;
  return {
    tags: [name],
    operationId: `submit${op.base}Batch`,
    summary: `Submit many ${name} jobs`,
    description: [
      `Submits up to ${MAX_BATCH_JOBS} jobs in one request and one store round trip (bodies over ${op.maxBodyBytes}`,
      'bytes answer 413). Not atomic: each item is validated and stored, or refused, on its own, and `results`',
      'answers every item in order: `status` 202 with the job (200 when an `idempotencyKey` replays a job that',
      'already failed or was canceled; `replayed` says whether it was a replay), or a 4xx `status` with the',
      'problem that `POST` of that item alone would have answered. Give every item an `idempotencyKey` to make a',
      'retried batch safe: the jobs already stored are then replayed, not stored again. A body that is not',
      '`{ "jobs": [...] }` answers 422 and stores nothing; so do the headers of a single submit',
      '(`Idempotency-Key`, `Job-Unique-Key`, `Job-Run-At`, `Job-Delay`, `Job-Priority`), which an item sets in its own fields.',
      'The batch never waits: `Prefer` is ignored.',
    ].join(' '),
    requestBody: { required: true, content: jsonContent(batchSchemaNames(op.base).request) },
    responses: {
      '200': {
        description: 'The answer to each item, in the order of the request.',
        headers: headerRefs('CacheControl'),
        content: jsonContent('BatchResults'),
      },
      ...problemRefs('400', '404', '413', '415', '422', '500', '503'),
    },
  };
}

/** An endpoint's batch request and item schemas (the item's `input` is the endpoint's input schema). */
export function batchSchemas(op: OperationContext): Record<string, JsonSchema> {
  const names = batchSchemaNames(op.base);
  return {
    [names.request]: {
      type: 'object',
      required: ['jobs'],
      additionalProperties: false,
      properties: {
        jobs: { type: 'array', maxItems: MAX_BATCH_JOBS, items: ref('schemas', names.item) },
      },
    },
    [names.item]: {
      type: 'object',
      description: `One ${op.endpoint.name} job of a batch. An unknown field refuses the item (not the batch).`,
      required: ['input'],
      additionalProperties: false,
      properties: {
        input: ref('schemas', op.inputSchema),
        idempotencyKey: {
          type: 'string',
          minLength: 1,
          maxLength: MAX_IDEMPOTENCY_KEY_LENGTH,
          pattern: '^[\\x21-\\x7e]+$',
          description:
            'As `Idempotency-Key` of a single submit (the key itself, visible ASCII, without quotes): the same key and input give back the original job.',
        },
        uniqueKey: {
          type: 'string',
          minLength: 1,
          maxLength: MAX_UNIQUE_KEY_LENGTH,
          description:
            'As `Job-Unique-Key` of a single submit: while a queued or running job holds the key, that job is returned (`uniqueMatch`) and nothing is stored.',
        },
        runAt: {
          type: 'string',
          format: 'date-time',
          description:
            'As `Job-Run-At`: not started before this time (RFC 3339, `Z` or an offset). Excludes `delaySeconds`.',
        },
        delaySeconds: {
          type: 'number',
          minimum: 0,
          maximum: MAX_DELAY_SECONDS,
          description:
            'As `Job-Delay`: not started before this many seconds from now (rounded to the millisecond). Excludes `runAt`.',
        },
        priority: {
          type: 'integer',
          minimum: MIN_PRIORITY,
          maximum: MAX_PRIORITY,
          description:
            "As `Job-Priority`: among due jobs, a higher one is started first. Default: the endpoint's.",
        },
      },
    },
  };
}

/** The schemas of a batch's answer, the same for every endpoint. */
export function batchResultSchemas(): Record<string, JsonSchema> {
  return {
    BatchResults: {
      type: 'object',
      required: ['results'],
      properties: {
        results: {
          type: 'array',
          description: 'One result per item, in the order of the request.',
          items: { oneOf: [ref('schemas', 'BatchJobResult'), ref('schemas', 'BatchProblemResult')] },
        },
      },
    },
    BatchJobResult: {
      type: 'object',
      description: 'An item stored (or replayed by its idempotencyKey).',
      required: ['status', 'job', 'replayed'],
      properties: {
        status: {
          type: 'integer',
          enum: [202, 200],
          description:
            'What a single submit answers: 202, or 200 for a replayed job that already failed or was canceled.',
        },
        job: ref('schemas', 'Job'),
        replayed: {
          type: 'boolean',
          description: 'true when the idempotencyKey gave back an existing job (nothing new was stored).',
        },
        uniqueMatch: {
          type: 'boolean',
          description:
            'true when the job holding the unique key was given back (`Job-Unique-Match` of a single submit; nothing new was stored).',
        },
      },
    },
    BatchProblemResult: {
      type: 'object',
      description: 'An item refused; nothing was stored for it.',
      required: ['status', 'problem'],
      properties: {
        status: { type: 'integer', minimum: 400, maximum: 599 },
        problem: ref('schemas', 'ValidationProblem'),
      },
    },
  };
}
