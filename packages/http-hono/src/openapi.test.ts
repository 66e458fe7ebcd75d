import { defineEndpoint } from '@jobs/core';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { buildOpenApiDocument } from './openapi.js';
import { get, startTestServer, type TestServer } from './test-support.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({
    app: { openapi: { title: 'Test jobs', version: '2.3.4', description: 'For the tests.' } },
  });
});
afterAll(async () => {
  await server.close();
});

async function validate(document: unknown) {
  const validator = new Validator();
  // The validator resolves references in place: give it a copy.
  const result = await validator.validate(structuredClone(document) as Record<string, unknown>);
  expect(result.errors ?? []).toEqual([]);
  expect(result.valid).toBe(true);
  expect(validator.version).toBe('3.1');
  // Every $ref must resolve.
  expect(() => validator.resolveRefs()).not.toThrow();
}

function refs(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) for (const item of value) refs(item, found);
  else if (value && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      if (key === '$ref' && typeof inner === 'string') found.push(inner);
      else refs(inner, found);
    }
  }
  return found;
}

function resolvePointer(document: any, ref: string): unknown {
  return ref
    .slice(2)
    .split('/')
    .reduce((node, part) => node?.[part.replaceAll('~1', '/').replaceAll('~0', '~')], document);
}

describe('GET /openapi.json', () => {
  it('is a valid OpenAPI 3.1 document of every endpoint, route, header and problem response', async () => {
    const response = await get(server.url('/openapi.json'));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const document = await response.json();
    await validate(document);
    for (const ref of refs(document)) expect(resolvePointer(document, ref), ref).toBeDefined();

    expect(document.openapi).toBe('3.1.0');
    expect(document.info).toMatchObject({ title: 'Test jobs', version: '2.3.4' });
    expect(document.info.description).toContain('For the tests.');
    expect(document.servers).toEqual([{ url: '/jobs' }]);
    expect(Object.keys(document.paths).sort()).toEqual(
      [
        '/ping',
        '/ping/batch',
        '/ping/schedules',
        '/ping/{id}',
        '/ping/{id}/events',
        '/ping/{id}/output',
        '/ping/{id}/retry',
        '/task',
        '/task/batch',
        '/task/schedules',
        '/task/{id}',
        '/task/{id}/events',
        '/task/{id}/output',
        '/task/{id}/retry',
      ].sort(),
    );
    // The document and the reference page are not operations of the API; the description names the page.
    expect(document.info.description).toContain('The interactive reference of this API is at `/jobs/docs`.');
    expect(document.security).toEqual([]);
    const submit = document.paths['/ping'].post;
    expect(Object.keys(submit.responses).sort()).toEqual(
      ['200', '202', '303', '400', '404', '413', '415', '422', '500', '503'].sort(),
    );
    expect(Object.keys(submit.responses['202'].headers).sort()).toEqual(
      [
        'Content-Location',
        'ETag',
        'Idempotent-Replayed',
        'Job-Unique-Match',
        'Location',
        'Operation-Location',
        'Preference-Applied',
        'Retry-After',
        'Vary',
      ].sort(),
    );
    expect(submit.requestBody.content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/PingInput',
    });
    expect(submit.parameters.map((p: { $ref: string }) => p.$ref)).toEqual([
      '#/components/parameters/Prefer',
      '#/components/parameters/IdempotencyKey',
      '#/components/parameters/JobRunAt',
      '#/components/parameters/JobDelay',
      '#/components/parameters/JobPriority',
      '#/components/parameters/JobUniqueKey',
    ]);
    expect(document.components.parameters.JobUniqueKey).toMatchObject({
      name: 'Job-Unique-Key',
      in: 'header',
      schema: { type: 'string', minLength: 1, maxLength: 255 },
    });
    expect(document.components.parameters.JobRunAt).toMatchObject({
      name: 'Job-Run-At',
      in: 'header',
      schema: { type: 'string', format: 'date-time' },
    });
    expect(document.components.parameters.JobDelay).toMatchObject({ name: 'Job-Delay', in: 'header' });
    expect(document.components.parameters.JobPriority).toMatchObject({
      name: 'Job-Priority',
      schema: { type: 'integer', minimum: -1000, maximum: 1000 },
    });
    const schedules = document.paths['/ping/schedules'];
    expect(schedules.get.operationId).toBe('listPingSchedules');
    expect(schedules.get.responses['200'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/ScheduleList',
    });
    expect(schedules.head.responses['200']).not.toHaveProperty('content');
    expect(document.components.schemas.Schedule.properties).not.toHaveProperty('input');
    // The batch: the endpoint's input in each item, the same answer schema for every endpoint.
    const batch = document.paths['/ping/batch'].post;
    expect(batch.operationId).toBe('submitPingBatch');
    expect(batch.requestBody.content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/PingBatchRequest',
    });
    expect(Object.keys(batch.responses).sort()).toEqual(
      ['200', '400', '404', '413', '415', '422', '500', '503'].sort(),
    );
    expect(batch.responses['200'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/BatchResults',
    });
    expect(document.components.schemas.PingBatchRequest.properties.jobs).toMatchObject({
      maxItems: 1000,
      items: { $ref: '#/components/schemas/PingBatchItem' },
    });
    expect(document.components.schemas.TaskBatchItem).toMatchObject({
      required: ['input'],
      additionalProperties: false,
      properties: { input: { $ref: '#/components/schemas/TaskInput' }, priority: { type: 'integer' } },
    });
    const item = document.paths['/task/{id}'];
    expect(Object.keys(item.get.responses).sort()).toEqual(['200', '303', '304', '404', '500', '503']);
    expect(Object.keys(item.delete.responses).sort()).toEqual(['200', '202', '204', '404', '500', '503']);
    expect(item.get.responses['200'].headers).toHaveProperty('Retry-After');
    // Conditional long-polling: the ETag of every job answer, If-None-Match, 304 without a body.
    expect(item.get.parameters.map((p: { $ref: string }) => p.$ref)).toEqual([
      '#/components/parameters/Prefer',
      '#/components/parameters/IfNoneMatch',
    ]);
    expect(document.components.parameters.IfNoneMatch).toMatchObject({ name: 'If-None-Match', in: 'header' });
    // Every job answer: the ETag of the job state, and Operation-Location (the job URL) for Azure-style clients.
    for (const response of [
      item.get.responses['200'],
      item.get.responses['303'],
      item.get.responses['304'],
      item.delete.responses['200'],
      item.delete.responses['202'],
      submit.responses['200'],
      submit.responses['202'],
      submit.responses['303'],
    ]) {
      expect(response.headers.ETag).toEqual({ $ref: '#/components/headers/ETag' });
      expect(response.headers['Operation-Location']).toEqual({
        $ref: '#/components/headers/OperationLocation',
      });
    }
    expect(item.get.responses['304']).not.toHaveProperty('content');
    // HEAD is documented where it is answered: the GET's statuses and headers, without a body.
    expect(Object.keys(item.head.responses).sort()).toEqual(['200', '303', '304', '404', '500', '503']);
    expect(item.head.operationId).toBe('headTaskJob');
    expect(item.head.parameters).toEqual(item.get.parameters);
    expect(item.head.responses['200'].headers).toEqual(item.get.responses['200'].headers);
    for (const path of ['/task', '/task/{id}', '/task/{id}/output', '/task/schedules']) {
      for (const response of Object.values<any>(document.paths[path].head.responses)) {
        expect(response).not.toHaveProperty('content');
        expect(response).not.toHaveProperty('$ref');
        expect(response.description).toEqual(expect.any(String));
      }
    }
    expect(document.paths['/task/{id}/events']).not.toHaveProperty('head');
    expect(document.components.headers.ETag.schema).toEqual({ type: 'string' });
    expect(document.paths['/task/{id}/events'].get.responses['200'].content).toHaveProperty(
      'text/event-stream',
    );
    expect(
      document.paths['/task/{id}/output'].get.responses['200'].content['application/json'].schema,
    ).toEqual({
      $ref: '#/components/schemas/TaskOutput',
    });
    expect(document.paths['/task'].get.responses['200'].headers).toHaveProperty('Link');

    const schemas = document.components.schemas;
    expect(schemas.PingInput).toMatchObject({
      type: 'object',
      properties: { message: { type: 'string', maxLength: 100 } },
      required: ['message'],
    });
    expect(schemas.PingInput).not.toHaveProperty('$schema');
    // Input with defaults: the fields are optional on the way in, present on the way out.
    expect(schemas.TaskInput.required).toEqual(['tag']);
    expect(schemas.TaskInput.properties.steps).toMatchObject({
      type: 'integer',
      default: 0,
      minimum: 0,
      maximum: 10,
    });
    expect(schemas.TaskOutput.required).toEqual(['tag', 'steps']);
    expect(schemas.Job.required).toContain('links');
    expect(schemas.Job.required).toEqual(expect.arrayContaining(['runAt', 'priority']));
    expect(schemas.Job.properties.runAt).toMatchObject({ type: 'string', format: 'date-time' });
    expect(schemas.Job.properties.priority).toMatchObject({ type: 'integer', minimum: -1000, maximum: 1000 });
    expect(schemas.Job.required).not.toContain('resourceLocation');
    expect(schemas.Job.properties.resourceLocation).toMatchObject({
      type: 'string',
      format: 'uri-reference',
    });
    expect(schemas.Job.properties.error.anyOf[0]).toEqual({ $ref: '#/components/schemas/JobError' });
    expect(schemas.JobError.allOf[1]).toMatchObject({ required: ['message'] });
    expect(document.components.responses.PayloadTooLarge.content).toHaveProperty('application/problem+json');
    expect(document.components.responses).not.toHaveProperty('MethodNotAllowed');
    expect(document.components.responses.Unavailable.headers).toHaveProperty('Retry-After');
    expect(document.tags.map((t: { name: string }) => t.name)).toEqual(['ping', 'task']);
  });

  it('turns zod $defs and recursive schemas into components with rewritten references', async () => {
    const Node: z.ZodType<{ name: string; children: unknown[] }> = z.object({
      name: z.string(),
      get children() {
        return z.array(Node);
      },
    });
    const Point = z.object({ x: z.number(), y: z.number() }).meta({ id: 'Point' });
    const tree = defineEndpoint({
      name: 'tree-walk',
      input: z.object({ root: Node, from: Point, to: Point, when: z.date().optional() }),
      output: z.object({ count: z.number().int(), path: z.array(Point) }),
    });
    const document = buildOpenApiDocument({
      endpoints: [tree],
      basePath: '/api',
      maxWaitSeconds: 10,
      maxBodyBytes: 100,
      docsPath: false,
    });
    await validate(document);
    const all = refs(document);
    expect(all.some((ref) => ref.startsWith('#/$defs') || ref === '#')).toBe(false);
    for (const ref of all) expect(resolvePointer(document, ref), ref).toBeDefined();
    const schemas = (document.components as any).schemas;
    expect(schemas.TreeWalkInput_Point).toMatchObject({ type: 'object', required: ['x', 'y'] });
    expect(schemas.TreeWalkOutput.properties.path.items).toEqual({
      $ref: '#/components/schemas/TreeWalkOutput_Point',
    });
    expect(JSON.stringify(schemas.TreeWalkInput)).toContain('#/components/schemas/TreeWalkInput');
    expect((document.paths as any)['/tree-walk/{id}/events']).toBeDefined();
    expect((document.servers as any)[0].url).toBe('/api');
  });

  it('follows the mount path and can be turned off', async () => {
    const nested = await startTestServer({ mount: '/v2/work' });
    const off = await startTestServer({ app: { openapi: false } });
    try {
      const document = await (await get(nested.url('/openapi.json'))).json();
      expect(document.servers).toEqual([{ url: '/v2/work' }]);
      expect((await get(off.url('/openapi.json'))).status).toBe(404);
      expect((await get(off.url('/docs'))).status).toBe(404);
    } finally {
      await nested.close();
      await off.close();
    }
  });
});

describe('GET /docs', () => {
  it('serves a self-contained reference page that loads the document of its mount', async () => {
    const response = await get(server.url('/docs'));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await response.text();
    expect(html).toContain('<title>Test jobs – API reference</title>');
    expect(html).toContain('{"specUrl":"/jobs/openapi.json"}');
    // Offline: no external script, style or font.
    expect(html).not.toMatch(/<(script|link)[^>]+(src|href)=["']https?:/i);
    expect(html).not.toContain('@import');
    // The inline script parses.
    const script = /<script>([\s\S]*)<\/script>/.exec(html)![1]!;
    expect(() => new Function(script)).not.toThrow();
  });

  it('escapes the title and can live at another path', async () => {
    const custom = await startTestServer({
      app: { openapi: { title: '<img src=x onerror=alert(1)>', docsPath: '/reference' } },
    });
    try {
      expect((await get(custom.url('/docs'))).status).toBe(404);
      const html = await (await get(custom.url('/reference'))).text();
      expect(html).not.toContain('<img src=x');
      expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    } finally {
      await custom.close();
    }
  });
});
