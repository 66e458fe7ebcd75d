import { el } from './dom.js';
import { example } from './example.js';
import { showResponse } from './response.js';
import { resolve, serverBase } from './spec.js';
import type { Operation, Parameter, Schema } from './types.js';

interface Field {
  param: Parameter;
  input: HTMLInputElement | HTMLSelectElement;
}

/**
 * The "try it" form of an operation: an input per parameter, the JSON body (prefilled with an example), a
 * Send button (Open stream for an event stream; Stop while a stream or a job is followed), the equivalent curl
 * command and the answer, with a live view of the job it is about.
 */
export function tryIt(
  path: string,
  method: string,
  op: Operation,
  params: Parameter[],
  bodySchema: Schema | undefined,
  headersBox: HTMLTextAreaElement,
): HTMLDivElement {
  const box = el('div', { className: 'try' });
  box.appendChild(el('strong', { text: 'Try it' }));
  const tag = (op.tags || [])[0] || '';
  const fields = params.map((p) => field(p, tag));
  fields.forEach(({ param: p, input }) => {
    const where = p.in === 'path' ? ' (path)' : p.in === 'query' ? ' (query)' : ' (header)';
    box.appendChild(el('label', null, [el('span', { text: p.name + where }), input]));
  });
  let body: HTMLTextAreaElement | null = null;
  if (bodySchema) {
    body = el('textarea', { rows: '6', spellcheck: 'false' });
    body.value = JSON.stringify(example(bodySchema), null, 2);
    box.appendChild(el('label', null, [el('span', { text: 'body (JSON)' })]));
    box.appendChild(body);
  }
  const ok = op.responses?.['200'] && resolve(op.responses['200']).content;
  const isStream = !!ok?.['text/event-stream'];
  const send = el('button', { type: 'button', text: isStream ? 'Open stream' : 'Send' });
  const stop = el('button', { type: 'button', className: 'secondary', text: 'Stop' });
  stop.style.display = 'none';
  const curl = el('pre', { className: 'muted' });
  const result = el('div');
  box.appendChild(el('div', { style: 'margin-top:6px' }, [send, stop]));
  box.appendChild(curl);
  box.appendChild(result);
  let controller: AbortController | null = null;

  send.addEventListener('click', () => {
    let url = serverBase() + path;
    const query: string[] = [];
    const headers = parseHeaderLines(headersBox.value);
    const missing: string[] = [];
    fields.forEach(({ param: p, input }) => {
      const value = input.value.trim();
      const name = p.name || '';
      if (!value) {
        if (p.required) missing.push(name);
        return;
      }
      if (p.in === 'path') url = url.replace(`{${name}}`, encodeURIComponent(value));
      else if (p.in === 'query') query.push(`${encodeURIComponent(name)}=${encodeURIComponent(value)}`);
      else if (p.in === 'header') headers[name] = value;
    });
    result.textContent = '';
    if (missing.length) {
      result.appendChild(el('p', { className: 'status-err', text: `Missing: ${missing.join(', ')}` }));
      return;
    }
    if (query.length) url += `?${query.join('&')}`;
    const init: RequestInit = { method: method.toUpperCase(), headers };
    if (body) {
      headers['Content-Type'] = 'application/json';
      init.body = body.value;
    }
    curl.textContent = curlCommand(new URL(url, location.href).href, init, headers, isStream);
    controller = new AbortController();
    init.signal = controller.signal;
    stop.style.display = isStream ? '' : 'none';
    const started = Date.now();
    const signal = controller.signal;
    const onFollow = () => {
      stop.style.display = '';
    };
    const pageHeaders = parseHeaderLines(headersBox.value);
    fetch(url, init)
      .then((response) =>
        showResponse(response, result, { isStream, started, headers: pageHeaders, signal, onFollow }),
      )
      .catch((error) => {
        if (error && error.name === 'AbortError')
          result.appendChild(el('p', { className: 'muted', text: 'Stopped.' }));
        else result.appendChild(el('p', { className: 'status-err', text: String(error) }));
      })
      .then(() => {
        stop.style.display = 'none';
      });
  });
  stop.addEventListener('click', () => {
    if (controller) controller.abort();
  });
  return box;
}

/** The input of a parameter: a select for an enum, a text field otherwise. */
function field(p: Parameter, tag: string): Field {
  const schema = resolve(p.schema || {});
  let input: HTMLInputElement | HTMLSelectElement;
  if (schema.enum) {
    const options = schema.enum.map((v) => el('option', { value: String(v), text: String(v) }));
    input = el('select', null, [el('option', { value: '', text: '' })].concat(options));
  } else {
    input = el('input', { type: 'text', placeholder: p.name === 'Prefer' ? 'wait=10' : '' });
  }
  if (p.in === 'path' && p.name === 'id') input.setAttribute('data-job-id', tag);
  return { param: p, input };
}

/** `Name: value` lines (the page's header settings) as headers. */
function parseHeaderLines(text: string): Record<string, string> {
  const headers: Record<string, string> = {};
  String(text || '')
    .split(/\r?\n/)
    .forEach((line) => {
      const i = line.indexOf(':');
      if (i > 0) {
        const name = line.slice(0, i).trim();
        const value = line.slice(i + 1).trim();
        if (name) headers[name] = value;
      }
    });
  return headers;
}

function curlCommand(url: string, init: RequestInit, headers: Record<string, string>, stream: boolean) {
  const parts = [`curl -i ${stream ? '-N ' : ''}-X ${init.method} ${shellQuote(url)}`];
  Object.keys(headers).forEach((h) => {
    parts.push(`-H ${shellQuote(`${h}: ${headers[h]}`)}`);
  });
  if (init.body !== undefined) parts.push(`--data ${shellQuote(String(init.body))}`);
  return parts.join(' \\\n  ');
}

function shellQuote(value: string): string {
  return `'${String(value).replace(/'/g, "'\\''")}'`;
}
