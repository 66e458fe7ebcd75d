// The operations of one endpoint (submit, list, get, delete, retry, events, output) and of the document itself.
import type { Endpoint } from '@jobs/core';
import { batchOperation } from './batch.js';
import { problemRefs, problemResponseWithoutBody } from './problems.js';
import { type HeaderComponent, headerRefs, jobResponse, jsonContent, ref } from './refs.js';
import { pascal } from './schemas.js';

/** What the operations of an endpoint refer to and mention. */
export interface OperationContext {
  endpoint: Endpoint;
  /** `ping` → `Ping`: prefix of the operation ids and of the schema components. */
  base: string;
  inputSchema: string;
  outputSchema: string;
  maxWaitSeconds: number;
  maxBodyBytes: number;
}

export function operationContext(
  endpoint: Endpoint,
  limits: { maxWaitSeconds: number; maxBodyBytes: number },
) {
  const base = pascal(endpoint.name);
  return { endpoint, base, inputSchema: `${base}Input`, outputSchema: `${base}Output`, ...limits };
}

/** The path items of an endpoint, by path. */
export function endpointPaths(op: OperationContext): Record<string, unknown> {
  const collection = `/${op.endpoint.name}`;
  const item = `${collection}/{id}`;
  const jobId = [ref('parameters', 'JobId')];
  const list = listOperation(op);
  const job = getJobOperation(op);
  const output = outputOperation(op);
  const schedules = schedulesOperation(op);
  return {
    [collection]: {
      post: submitOperation(op),
      get: list,
      head: headOperation(op, list, `head${op.base}List`, `Check the ${op.endpoint.name} job list`),
    },
    [`${collection}/batch`]: { post: batchOperation(op) },
    [`${collection}/schedules`]: {
      get: schedules,
      head: headOperation(
        op,
        schedules,
        `head${op.base}Schedules`,
        `Check the ${op.endpoint.name} schedules`,
      ),
    },
    [item]: {
      parameters: jobId,
      get: job,
      head: headOperation(op, job, `head${op.base}Job`, `Check a ${op.endpoint.name} job`),
      delete: deleteJobOperation(op),
    },
    [`${item}/retry`]: { parameters: jobId, post: retryJobOperation(op) },
    [`${item}/events`]: { parameters: jobId, get: eventsOperation(op) },
    [`${item}/output`]: {
      parameters: jobId,
      get: output,
      head: headOperation(op, output, `head${op.base}Output`, `Check a ${op.endpoint.name} job's output`),
    },
  };
}

interface GetOperation {
  summary: string;
  parameters?: unknown[];
  responses: Record<string, Record<string, unknown>>;
}

/** The `HEAD` twin of a `GET` operation: the same parameters, statuses and headers, and no body. */
function headOperation(op: OperationContext, get: GetOperation, operationId: string, summary: string) {
  const responses: Record<string, unknown> = {};
  for (const [status, response] of Object.entries(get.responses)) {
    if (typeof response.$ref === 'string') {
      responses[status] = problemResponseWithoutBody(response.$ref, op.maxBodyBytes);
    } else {
      const { content: _body, ...rest } = response;
      responses[status] = rest;
    }
  }
  return {
    ...operation(
      op,
      operationId,
      summary,
      `As \`GET\` (${get.summary.toLowerCase()}), without a body: the same statuses and headers.`,
    ),
    ...(get.parameters ? { parameters: get.parameters } : {}),
    responses,
  };
}

/** What every operation starts with: its tag (the endpoint), id, summary and description. */
function operation(op: OperationContext, operationId: string, summary: string, description: string) {
  return { tags: [op.endpoint.name], operationId, summary, description };
}

function submitOperation(op: OperationContext) {
  const { base, inputSchema, maxWaitSeconds, maxBodyBytes } = op;
  const name = op.endpoint.name;
  return {
    ...operation(
      op,
      `submit${base}`,
      `Submit a ${name} job`,
      [
        op.endpoint.description,
        `Validates the input against the ${name} schema, stores the job and answers 202 with the job.`,
        `\`Prefer: wait=N\` waits up to N seconds (at most ${maxWaitSeconds}) for a final state and`,
        'answers 303 to the output when the job succeeded in time.',
        '`Idempotency-Key` makes retries safe: the same key with the same input returns the original job',
        '(202, `Idempotent-Replayed: true`) until it expires; with another input it answers 422.',
        "`Job-Unique-Key` (or the endpoint's unique key) allows one queued or running job per key: while one",
        'holds it, that job is answered (`Job-Unique-Match: existing`) and nothing is stored.',
        '`Job-Run-At` or `Job-Delay` holds the job back until then, and `Job-Priority` orders it among due jobs:',
        'scheduling stays out of the input. An invalid one answers 422 naming the header, and nothing is stored.',
        `Bodies over ${maxBodyBytes} bytes answer 413. \`POST /${name}/batch\` submits many jobs in one request.`,
      ]
        .filter(Boolean)
        .join(' '),
    ),
    parameters: [
      ref('parameters', 'Prefer'),
      ref('parameters', 'IdempotencyKey'),
      ref('parameters', 'JobRunAt'),
      ref('parameters', 'JobDelay'),
      ref('parameters', 'JobPriority'),
      ref('parameters', 'JobUniqueKey'),
    ],
    requestBody: { required: true, content: jsonContent(inputSchema) },
    responses: {
      '200': jobResponse(
        'The job already failed or was canceled (during `Prefer: wait=N`, or on an Idempotency-Key replay); `error` says why.',
        submitHeaders('Location'),
      ),
      '202': jobResponse(
        'Job accepted (or replayed for a known Idempotency-Key).',
        submitHeaders('Location', 'RetryAfter'),
      ),
      '303': jobResponse(
        'With `Prefer: wait=N`: the job succeeded in time; `Location` is its output.',
        submitHeaders('OutputLocation'),
      ),
      ...problemRefs('400', '404', '413', '415', '422', '500', '503'),
    },
  };
}

/** The headers of a submit answer: `location` (the job's or the output's), the job's, and the request's. */
function submitHeaders(location: 'Location' | 'OutputLocation', ...more: HeaderComponent[]) {
  return headerRefs(
    location,
    'ContentLocation',
    'OperationLocation',
    'ETag',
    ...more,
    'PreferenceApplied',
    'IdempotentReplayed',
    'UniqueMatch',
    'Vary',
  );
}

function listOperation(op: OperationContext) {
  return {
    ...operation(
      op,
      `list${op.base}`,
      `List ${op.endpoint.name} jobs`,
      'The caller\'s jobs of this endpoint, newest first. Follow `nextCursor` (or the `Link: rel="next"` header) for the next page.',
    ),
    parameters: [ref('parameters', 'StatusFilter'), ref('parameters', 'Limit'), ref('parameters', 'Cursor')],
    responses: {
      '200': {
        description: 'One page of jobs.',
        headers: headerRefs('Link', 'CacheControl'),
        content: jsonContent('JobList'),
      },
      ...problemRefs('404', '422', '500', '503'),
    },
  };
}

function getJobOperation(op: OperationContext) {
  const { base, maxWaitSeconds } = op;
  return {
    ...operation(
      op,
      `get${base}Job`,
      `Get a ${op.endpoint.name} job`,
      [
        'Queued or running: 200 with `Retry-After`. Succeeded: 303 to the output, the job in the body.',
        "Failed or canceled: 200 with `error`. Unknown, expired or another owner's: 404.",
        `\`Prefer: wait=N\` long-polls: answers as soon as the job changes, or after N seconds (at most ${maxWaitSeconds}).`,
        'Every answer carries the `ETag` of the job state. With `If-None-Match` set to the last `ETag` seen, the',
        'answer is 304 while the job is still in that state; with `Prefer: wait=N` as well, the request waits until',
        'the state differs from that one (at once if it already does) and answers 200/303 with the new state, or',
        '304 when the wait ended with no change, so that no change between two long-polls is missed.',
      ].join(' '),
    ),
    parameters: [ref('parameters', 'Prefer'), ref('parameters', 'IfNoneMatch')],
    responses: {
      '200': jobResponse(
        'The job is queued, running, failed or canceled.',
        headerRefs('OperationLocation', 'ETag', 'RetryAfter', 'CacheControl', 'PreferenceApplied', 'Vary'),
      ),
      '303': jobResponse(
        'The job succeeded; `Location` is its output (so is `resourceLocation` in the body).',
        headerRefs(
          'OutputLocation',
          'OperationLocation',
          'ETag',
          'CacheControl',
          'PreferenceApplied',
          'Vary',
        ),
      ),
      '304': {
        description:
          'Not Modified: `If-None-Match` matches the job state (with `Prefer: wait=N`: it still did when the wait ended). No body.',
        headers: headerRefs(
          'OperationLocation',
          'ETag',
          'RetryAfter',
          'CacheControl',
          'PreferenceApplied',
          'Vary',
        ),
      },
      ...problemRefs('404', '500', '503'),
    },
  };
}

function deleteJobOperation(op: OperationContext) {
  return {
    ...operation(
      op,
      `delete${op.base}Job`,
      `Cancel or remove a ${op.endpoint.name} job`,
      'Queued: canceled at once (200). Running: cancel requested, the worker is signalled (202). Final: removed (204). Unknown: 404.',
    ),
    responses: {
      '200': jobResponse('The queued job was canceled.', headerRefs('OperationLocation', 'ETag')),
      '202': jobResponse(
        'The job is running; cancellation was requested.',
        headerRefs('OperationLocation', 'ETag', 'RetryAfter'),
      ),
      '204': { description: 'The finished job was removed.' },
      ...problemRefs('404', '500', '503'),
    },
  };
}

function retryJobOperation(op: OperationContext) {
  return {
    ...operation(
      op,
      `retry${op.base}Job`,
      `Retry a failed or canceled ${op.endpoint.name} job`,
      "Queues the job again under the same id (its URL keeps working), with the endpoint's attempts granted anew; `attempt` keeps counting every execution. Its error, output and expiry are cleared. A queued, running or succeeded job answers 409 (`not-retryable`) and is left as it is; so does a job whose unique key another queued or running job holds now (409 `unique-conflict`, with `conflictingJobId`).",
    ),
    responses: {
      '202': jobResponse(
        'The job is queued again.',
        headerRefs('Location', 'ContentLocation', 'OperationLocation', 'ETag', 'RetryAfter'),
      ),
      ...problemRefs('404', '409', '500', '503'),
    },
  };
}

function eventsOperation(op: OperationContext) {
  return {
    ...operation(
      op,
      `stream${op.base}Events`,
      `Stream a ${op.endpoint.name} job's changes`,
      'Server-Sent Events: the current state at once, then one event per change, named `status` or `progress`, with `id:` (the update time in epoch ms) and the job JSON as `data`; `: heartbeat` comments while idle; closed after the event of a final state. An `error` event (problem JSON) ends the stream if the job disappears or the backend fails.',
    ),
    parameters: [ref('parameters', 'LastEventId')],
    responses: {
      '200': {
        description: 'An event stream.',
        headers: headerRefs('CacheControl'),
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
      ...problemRefs('404', '500', '503'),
    },
  };
}

function schedulesOperation(op: OperationContext) {
  return {
    ...operation(
      op,
      `list${op.base}Schedules`,
      `List ${op.endpoint.name} schedules`,
      'The recurring schedules that submit jobs of this endpoint, with their last handled and next occurrences. Their inputs are not shown (they may be private); the jobs they submit have no owner.',
    ),
    responses: {
      '200': {
        description: 'The schedules (an empty list when the endpoint has none).',
        headers: headerRefs('CacheControl'),
        content: jsonContent('ScheduleList'),
      },
      ...problemRefs('404', '500', '503'),
    },
  };
}

function outputOperation(op: OperationContext) {
  const { base, outputSchema } = op;
  return {
    ...operation(
      op,
      `get${base}Output`,
      `Get a ${op.endpoint.name} job's output`,
      'The output of a succeeded job. A job not finished yet answers 404 `output-not-ready`; a failed or canceled one 404 `output-not-available`.',
    ),
    responses: {
      '200': {
        description: 'The output.',
        headers: headerRefs('CacheControl'),
        content: jsonContent(outputSchema),
      },
      '404': {
        description:
          'Unknown job (`not-found`), not finished yet (`output-not-ready`), or failed/canceled (`output-not-available`).',
        content: { 'application/problem+json': { schema: ref('schemas', 'Problem') } },
      },
      ...problemRefs('500', '503'),
    },
  };
}
