import { el, richText } from './dom.js';
import { schemaView, typeLabel } from './schema.js';
import { resolve } from './spec.js';
import { tryIt } from './try-it.js';
import type { Operation, Parameter } from './types.js';

/** The card of one operation: summary, description, parameters, request body, responses and its form. */
export function renderOperation(
  path: string,
  method: string,
  op: Operation,
  pathParams: Parameter[],
  headersBox: HTMLTextAreaElement,
): HTMLElement {
  const id = `op-${op.operationId || (method + path).replace(/[^a-zA-Z0-9]/g, '-')}`;
  const card = el('section', { className: 'card op', id });
  card.appendChild(
    el('h3', null, [
      el('span', { className: `method ${method}`, text: method }),
      el('span', { className: 'path', text: path }),
      el('span', { className: 'muted', text: op.summary || '' }),
    ]),
  );
  if (op.description) card.appendChild(richText(op.description));
  const params = (pathParams || []).concat(op.parameters || []).map((p) => resolve(p));
  if (params.length) card.appendChild(parameterTable(params));
  const json = op.requestBody?.content?.['application/json'];
  const bodySchema = json?.schema;
  if (bodySchema) {
    const bd = el('details', { open: '' }, [el('summary', { text: 'Request body (application/json)' })]);
    bd.appendChild(schemaView(bodySchema));
    card.appendChild(bd);
  }
  card.appendChild(responses(op));
  card.appendChild(tryIt(path, method, op, params, bodySchema, headersBox));
  return card;
}

function row(cells: Node[]): HTMLTableRowElement {
  return el('tr', null, cells);
}

function headings(...names: string[]): HTMLTableRowElement {
  return row(names.map((text) => el('th', { text })));
}

function parameterTable(params: Parameter[]): HTMLTableElement {
  const table = el('table', null, [headings('Parameter', 'In', 'Type', 'Description')]);
  params.forEach((p) => {
    const name = el('td', null, [
      el('code', { text: p.name || '' }),
      p.required ? el('span', { className: 'req', text: 'required' }) : null,
    ]);
    const where = el('td', { text: p.in || '' });
    const type = el('td', { text: typeLabel(p.schema || {}) });
    table.appendChild(row([name, where, type, el('td', null, [richText(p.description || '')])]));
  });
  return table;
}

function responses(op: Operation): HTMLDetailsElement {
  const rd = el('details', null, [el('summary', { text: 'Responses' })]);
  const rt = el('table', null, [headings('Status', 'Description', 'Headers', 'Body')]);
  const all = op.responses || {};
  Object.keys(all).forEach((code) => {
    const r = resolve(all[code]);
    const headerCell = el('td');
    Object.keys(r.headers || {}).forEach((h) => {
      headerCell.appendChild(el('div', null, [el('code', { text: h })]));
    });
    const bodyCell = el('td');
    const content = r.content || {};
    Object.keys(content).forEach((type) => {
      const d = el('details', null, [el('summary', { text: type })]);
      d.appendChild(schemaView(content[type]?.schema || {}));
      bodyCell.appendChild(d);
    });
    const status = el('td', null, [el('code', { text: code })]);
    rt.appendChild(row([status, el('td', null, [richText(r.description || '')]), headerCell, bodyCell]));
  });
  rd.appendChild(rt);
  return rd;
}
