// Azure's long-running operation poller, `@azure/core-lro`, driven over a plain fetch adapter against a real
// server: it finds the job through `Operation-Location`, judges it by `status`, honours `Retry-After`, reads
// the output through the 303 (or `resourceLocation`) and reports a failure with the error's code and message.
import { createHttpPoller, type OperationResponse, type RunningOperation } from '@azure/core-lro';
import { defineEndpoint, implement, JobFailedError } from '@jobs/core';
import { Gates } from '@jobs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { get, json, startTestServer, type TestServer } from './test-support.js';

const resize = defineEndpoint({
  name: 'resize',
  input: z.object({ image: z.string(), width: z.number().int(), fail: z.boolean().default(false) }),
  output: z.object({ location: z.string(), width: z.number().int() }),
  maxAttempts: 1,
});
const gates = new Gates();

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({
    workers: [
      implement(resize, async ({ image, width, fail }, { signal, progress }) => {
        progress(0.5, 'resizing');
        await gates.step(image, signal); // the test lets it finish once the poller saw it running
        if (fail) throw new JobFailedError(`${image} is not an image.`, { retryable: false });
        return { location: `/thumbnails/${image}-${width}.png`, width };
      }),
    ],
  });
});
afterAll(async () => {
  await server.close();
});

/** What the poller was told, poll by poll: the status codes and the job statuses in the bodies. */
interface Trace {
  polls: Array<{ status: number; jobStatus: unknown }>;
}

/**
 * The adapter a user writes in a few lines: `fetch` (following redirects unless told otherwise), the headers as
 * a lower-case record, the body parsed. Relative URLs (`Operation-Location` is a path) resolve against the server.
 */
function fetchOperation(
  input: unknown,
  trace: Trace,
  redirect: RequestRedirect = 'follow',
): RunningOperation<Record<string, unknown>> {
  const send = async (method: string, url: string, body?: unknown): Promise<OperationResponse<any>> => {
    const response = await fetch(new URL(url, server.origin), {
      method,
      redirect,
      ...(body === undefined
        ? {}
        : { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) }),
    });
    const text = await response.text();
    const parsed = text ? JSON.parse(text) : undefined;
    const headers: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      headers[name] = value;
    });
    return {
      flatResponse: parsed,
      rawResponse: { statusCode: response.status, request: { method, url }, headers, body: parsed },
    };
  };
  return {
    sendInitialRequest: () => send('POST', server.url('/resize'), input),
    sendPollRequest: async (path) => {
      const answer = await send('GET', path);
      trace.polls.push({ status: answer.rawResponse.statusCode, jobStatus: answer.flatResponse?.status });
      return answer;
    },
  };
}

/** Resolves once the job the poller follows was seen running in a poll. */
async function seenRunning(trace: Trace): Promise<void> {
  while (!trace.polls.some((poll) => poll.jobStatus === 'running')) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

// Each job is polled as Retry-After says (1–2 s while it is not done).
describe('@azure/core-lro createHttpPoller', { timeout: 30_000 }, () => {
  it.each([
    'follow',
    'manual',
  ] as const)('waits while the job runs and returns the output once it succeeded (fetch redirect: %s)', async (redirect) => {
    const image = `cat-${redirect}`;
    const trace: Trace = { polls: [] };
    let operationLocation = '';
    const poller = createHttpPoller(fetchOperation({ image, width: 64 }, trace, redirect), {
      intervalInMs: 10,
      withOperationLocation: (location) => {
        operationLocation = location;
      },
    });
    const states: string[] = [];
    poller.onProgress((state) => states.push(state.status));
    await poller.submitted();
    expect(poller.operationState?.status).toBe('running');
    expect(operationLocation).toMatch(/^\/jobs\/resize\/[0-9a-f-]{36}$/);

    const done = poller.pollUntilDone();
    await seenRunning(trace);
    expect(poller.isDone).toBe(false);
    gates.release(image);
    const result = await done;

    expect(result).toEqual({ location: `/thumbnails/${image}-64.png`, width: 64 });
    expect(poller.operationState?.status).toBe('succeeded');
    expect(states).toContain('running');
    expect(states.at(-1)).toBe('succeeded');
    // Following redirects, the poll that found the job done read the output through the 303; without, it
    // read the job (303 with `status: succeeded`) and then the output at `resourceLocation`.
    const last = trace.polls.at(-1)!;
    expect(last.status).toBe(200);
    if (redirect === 'manual') expect(trace.polls).toContainEqual({ status: 303, jobStatus: 'succeeded' });
  });

  it('rejects a failed job with its code and message', async () => {
    const image = 'not-a-cat';
    const trace: Trace = { polls: [] };
    const poller = createHttpPoller(fetchOperation({ image, width: 64, fail: true }, trace), {
      intervalInMs: 10,
    });
    const done = poller.pollUntilDone();
    await seenRunning(trace);
    gates.release(image);
    await expect(done).rejects.toThrow(
      'The long-running operation has failed. job_failed. not-a-cat is not an image.',
    );
    expect(poller.operationState?.status).toBe('failed');
    expect(trace.polls.at(-1)).toEqual({ status: 200, jobStatus: 'failed' });
  });

  it('rejects a job canceled while it runs', async () => {
    const trace: Trace = { polls: [] };
    let jobPath = '';
    const poller = createHttpPoller(fetchOperation({ image: 'never-released', width: 8 }, trace), {
      intervalInMs: 10,
      withOperationLocation: (location) => {
        jobPath = location;
      },
    });
    const done = poller.pollUntilDone();
    await seenRunning(trace);
    const cancel = await fetch(`${server.origin}${jobPath}`, { method: 'DELETE' });
    expect(cancel.status).toBe(202);
    expect(cancel.headers.get('operation-location')).toBe(jobPath);
    await expect(done).rejects.toThrow('Operation was canceled');
    expect(poller.operationState?.status).toBe('canceled');
    const job = await json(await get(`${server.origin}${jobPath}`));
    expect(job.error).toMatchObject({ code: 'canceled', message: 'The job was canceled on request.' });
  });
});
