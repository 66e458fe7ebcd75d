// POST of many jobs at once (`{endpoint}/batch`), and what its answer says of each.
import type { EndpointContext } from './context.js';
import { JobsHttpError, JobsProtocolError } from './errors.js';
import { checkSchedule, idempotencyKeyOf } from './submit.js';
import { type RequestSpec, readJson, request } from './transport.js';
import type { SubmitManyItem, SubmitManyResult } from './types.js';
import { ACCEPT_JSON, isRecord, parseProblem, problemFromStatus, structuredFieldString } from './wire.js';

/**
 * POSTs the items as one batch; a result per item, in order. The POST is retried on transient failures only when
 * every item has an idempotency key, so that a retry stores nothing twice.
 */
export async function postBatch(
  ep: EndpointContext,
  items: readonly SubmitManyItem[],
  signal: AbortSignal | undefined,
): Promise<SubmitManyResult[]> {
  if (items.length === 0) return [];
  const jobs = items.map((item) => {
    const { runAt, delaySeconds, priority, uniqueKey } = checkSchedule(item);
    const key = idempotencyKeyOf(item.idempotencyKey);
    // The server takes the key itself; checked here as a header value would be (printable ASCII).
    if (key !== undefined) structuredFieldString(key);
    return {
      input: item.input ?? null,
      ...(key === undefined ? {} : { idempotencyKey: key }),
      ...(uniqueKey === undefined ? {} : { uniqueKey }),
      ...(runAt === undefined ? {} : { runAt }),
      ...(delaySeconds === undefined ? {} : { delaySeconds: Number(delaySeconds) }),
      ...(priority === undefined ? {} : { priority }),
    };
  });
  const url = `${ep.url}/batch`;
  const spec: RequestSpec = {
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json', accept: ACCEPT_JSON },
    body: JSON.stringify({ jobs }),
    idempotent: jobs.every((job) => job.idempotencyKey !== undefined),
    signal,
  };
  return request(ep.settings.transport, spec, async (response) => {
    const body = await readJson(response, url);
    const results = isRecord(body) ? body.results : undefined;
    if (response.status !== 200 || !Array.isArray(results) || results.length !== items.length) {
      throw new JobsProtocolError(url, `expected 200 with { results: [...] }, one per job (${items.length})`);
    }
    const base = response.url || url;
    return results.map((result, index): SubmitManyResult => {
      if (!isRecord(result) || typeof result.status !== 'number') {
        throw new JobsProtocolError(url, `result ${index} is not { status, job } or { status, problem }`);
      }
      if (result.job !== undefined) {
        const id = isRecord(result.job) && typeof result.job.id === 'string' ? result.job.id : '';
        const job = ep.parseJob(result.job, id ? ep.jobUrl(id) : url, base);
        return {
          ok: true,
          job,
          replayed: result.replayed === true,
          uniqueMatch: result.uniqueMatch === true,
        };
      }
      const problem =
        parseProblem(result.problem) ?? problemFromStatus(result.status, '', JSON.stringify(result));
      const status = result.status;
      return {
        ok: false,
        error: new JobsHttpError({ status, problem, retryAfterSeconds: null, method: 'POST', url }),
      };
    });
  });
}
