// The answer of a "try it" request: status, time, headers and body, and for a job (a body that is one, or an
// event stream of one) a live view of it: status, progress bar, time left, output.
import { el } from './dom.js';
import { followJob, isJob, jobView, showEvent } from './job-view.js';
import { readEvents } from './sse.js';

export interface ShowOptions {
  /** The operation answers an event stream. */
  isStream: boolean;
  /** When the request was sent (Date.now()). */
  started: number;
  /** The page's headers, for the requests the job view makes. */
  headers: Record<string, string>;
  /** Aborts the request and any watch of the job. */
  signal: AbortSignal;
  /** Called when the answer goes on after it arrived (a stream, a job followed): the Stop button shows. */
  onFollow: () => void;
}

/** Shows an answer in `result`; settles when nothing more will come (the stream or the job's watch ended). */
export function showResponse(response: Response, result: HTMLElement, options: ShowOptions): Promise<void> {
  const statusClass = response.ok || response.status === 304 ? 'status-ok' : 'status-err';
  result.appendChild(
    el('p', null, [
      el('span', { className: statusClass, text: `${response.status} ${response.statusText}` }),
      ' ',
      el('span', { className: 'muted', text: `${Date.now() - options.started} ms` }),
    ]),
  );
  if (response.redirected) {
    result.appendChild(el('p', { className: 'muted', text: `Followed a redirect (303) to ${response.url}` }));
    const target = /\/([a-z][a-z0-9_-]*)\/([0-9a-f-]{36})\/output$/.exec(new URL(response.url).pathname);
    if (target) rememberJob(target[1] as string, target[2] as string);
  }
  const headerLines: string[] = [];
  response.headers.forEach((value, name) => {
    headerLines.push(`${name}: ${value}`);
  });
  result.appendChild(el('pre', { text: headerLines.join('\n') }));
  if (options.isStream && response.body && response.ok) return showStream(response.body, result, options);
  const out = el('pre');
  result.appendChild(out);
  return response.text().then((text) => {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      out.textContent = text || '(empty body)';
      return;
    }
    out.textContent = JSON.stringify(json, null, 2);
    if (!isJob(json)) return;
    rememberJob(json.endpoint, json.id);
    const followed = followJob(json, options.headers, options.signal);
    result.insertBefore(followed.element, out);
    options.onFollow();
    return followed.done;
  });
}

/** An event stream of a job: the job as it changes, and the raw events under a fold. */
function showStream(
  body: ReadableStream<Uint8Array>,
  result: HTMLElement,
  options: ShowOptions,
): Promise<void> {
  const view = jobView(options.headers, options.signal);
  const raw = el('pre', { className: 'job-raw' });
  result.appendChild(view.element);
  result.appendChild(el('details', null, [el('summary', { text: 'Raw events' }), raw]));
  options.onFollow();
  return readEvents(
    body,
    (event) => showEvent(view, event.event, event.data),
    (text) => {
      raw.textContent += text;
    },
  ).then(
    () => {
      raw.textContent += '\n[stream closed]';
      view.end();
    },
    (error) => {
      view.end();
      throw error;
    },
  );
}

/** Fills the job id field of the endpoint's forms with the job last seen. */
function rememberJob(tag: string, id: string): void {
  document.querySelectorAll('input[data-job-id]').forEach((input) => {
    if (input.getAttribute('data-job-id') === tag) (input as HTMLInputElement).value = id;
  });
}
