// A job as a person wants to see it: its status, a progress bar with the worker's message and the time left,
// and once it is done its output (or why it failed). It follows the job's event stream while it runs.
import { el } from './dom.js';
import { readEvents } from './sse.js';
import type { Job, Problem } from './types.js';

const FINAL = ['succeeded', 'failed', 'canceled'];

/** Whether `value` is a job representation (a body the page should show as a job). */
export function isJob(value: unknown): value is Job {
  const job = value as Job | null;
  return (
    !!job &&
    typeof job === 'object' &&
    typeof job.id === 'string' &&
    typeof job.status === 'string' &&
    !!job.links &&
    typeof job.links.events === 'string'
  );
}

export interface JobView {
  element: HTMLElement;
  /** Shows this state of the job (and, once it succeeded, fetches and shows its output). */
  update(job: Job): void;
  /** Shows a problem that ended the watch (an `error` event, a failed request). */
  fail(problem: Problem): void;
  /** The watch ended: stops the clock. */
  end(): void;
}

/** An empty job view; `headers` go with the request for the output (the page's settings). */
export function jobView(headers: Record<string, string>, signal: AbortSignal): JobView {
  const status = el('span', { className: 'job-status' });
  const attempt = el('span', { className: 'muted' });
  const bar = el('progress', { className: 'job-bar', max: '1', value: '0' });
  const label = el('span', { className: 'job-progress' });
  const eta = el('span', { className: 'job-eta muted' });
  const outcome = el('div', { className: 'job-outcome' });
  const element = el('div', { className: 'job-view', 'aria-live': 'polite' }, [
    el('div', { className: 'job-head' }, [status, ' ', attempt]),
    el('div', { className: 'job-line' }, [bar, ' ', label]),
    eta,
    outcome,
  ]);
  let current: Job | null = null;
  let outputFetched = false;
  const clock = setInterval(() => showEta(), 1000);
  signal.addEventListener('abort', () => clearInterval(clock));

  function showEta(): void {
    const at = current?.estimatedCompletionAt;
    if (!current || FINAL.indexOf(current.status) !== -1 || !at) {
      eta.textContent = '';
      return;
    }
    const seconds = Math.round((new Date(at).getTime() - Date.now()) / 1000);
    const when = new Date(at).toLocaleTimeString();
    eta.textContent =
      seconds > 0 ? `about ${duration(seconds)} left (done around ${when})` : 'due any moment';
  }

  function update(job: Job): void {
    current = job;
    status.textContent = job.cancelRequested && job.status === 'running' ? 'canceling' : job.status;
    status.className = `job-status job-${job.status}`;
    attempt.textContent = job.maxAttempts ? `attempt ${job.attempt || 0} of ${job.maxAttempts}` : '';
    const fraction = job.status === 'succeeded' ? 1 : job.progress ? job.progress.fraction : 0;
    bar.value = fraction;
    bar.setAttribute('aria-valuenow', String(fraction));
    const message = job.progress?.message;
    label.textContent = `${Math.round(fraction * 100)} %${message ? ` · ${message}` : ''}`;
    showEta();
    if (FINAL.indexOf(job.status) === -1) return;
    clearInterval(clock);
    if (job.status !== 'succeeded') {
      if (job.error) fail(job.error);
      return;
    }
    if (job.links.output && !outputFetched) {
      outputFetched = true;
      fetchOutput(job.links.output, headers, signal).then(
        (text) => {
          outcome.textContent = '';
          outcome.appendChild(el('strong', { text: 'Output' }));
          outcome.appendChild(el('pre', { className: 'job-output', text: text }));
        },
        (error) => fail({ title: 'The output could not be read', detail: String(error) }),
      );
    }
  }

  function fail(problem: Problem): void {
    outcome.textContent = '';
    const text = [problem.title, problem.detail].filter(Boolean).join(': ');
    outcome.appendChild(el('p', { className: 'status-err job-error', text: text || 'Failed' }));
  }

  return { element, update, fail, end: () => clearInterval(clock) };
}

/**
 * A view of `job` that follows it to its final state through its event stream (at once when it is final).
 * `done` settles when the watch ends.
 */
export function followJob(
  job: Job,
  headers: Record<string, string>,
  signal: AbortSignal,
): { element: HTMLElement; done: Promise<void> } {
  const view = jobView(headers, signal);
  view.update(job);
  if (FINAL.indexOf(job.status) !== -1) {
    view.end();
    return { element: view.element, done: Promise.resolve() };
  }
  const done = fetch(job.links.events, { headers: { ...headers, Accept: 'text/event-stream' }, signal })
    .then((response) => {
      if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
      return readEvents(response.body, (event) => showEvent(view, event.event, event.data), noop);
    })
    .catch((error) => {
      if (!signal.aborted) view.fail({ title: 'Stopped following the job', detail: String(error) });
    })
    .then(() => view.end());
  return { element: view.element, done };
}

/** Applies one event of a job's stream to its view: a job state, or a problem that ends it. */
export function showEvent(view: JobView, name: string, data: string): void {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return;
  }
  if (name === 'error') view.fail(value as Problem);
  else if (isJob(value)) view.update(value);
}

function fetchOutput(url: string, headers: Record<string, string>, signal: AbortSignal): Promise<string> {
  return fetch(url, { headers, signal })
    .then((response) => {
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      return response.text();
    })
    .then((text) => {
      try {
        return JSON.stringify(JSON.parse(text), null, 2);
      } catch {
        return text;
      }
    });
}

/** `75 s`, `3 min`, `2 h 5 min`. */
function duration(seconds: number): string {
  if (seconds < 90) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 90) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

function noop(): void {}
