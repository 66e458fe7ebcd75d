// The home view: a card per endpoint (counts by status, the last hour's chart, run-time percentiles) and the job
// list, filtered by endpoint, status, owner and creation time, one page at a time (cursor paging: the browser
// never holds more than a page).
import { getJson, type Job, type Overview, STATUSES } from './api.js';
import { throughputChart } from './chart.js';
import type { Config } from './config.js';
import { duration, h, replace, time } from './dom.js';

export interface Filters {
  endpoint: string;
  status: string;
  owner: string;
  from: string;
  to: string;
}

const FILTER_NAMES: Array<keyof Filters> = ['endpoint', 'status', 'owner', 'from', 'to'];

export function filtersOf(query: URLSearchParams): Filters {
  const filters = { endpoint: '', status: '', owner: '', from: '', to: '' };
  for (const name of FILTER_NAMES) filters[name] = query.get(name) ?? '';
  return filters;
}

export function filtersHash(filters: Filters): string {
  const query = new URLSearchParams();
  for (const name of FILTER_NAMES) if (filters[name]) query.set(name, filters[name]);
  const text = query.toString();
  return text ? `#/?${text}` : '#/';
}

/** A datetime-local value (the browser's time zone) as an ISO time for the API; '' stays ''. */
function isoOf(local: string): string {
  if (!local) return '';
  const date = new Date(local);
  return Number.isNaN(date.getTime()) ? '' : date.toISOString();
}

export class HomeView {
  readonly element = h('div', { class: 'home' });
  readonly #overview = h('section', { class: 'cards', id: 'overview' });
  readonly #list = h('section', { class: 'list', id: 'jobs' });
  readonly #rows = h('tbody');
  readonly #pager = h('div', { class: 'pager' });
  readonly #message = h('p', { class: 'muted', id: 'list-message' });
  /** Cursors of the pages before the current one (the first page has none). */
  readonly #previous: Array<string | undefined> = [];
  #cursor: string | undefined;
  #timer: number | undefined;
  #stopped = false;

  constructor(
    private readonly config: Config,
    private readonly filters: Filters,
  ) {
    append(this.element, this.#overview, this.#list);
    this.#renderForm();
  }

  start(): void {
    void this.#refreshOverview();
    void this.#loadPage();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
  }

  async #refreshOverview(): Promise<void> {
    try {
      const overview = await getJson<Overview>('api/overview');
      if (this.#stopped) return;
      this.#renderOverview(overview);
      const updated = document.getElementById('updated');
      if (updated) updated.textContent = `updated ${new Date().toLocaleTimeString()}`;
    } catch (error) {
      replace(
        this.#overview,
        h('p', { class: 'error' }, `Could not load the overview: ${(error as Error).message}`),
      );
    }
    if (!this.#stopped) this.#timer = window.setTimeout(() => void this.#refreshOverview(), 5_000);
  }

  #renderOverview(overview: Overview): void {
    const since = Date.parse(overview.since);
    replace(
      this.#overview,
      ...overview.endpoints.map((endpoint) => {
        const chips = STATUSES.map((status) =>
          h(
            'a',
            {
              class: `chip ${status}`,
              href: filtersHash({ ...this.filters, endpoint: endpoint.endpoint, status }),
              'data-status': status,
            },
            h('span', { class: 'count' }, endpoint.counts[status]),
            ` ${status}`,
          ),
        );
        const run = endpoint.runTime;
        return h(
          'article',
          { class: 'card endpoint', 'data-endpoint': endpoint.endpoint },
          h('h2', {}, endpoint.endpoint),
          endpoint.description ? h('p', { class: 'muted' }, endpoint.description) : null,
          h('div', { class: 'chips' }, ...chips),
          h('p', { class: 'muted small' }, 'queued and running: now; finished: in the last hour'),
          throughputChart(endpoint.series, since, overview.bucketMs),
          h(
            'dl',
            { class: 'figures' },
            h('dt', {}, 'throughput'),
            h('dd', { class: 'throughput' }, `${endpoint.throughputPerMinute.toFixed(2)} / min`),
            h('dt', {}, 'failure rate'),
            h(
              'dd',
              { class: 'failure-rate' },
              endpoint.failureRate === null ? '–' : `${(endpoint.failureRate * 100).toFixed(1)} %`,
            ),
            h('dt', {}, 'run time'),
            h(
              'dd',
              { class: 'run-time' },
              run ? `p50 ${duration(run.p50)} · p90 ${duration(run.p90)} · p99 ${duration(run.p99)}` : '–',
            ),
          ),
        );
      }),
    );
  }

  #renderForm(): void {
    const { config, filters } = this;
    const select = (name: string, values: string[], current: string, all: string) =>
      h(
        'select',
        { name, id: `filter-${name}` },
        h('option', { value: '' }, all),
        ...values.map((value) => h('option', { value, selected: value === current }, value)),
      );
    const limited = config.owner.limited;
    const form = h(
      'form',
      {
        class: 'filters',
        id: 'filters',
        onsubmit: (event: Event) => {
          event.preventDefault();
          const data = new FormData(form);
          const value = (name: string) => String(data.get(name) ?? '');
          location.hash = filtersHash({
            endpoint: value('endpoint'),
            status: value('status'),
            owner: limited ? '' : value('owner'),
            from: value('from'),
            to: value('to'),
          });
        },
      },
      h('label', {}, 'endpoint ', select('endpoint', config.endpoints, filters.endpoint, 'all')),
      h('label', {}, 'status ', select('status', STATUSES, filters.status, 'all')),
      limited
        ? null
        : h(
            'label',
            {},
            'owner ',
            h('input', { name: 'owner', id: 'filter-owner', value: filters.owner, size: 12 }),
          ),
      h(
        'label',
        {},
        'created from ',
        h('input', { type: 'datetime-local', name: 'from', id: 'filter-from', value: filters.from }),
      ),
      h(
        'label',
        {},
        'to ',
        h('input', { type: 'datetime-local', name: 'to', id: 'filter-to', value: filters.to }),
      ),
      h('button', { type: 'submit' }, 'Apply'),
      h('a', { href: '#/', class: 'button secondary' }, 'Reset'),
    );
    const table = h(
      'table',
      { class: 'jobs' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['created', 'endpoint', 'status', 'attempt', 'owner', 'progress', 'job'].map((t) =>
            h('th', {}, t),
          ),
        ),
      ),
      this.#rows,
    );
    replace(this.#list, h('h2', {}, 'Jobs'), form, this.#message, table, this.#pager);
  }

  async #loadPage(): Promise<void> {
    const query = new URLSearchParams({ limit: String(this.config.pageSize) });
    const { endpoint, status, owner, from, to } = this.filters;
    if (endpoint) query.set('endpoint', endpoint);
    if (status) query.set('status', status);
    if (owner && !this.config.owner.limited) query.set('owner', owner);
    if (from) query.set('from', isoOf(from));
    if (to) query.set('to', isoOf(to));
    if (this.#cursor) query.set('cursor', this.#cursor);
    this.#message.textContent = 'Loading…';
    try {
      const page = await getJson<{ jobs: Job[]; nextCursor: string | null }>(`api/jobs?${query}`);
      if (this.#stopped) return;
      this.#renderPage(page.jobs, page.nextCursor);
    } catch (error) {
      this.#message.textContent = `Could not load the jobs: ${(error as Error).message}`;
    }
  }

  #renderPage(jobs: Job[], nextCursor: string | null): void {
    this.#message.textContent = jobs.length === 0 ? 'No jobs match.' : '';
    replace(
      this.#rows,
      ...jobs.map((job) =>
        h(
          'tr',
          { 'data-id': job.id, 'data-status': job.status },
          h('td', {}, time(job.createdAt)),
          h('td', {}, job.endpoint),
          h('td', {}, h('span', { class: `badge ${job.status}` }, job.status)),
          h('td', {}, `${job.attempt} / ${job.maxAttempts}`),
          h('td', {}, job.owner ?? '–'),
          h('td', {}, job.progress ? `${Math.round(job.progress.fraction * 100)} %` : ''),
          h('td', {}, h('a', { href: `#/job/${job.id}`, class: 'job-link' }, job.id.slice(0, 8))),
        ),
      ),
    );
    replace(
      this.#pager,
      this.#previous.length > 0
        ? h(
            'button',
            {
              type: 'button',
              id: 'newer',
              onclick: () => {
                this.#cursor = this.#previous.pop();
                void this.#loadPage();
              },
            },
            '← Newer',
          )
        : null,
      h('span', { class: 'muted' }, `page ${this.#previous.length + 1}`),
      nextCursor
        ? h(
            'button',
            {
              type: 'button',
              id: 'older',
              onclick: () => {
                this.#previous.push(this.#cursor);
                this.#cursor = nextCursor;
                void this.#loadPage();
              },
            },
            'Older →',
          )
        : null,
    );
  }
}

function append(parent: Element, ...children: Element[]): void {
  for (const child of children) parent.appendChild(child);
}
