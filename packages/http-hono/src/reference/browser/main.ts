// The script of the reference page (../page.ts): loads the OpenAPI document named in the page's
// `#jobs-config` JSON and renders it. Bundled into one ES2017 script by ../../../build-reference-script.ts.
import { el, richText } from './dom.js';
import { renderOperation } from './operation.js';
import { schemaView } from './schema.js';
import { serverBase, setSpec } from './spec.js';
import type { Method, OpenApiDocument, Operation, Parameter } from './types.js';

interface Entry {
  path: string;
  method: Method;
  op: Operation;
  params: Parameter[];
}

const HEADERS_KEY = 'jobs-reference-headers';
const METHODS: Method[] = ['post', 'get', 'delete', 'put', 'patch'];

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  return document.getElementById(id) as T;
}

const config = JSON.parse(byId('jobs-config').textContent || '{}') as { specUrl: string };
const headersBox = byId<HTMLTextAreaElement>('global-headers');
try {
  headersBox.value = localStorage.getItem(HEADERS_KEY) || '';
} catch {
  // no storage (private mode, file://): the settings last as long as the page
}
headersBox.addEventListener('input', () => {
  try {
    localStorage.setItem(HEADERS_KEY, headersBox.value);
  } catch {
    // as above
  }
});
byId<HTMLAnchorElement>('spec-link').href = config.specUrl;

function render(doc: OpenApiDocument): void {
  setSpec(doc);
  byId('title').textContent = doc.info.title;
  document.title = `${doc.info.title} – API reference`;
  byId('version').textContent = `v${doc.info.version} · OpenAPI ${doc.openapi}`;
  const intro = byId('intro');
  intro.appendChild(richText(doc.info.description || ''));
  intro.appendChild(el('p', { className: 'muted', text: `Server: ${serverBase() || '/'}` }));
  const content = byId('content');
  const nav = byId('nav');
  content.textContent = '';
  const byTag: Record<string, Entry[]> = {};
  const order = (doc.tags || []).map((t) => t.name);
  Object.keys(doc.paths).forEach((path) => {
    const item = doc.paths[path] || {};
    METHODS.forEach((method) => {
      const op = item[method];
      if (!op) return;
      const tag = (op.tags || ['default'])[0] as string;
      if (order.indexOf(tag) === -1) order.push(tag);
      const entries = byTag[tag] || [];
      byTag[tag] = entries;
      entries.push({ path, method, op, params: item.parameters || [] });
    });
  });
  order.forEach((tag) => {
    const ops = byTag[tag];
    if (!ops) return;
    const info = (doc.tags || []).filter((t) => t.name === tag)[0];
    const section = el('section', { id: `tag-${tag}` }, [el('h2', { text: tag })]);
    if (info?.description) section.appendChild(richText(info.description));
    nav.appendChild(el('h3', { text: tag }));
    ops.forEach((entry) => {
      const card = renderOperation(entry.path, entry.method, entry.op, entry.params, headersBox);
      section.appendChild(card);
      const label = el('span', { className: `method ${entry.method}`, text: entry.method });
      nav.appendChild(el('a', { href: `#${card.id}` }, [label, ' ', entry.path]));
    });
    content.appendChild(section);
  });
  content.appendChild(schemas(doc, nav));
}

function schemas(doc: OpenApiDocument, nav: HTMLElement): HTMLElement {
  const section = el('section', { id: 'schemas' }, [el('h2', { text: 'Schemas' })]);
  nav.appendChild(el('h3', { text: 'Schemas' }));
  Object.keys(doc.components?.schemas || {}).forEach((name) => {
    const card = el('section', { className: 'card', id: `schema-${name}` }, [el('h3', { text: name })]);
    card.appendChild(schemaView({ $ref: `#/components/schemas/${name}` }));
    section.appendChild(card);
    nav.appendChild(el('a', { href: `#schema-${name}`, text: name }));
  });
  return section;
}

fetch(config.specUrl, { headers: { Accept: 'application/json' } })
  .then((r) => {
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    return r.json();
  })
  .then(render)
  .catch((error) => {
    byId('content').textContent = `Could not load ${config.specUrl}: ${error}`;
  });
