// References to the document's components, and the shapes built from them that operations repeat.

export type JsonSchema = Record<string, unknown>;

export type ComponentKind = 'schemas' | 'parameters' | 'headers' | 'responses';

export function ref(kind: ComponentKind, name: string) {
  return { $ref: `#/components/${kind}/${name}` };
}

/** The response header each header component describes (see `headers()` in components.ts). */
const HEADER_NAMES = {
  Location: 'Location',
  OperationLocation: 'Operation-Location',
  OutputLocation: 'Location',
  ContentLocation: 'Content-Location',
  ETag: 'ETag',
  RetryAfter: 'Retry-After',
  PreferenceApplied: 'Preference-Applied',
  IdempotentReplayed: 'Idempotent-Replayed',
  UniqueMatch: 'Job-Unique-Match',
  Vary: 'Vary',
  Link: 'Link',
  CacheControl: 'Cache-Control',
} as const;

export type HeaderComponent = keyof typeof HEADER_NAMES;

/** The `headers` of a response: `headerRefs('ETag', 'RetryAfter')` → `{ ETag: {$ref}, 'Retry-After': {$ref} }`. */
export function headerRefs(...components: HeaderComponent[]): Record<string, { $ref: string }> {
  return Object.fromEntries(components.map((name) => [HEADER_NAMES[name], ref('headers', name)]));
}

/** `content` of a JSON body with the schema component `schema`. */
export function jsonContent(schema: string) {
  return { 'application/json': { schema: ref('schemas', schema) } };
}

/** A response whose body is a job. */
export function jobResponse(description: string, headers: Record<string, unknown>) {
  return { description, headers, content: jsonContent('Job') };
}
