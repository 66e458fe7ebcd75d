// The parts of an OpenAPI 3.1 document the reference page reads. Every field is optional: the page renders
// whatever document it gets, and `resolve` answers `{}` for a reference it cannot follow.

export interface Reference {
  $ref?: string;
}

export interface Schema extends Reference {
  type?: string | string[];
  format?: string;
  description?: string;
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  example?: unknown;
  examples?: unknown[];
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
}

export interface Parameter extends Reference {
  name?: string;
  in?: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  description?: string;
  schema?: Schema;
}

export interface MediaType {
  schema?: Schema;
}

export interface ResponseObject extends Reference {
  description?: string;
  headers?: Record<string, unknown>;
  content?: Record<string, MediaType>;
}

export interface Operation {
  operationId?: string;
  summary?: string;
  description?: string;
  tags?: string[];
  parameters?: Parameter[];
  requestBody?: { content?: Record<string, MediaType> };
  responses?: Record<string, ResponseObject>;
}

export type Method = 'get' | 'post' | 'delete' | 'put' | 'patch';

export type PathItem = { parameters?: Parameter[] } & { [method in Method]?: Operation };

export interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string; description?: string };
  servers?: Array<{ url: string }>;
  tags?: Array<{ name: string; description?: string }>;
  paths: Record<string, PathItem>;
  components?: { schemas?: Record<string, Schema> };
}

/** A problem (RFC 9457) as the page shows it. */
export interface Problem {
  title?: string;
  detail?: string;
  code?: string;
}

/** A job (the API's `Job` schema), as far as the page shows it. */
export interface Job {
  id: string;
  endpoint: string;
  status: string;
  attempt?: number;
  maxAttempts?: number;
  progress?: { fraction: number; message?: string } | null;
  estimatedCompletionAt?: string | null;
  error?: Problem | null;
  cancelRequested?: boolean;
  links: { self: string; events: string; output?: string };
}
