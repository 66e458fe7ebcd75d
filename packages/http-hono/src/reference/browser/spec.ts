import type { OpenApiDocument, Reference } from './types.js';

let spec: OpenApiDocument | null = null;

/** Sets the document that references are resolved in. */
export function setSpec(doc: OpenApiDocument): void {
  spec = doc;
}

/** The server URL of the document, without a trailing slash ('' when it has none). */
export function serverBase(): string {
  const server = spec?.servers?.[0]?.url || '';
  return server.replace(/\/$/, '');
}

/** Follows `$ref`s (local JSON pointers, at most 20 in a row); `{}` when one cannot be followed. */
export function resolve<T extends Reference>(node: T | undefined): T {
  let current: unknown = node;
  let seen = 0;
  while (isReference(current) && seen < 20) {
    const parts = current.$ref.replace(/^#\//, '').split('/');
    let target: unknown = spec;
    parts.forEach((p) => {
      target = target
        ? (target as Record<string, unknown>)[p.replace(/~1/g, '/').replace(/~0/g, '~')]
        : undefined;
    });
    current = target;
    seen++;
  }
  return (current || {}) as T;
}

/** The last segment of a `$ref` (the component's name), or null when `node` is not a reference. */
export function refName(node: Reference | undefined): string | null {
  return node?.$ref ? (node.$ref.split('/').pop() as string) : null;
}

function isReference(node: unknown): node is { $ref: string } {
  return !!node && !!(node as Reference).$ref;
}
