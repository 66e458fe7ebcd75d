import { resolve } from './spec.js';
import type { Schema } from './types.js';

/** A value that matches `schema`, for the request body of a "try it" form. */
export function example(schema: Schema, depth = 0): unknown {
  const s = resolve(schema);
  if (depth > 8) return null;
  if (s.examples?.length) return s.examples[0];
  if (s.example !== undefined) return s.example;
  if (s.default !== undefined) return s.default;
  if (s.const !== undefined) return s.const;
  if (s.enum?.length) return s.enum[0];
  const alternatives = s.anyOf || s.oneOf;
  if (alternatives) {
    const firstNonNull = alternatives.filter((a) => resolve(a).type !== 'null')[0];
    return firstNonNull ? example(firstNonNull, depth + 1) : null;
  }
  if (s.allOf) {
    const merged = {};
    s.allOf.forEach((part) => {
      const v = example(part, depth + 1);
      if (v && typeof v === 'object') Object.assign(merged, v);
    });
    return merged;
  }
  let type = Array.isArray(s.type) ? s.type.filter((t) => t !== 'null')[0] : s.type;
  if (!type && s.properties) type = 'object';
  switch (type) {
    case 'object':
      return objectExample(s, depth);
    case 'array': {
      const n = s.minItems || 1;
      const items: unknown[] = [];
      for (let i = 0; i < Math.min(n, 3); i++) items.push(example(s.items || {}, depth + 1));
      return items;
    }
    case 'integer':
    case 'number':
      if (s.minimum !== undefined) return s.minimum;
      if (s.exclusiveMinimum !== undefined) return s.exclusiveMinimum + 1;
      if (s.maximum !== undefined) return Math.min(0, s.maximum);
      return type === 'integer' ? 1 : 1.5;
    case 'boolean':
      return false;
    case 'string':
      return stringExample(s);
    case 'null':
      return null;
    default:
      return {};
  }
}

/** The required properties (all of them when none is required). */
function objectExample(s: Schema, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const req = s.required || [];
  const properties = s.properties || {};
  Object.keys(properties)
    .filter((k) => req.length === 0 || req.indexOf(k) !== -1)
    .forEach((k) => {
      out[k] = example(properties[k] as Schema, depth + 1);
    });
  return out;
}

function stringExample(s: Schema): string {
  if (s.format === 'date-time') return new Date().toISOString();
  if (s.format === 'date') return new Date().toISOString().slice(0, 10);
  if (s.format === 'email') return 'user@example.com';
  if (s.format === 'uri' || s.format === 'url') return 'https://example.com/';
  if (s.format === 'uuid') return '00000000-0000-4000-8000-000000000000';
  let str = 'string';
  if (s.minLength && s.minLength > str.length) str = new Array(s.minLength + 1).join('x');
  if (s.maxLength && s.maxLength < str.length) str = str.slice(0, s.maxLength);
  return str;
}
