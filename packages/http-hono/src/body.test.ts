import { JobsError } from '@jobs/core';
import { describe, expect, it } from 'vitest';
import { isJsonMediaType, jsonDepthExceeds, readJsonBody, readLimited } from './body.js';

function endless(chunkSize: number) {
  const state = { pulled: 0, canceled: false };
  const chunk = new Uint8Array(chunkSize).fill(0x20);
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        state.pulled += chunk.byteLength;
        controller.enqueue(chunk);
      },
      cancel() {
        state.canceled = true;
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, state };
}

describe('readLimited', () => {
  it('stops reading and cancels the stream as soon as the limit is passed', async () => {
    const { stream, state } = endless(100);
    const error = await readLimited(stream, 1_000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JobsError);
    expect((error as JobsError).status).toBe(413);
    expect((error as JobsError).code).toBe('payload_too_large');
    expect(state.canceled).toBe(true);
    expect(state.pulled).toBeLessThanOrEqual(1_100);
  });

  it('returns the bytes of a body within the limit', async () => {
    const body = new Response('{"a":1}').body;
    expect(new TextDecoder().decode(await readLimited(body, 7))).toBe('{"a":1}');
    expect((await readLimited(null, 10)).byteLength).toBe(0);
  });
});

describe('readJsonBody', () => {
  const request = (body: BodyInit | null, headers: Record<string, string>) =>
    new Request('http://x/ping', { method: 'POST', body, headers });

  it('rejects a declared Content-Length over the limit before reading', async () => {
    const { stream, state } = endless(10);
    const req = new Request('http://x/ping', {
      method: 'POST',
      body: stream,
      headers: { 'Content-Type': 'application/json', 'Content-Length': '5000' },
      duplex: 'half',
    } as RequestInit);
    await expect(readJsonBody(req, 1_000)).rejects.toMatchObject({ status: 413 });
    expect(state.pulled).toBe(0);
  });

  it('parses JSON and maps each failure to its problem', async () => {
    const json = { 'Content-Type': 'application/json' };
    expect(await readJsonBody(request('{"a":[1,2]}', json), 100)).toEqual({ a: [1, 2] });
    expect(await readJsonBody(request('\ufeff{"bom":true}', json), 100)).toEqual({ bom: true });
    await expect(readJsonBody(request('{', json), 100)).rejects.toMatchObject({
      status: 400,
      code: 'invalid_json',
    });
    await expect(readJsonBody(request('', json), 100)).rejects.toMatchObject({ status: 400 });
    await expect(readJsonBody(request('{}', {}), 100)).rejects.toMatchObject({ status: 415 });
  });

  it('refuses nesting past maxDepth before parsing (422 too_deep), and a body cut off mid-way (400)', async () => {
    const json = { 'Content-Type': 'application/json' };
    const deep = `${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}`;
    await expect(readJsonBody(request(deep, json), 2_000_000)).rejects.toMatchObject({
      status: 422,
      code: 'invalid_input',
      issues: [{ path: [], code: 'too_deep' }],
      extensions: { maxDepth: 64 },
    });
    await expect(readJsonBody(request('[[[1]]]', json), 100, 2)).rejects.toMatchObject({ status: 422 });
    expect(await readJsonBody(request('[[1]]', json), 100, 2)).toEqual([[1]]);
    expect(await readJsonBody(request('[[[1]]]', json), 100, Number.POSITIVE_INFINITY)).toEqual([[[1]]]);

    const broken = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"a":'));
        controller.error(new Error('aborted'));
      },
    });
    const cut = new Request('http://x/ping', {
      method: 'POST',
      body: broken,
      headers: json,
      duplex: 'half',
    } as RequestInit);
    await expect(readJsonBody(cut, 100)).rejects.toMatchObject({ status: 400, code: 'invalid_json' });
  });

  it('counts the depth of arrays and objects, not of brackets in strings or escapes', () => {
    expect(jsonDepthExceeds('{"a":[{"b":[]}]}', 4)).toBe(false);
    expect(jsonDepthExceeds('{"a":[{"b":[[]]}]}', 4)).toBe(true);
    expect(jsonDepthExceeds('["[[[[", "\\"[[[[", {"}}}}": "]]]]"}]', 2)).toBe(false);
    expect(jsonDepthExceeds('[1,[2],[3],[4,[5]]]', 3)).toBe(false);
    expect(jsonDepthExceeds('[1,[2],[3],[4,[5]]]', 2)).toBe(true);
    expect(jsonDepthExceeds('"no nesting"', 0)).toBe(false);
    // An even run of backslashes before a quote escapes only themselves: the string ends there.
    expect(jsonDepthExceeds('["\\\\\\\\", [[]]]', 2)).toBe(true);
    expect(jsonDepthExceeds('["\\\\\\"[[[", []]', 2)).toBe(false);
    expect(jsonDepthExceeds('["unterminated [[[[', 1)).toBe(false);
  });

  it('recognises JSON media types', () => {
    expect(isJsonMediaType('application/json')).toBe(true);
    expect(isJsonMediaType('Application/JSON; charset=UTF-8')).toBe(true);
    expect(isJsonMediaType('application/vnd.api+json')).toBe(true);
    expect(isJsonMediaType('text/json')).toBe(false);
    expect(isJsonMediaType('application/jsonp')).toBe(false);
    expect(isJsonMediaType(null)).toBe(false);
  });
});
