// A job's page: its header, input, output and error, attempts, a live progress bar fed by the job's Server-Sent
// Events, and the actions its state allows (cancel, retry, delete).
import { ApiError, act, apiUrl, getJson, type Job } from './api.js';
import { duration, h, json, replace, time } from './dom.js';

const FINAL = ['succeeded', 'failed', 'canceled'];

export class JobView {
  readonly element = h('div', { class: 'job-page' });
  readonly #status = h('span', { class: 'badge', id: 'job-status' });
  readonly #attempt = h('span', { id: 'job-attempt' });
  readonly #fill = h('div', { class: 'fill' });
  readonly #bar = h(
    'div',
    { class: 'bar', id: 'job-progress', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100 },
    this.#fill,
  );
  readonly #progressText = h('span', { id: 'job-progress-text', class: 'muted' });
  readonly #actions = h('div', { class: 'actions', id: 'job-actions' });
  readonly #notice = h('p', { id: 'job-notice', class: 'muted' });
  readonly #details = h('div', { class: 'details' });
  #events: EventSource | null = null;
  #stopped = false;
  #job: Job | null = null;

  constructor(private readonly id: string) {
    replace(this.element, h('p', { class: 'muted' }, 'Loading…'));
  }

  start(): void {
    void this.#load();
  }

  stop(): void {
    this.#stopped = true;
    this.#closeEvents();
  }

  async #load(): Promise<void> {
    try {
      const job = await getJson<Job>(`api/jobs/${encodeURIComponent(this.id)}`);
      if (this.#stopped) return;
      this.#render(job);
      if (!FINAL.includes(job.status)) this.#watch();
    } catch (error) {
      const gone = error instanceof ApiError && error.status === 404;
      replace(
        this.element,
        h(
          'p',
          { class: 'error', id: 'job-missing' },
          gone ? 'No such job (it may have been deleted or have expired).' : (error as Error).message,
        ),
        h('a', { href: '#/' }, '← all jobs'),
      );
    }
  }

  #render(job: Job): void {
    this.#job = job;
    replace(
      this.element,
      h('a', { href: '#/' }, '← all jobs'),
      h('h2', {}, `${job.endpoint} `, h('code', { id: 'job-id' }, job.id)),
      h('div', { class: 'job-head' }, this.#status, ' ', this.#attempt),
      h('div', { class: 'progress' }, this.#bar, ' ', this.#progressText),
      this.#actions,
      this.#notice,
      this.#details,
    );
    this.#update(job);
  }

  /** Shows a state: the whole job from the API, or a header from an event (without input and output). */
  #update(job: Job): void {
    const previous = this.#job;
    this.#job = {
      ...previous,
      ...job,
      input: job.input ?? previous?.input,
      // An event's header has no output: an output seen before is kept only if it was a succeeded job's (a retried
      // job's old null must not stand for the new run's output).
      output:
        job.output !== undefined
          ? job.output
          : previous?.status === 'succeeded'
            ? previous.output
            : undefined,
    };
    const current = this.#job;
    this.#status.className = `badge ${current.status}`;
    this.#status.textContent =
      current.cancelRequested && current.status === 'running' ? 'running (cancel requested)' : current.status;
    this.#attempt.textContent = `attempt ${current.attempt} of ${current.maxAttempts}`;
    const fraction = current.status === 'succeeded' ? 1 : (current.progress?.fraction ?? 0);
    const percent = Math.max(0, Math.min(100, Math.round(fraction * 100)));
    this.#fill.style.width = `${percent}%`;
    this.#bar.setAttribute('aria-valuenow', String(percent));
    this.#bar.className = `bar ${current.status}`;
    const eta = current.estimatedCompletionAt ? Date.parse(current.estimatedCompletionAt) - Date.now() : null;
    this.#progressText.textContent = [
      `${percent} %`,
      current.progress?.message ?? '',
      current.status === 'running' && eta !== null && eta > 0 ? `about ${duration(eta)} left` : '',
    ]
      .filter(Boolean)
      .join(' · ');
    this.#renderActions(current);
    this.#renderDetails(current);
  }

  #renderActions(job: Job): void {
    const button = (label: string, id: string, run: () => Promise<void>) =>
      h('button', { type: 'button', id, onclick: () => void this.#perform(label, run) }, label);
    replace(
      this.#actions,
      job.status === 'queued' || job.status === 'running'
        ? button('Cancel', 'action-cancel', async () => {
            const { job: after } = await act<{ job: Job }>('POST', `api/jobs/${job.id}/cancel`);
            this.#update(after);
          })
        : null,
      job.status === 'failed' || job.status === 'canceled'
        ? button('Retry', 'action-retry', async () => {
            const { job: after } = await act<{ job: Job }>('POST', `api/jobs/${job.id}/retry`);
            this.#update(after);
            this.#watch();
          })
        : null,
      FINAL.includes(job.status)
        ? button('Delete', 'action-delete', async () => {
            if (!window.confirm('Delete this job and its output?')) return;
            await act<void>('DELETE', `api/jobs/${job.id}`);
            this.stop();
            location.hash = '#/';
          })
        : null,
    );
  }

  async #perform(label: string, run: () => Promise<void>): Promise<void> {
    this.#notice.textContent = `${label}…`;
    try {
      await run();
      this.#notice.textContent = '';
    } catch (error) {
      this.#notice.textContent = `${label} failed: ${(error as Error).message}`;
    }
  }

  #renderDetails(job: Job): void {
    const row = (label: string, value: string) => h('tr', {}, h('th', {}, label), h('td', {}, value));
    const block = (label: string, id: string, value: unknown) =>
      h('section', { class: 'block' }, h('h3', {}, label), h('pre', { id }, json(value)));
    replace(
      this.#details,
      h(
        'table',
        { class: 'times' },
        row('owner', job.owner ?? '–'),
        row('priority', String(job.priority)),
        row('created', time(job.createdAt)),
        row('runs from', time(job.runAt)),
        row('started', time(job.startedAt)),
        row('finished', time(job.finishedAt)),
        row('expires', time(job.expiresAt)),
        row(
          'run time',
          job.startedAt && job.finishedAt
            ? duration(Date.parse(job.finishedAt) - Date.parse(job.startedAt))
            : '–',
        ),
      ),
      block('Input', 'job-input', job.input),
      // A succeeded job seen through an event has no output yet: the block waits for the whole job.
      job.status === 'succeeded' && job.output !== undefined
        ? block('Output', 'job-output', job.output)
        : null,
      job.error ? block('Error', 'job-error', job.error) : null,
    );
  }

  /** Follows the job's events until it is final; then reads it whole once more (for its output). */
  #watch(): void {
    this.#closeEvents();
    const events = new EventSource(apiUrl(`api/jobs/${encodeURIComponent(this.id)}/events`));
    this.#events = events;
    const onState = (event: MessageEvent) => {
      const job = JSON.parse(String(event.data)) as Job;
      this.#update(job);
      if (FINAL.includes(job.status)) {
        this.#closeEvents();
        void this.#refresh();
      }
    };
    events.addEventListener('status', onState as EventListener);
    events.addEventListener('progress', onState as EventListener);
    events.addEventListener('error', (event) => {
      // An `error` event with data is the server's problem (the job is gone); without, the connection dropped and
      // EventSource reconnects on its own.
      const data = (event as MessageEvent).data;
      if (typeof data === 'string' && data) {
        this.#closeEvents();
        void this.#refresh();
      }
    });
  }

  async #refresh(): Promise<void> {
    if (this.#stopped) return;
    try {
      this.#update(await getJson<Job>(`api/jobs/${encodeURIComponent(this.id)}`));
    } catch (error) {
      this.#notice.textContent = (error as Error).message;
    }
  }

  #closeEvents(): void {
    this.#events?.close();
    this.#events = null;
  }
}
