import type { Endpoint } from '@jobs/core';
import { batchResultSchemas, batchSchemas } from './openapi/batch.js';
import { headers, parameters } from './openapi/components.js';
import { endpointPaths, operationContext } from './openapi/operations.js';
import { problemResponses } from './openapi/problems.js';
import type { JsonSchema } from './openapi/refs.js';
import { addZodSchema, baseSchemas } from './openapi/schemas.js';

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
  /** info.contact: who answers for this API (name, url, email). Linters ask for it; only you know it. */
  contact?: { name?: string; url?: string; email?: string };
  /** info.license of this API, e.g. `{ name: 'MIT', identifier: 'MIT' }`. Linters ask for it too. */
  license?: { name: string; identifier?: string; url?: string };
  /**
   * components.securitySchemes: how callers authenticate, when your `owner` hook (or a middleware in front)
   * reads credentials, e.g. `{ bearer: { type: 'http', scheme: 'bearer' } }`.
   */
  securitySchemes?: Record<string, Record<string, unknown>>;
  /**
   * The document's `security` requirement, e.g. `[{ bearer: [] }]`. Default `[]`: the app itself asks for no
   * credentials (say so explicitly, as linters want).
   */
  security?: Array<Record<string, string[]>>;
}

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
\`Job-Run-At\` or \`Job-Delay\` delays a submitted job, \`Job-Priority\` orders it among due jobs, and
\`POST /{endpoint}/batch\` submits many jobs at once (each stored or refused on its own).

Every error is \`application/problem+json\` (RFC 9457) with a stable \`type\` URI and a \`code\`.
A method a resource does not support answers \`405\` with \`Allow\`. \`HEAD\` is answered
like \`GET\`, without the body, on jobs, outputs and lists.

Job answers also carry \`Operation-Location\` (the job URL) and a succeeded job has \`resourceLocation\` (the output
URL), as Azure-style long-running operation clients expect.`;

/**
 * Builds the OpenAPI 3.1 document of the given endpoints, their schemas converted with `z.toJSONSchema`.
 * The parts are in `openapi/`: schemas, parameters and headers, the operations, the problem responses.
 */
export function buildOpenApiDocument(options: OpenApiBuildOptions): Record<string, unknown> {
  const schemas: Record<string, JsonSchema> = { ...baseSchemas(), ...batchResultSchemas() };
  const paths: Record<string, unknown> = {};
  const tags: Array<{ name: string; description?: string }> = [];
  const limits = { maxWaitSeconds: options.maxWaitSeconds, maxBodyBytes: options.maxBodyBytes };

  for (const endpoint of options.endpoints) {
    const op = operationContext(endpoint, limits);
    addZodSchema(schemas, op.inputSchema, endpoint.input, 'input');
    addZodSchema(schemas, op.outputSchema, endpoint.output, 'output');
    Object.assign(schemas, batchSchemas(op));
    tags.push({
      name: endpoint.name,
      ...(endpoint.description ? { description: endpoint.description } : {}),
    });
    Object.assign(paths, endpointPaths(op));
  }
  // The reference page and this document are not operations of the API (externalDocs would need an absolute URL).
  const reference = options.docsPath
    ? `The interactive reference of this API is at \`${options.basePath}${options.docsPath}\`.`
    : '';

  return {
    openapi: '3.1.0',
    info: {
      title: options.title ?? 'Jobs API',
      version: options.version ?? '1.0.0',
      description: [options.description, CONTRACT.trim(), reference].filter(Boolean).join('\n\n'),
      ...(options.contact ? { contact: options.contact } : {}),
      ...(options.license ? { license: options.license } : {}),
    },
    servers: options.servers ?? [{ url: options.basePath || '/' }],
    security: options.security ?? [],
    tags,
    paths,
    components: {
      schemas,
      parameters: parameters(options.maxWaitSeconds),
      headers: headers(),
      responses: problemResponses(options.maxBodyBytes),
      ...(options.securitySchemes ? { securitySchemes: options.securitySchemes } : {}),
    },
  };
}
