import { el } from './dom.js';
import { refName, resolve } from './spec.js';
import type { Schema } from './types.js';

const CONSTRAINTS = [
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'pattern',
  'default',
  'const',
] as const;

/** A short type description: `string (uuid)`, `array of Job`, `Job`, `JobStatus: string`, `a | b`, … */
export function typeLabel(schema: Schema): string {
  const name = refName(schema);
  const s = resolve(schema);
  let t = Array.isArray(s.type) ? s.type.join(' | ') : s.type;
  if (!t && s.enum) t = 'enum';
  const alternatives = s.anyOf || s.oneOf;
  if (!t && alternatives) t = alternatives.map(typeLabel).join(' | ');
  if (!t && s.allOf) t = s.allOf.map(typeLabel).join(' & ');
  if (t === 'array' && s.items) t = `array of ${typeLabel(s.items)}`;
  if (!t) t = 'any';
  if (s.format) t += ` (${s.format})`;
  return name ? name + (t === 'object' ? '' : `: ${t}`) : t;
}

/** The schema's constraints and enum, e.g. `minimum: 0 · maximum: 1`. */
export function constraints(s: Schema): string {
  const out: string[] = [];
  CONSTRAINTS.forEach((k) => {
    if (s[k] !== undefined) out.push(`${k}: ${JSON.stringify(s[k])}`);
  });
  if (s.enum) out.push(`one of ${s.enum.map((v) => JSON.stringify(v)).join(', ')}`);
  return out.join(' · ');
}

/** A schema as a tree: type, constraints, description, properties (nested ones folded), alternatives. */
export function schemaView(schema: Schema, depth = 0, seen: string[] = []): HTMLDivElement {
  const name = refName(schema);
  const s = resolve(schema);
  const box = el('div', { className: 'schema' });
  const head = el('div', null, [el('span', { className: 'type', text: typeLabel(schema) })]);
  const c = constraints(s);
  if (c) head.appendChild(el('span', { className: 'muted', text: `  ${c}` }));
  box.appendChild(head);
  if (s.description) box.appendChild(el('div', { className: 'muted', text: s.description }));
  if (depth > 6 || (name && seen.indexOf(name) !== -1)) return box;
  const nextSeen = name ? seen.concat([name]) : seen;
  const list = el('ul');
  const props = s.properties || {};
  const required = s.required || [];
  Object.keys(props).forEach((key) => {
    list.appendChild(propertyView(key, props[key] as Schema, required.indexOf(key) !== -1, depth, nextSeen));
  });
  (['anyOf', 'oneOf', 'allOf'] as const).forEach((k) => {
    const alternatives = s[k];
    if (!alternatives) return;
    alternatives.forEach((alt) => {
      if (resolve(alt).type === 'null') return;
      const label = el('span', { className: 'muted', text: `${k}: ` });
      list.appendChild(el('li', null, [label, schemaView(alt, depth + 1, nextSeen)]));
    });
  });
  const extra = s.additionalProperties;
  if (extra && typeof extra === 'object' && Object.keys(extra).length) {
    const key = el('span', { className: 'prop', text: '[key]' });
    list.appendChild(el('li', null, [key, ' ', schemaView(extra, depth + 1, nextSeen)]));
  }
  if (list.childNodes.length) box.appendChild(list);
  return box;
}

function propertyView(key: string, p: Schema, required: boolean, depth: number, seen: string[]) {
  const ps = resolve(p);
  const li = el('li', null, [
    el('span', { className: 'prop', text: key }),
    required ? el('span', { className: 'req', text: 'required' }) : null,
    ' ',
  ]);
  const nested =
    ps.properties || (ps.items && resolve(ps.items).properties) || ps.anyOf || ps.oneOf || ps.allOf;
  if (nested) {
    const d = el('details', null, [
      el('summary', null, [el('span', { className: 'type', text: typeLabel(p) })]),
    ]);
    d.appendChild(schemaView(ps.items && !ps.properties ? ps.items : p, depth + 1, seen));
    li.appendChild(d);
  } else {
    li.appendChild(el('span', { className: 'type', text: typeLabel(p) }));
    const pc = constraints(ps);
    if (pc) li.appendChild(el('span', { className: 'muted', text: `  ${pc}` }));
    if (ps.description) li.appendChild(el('div', { className: 'muted', text: ps.description }));
  }
  return li;
}
