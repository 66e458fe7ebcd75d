// The dashboard in a real browser: Debian's Chromium driven by playwright-core (never a downloaded browser).
// Load it, filter the list, open a running job and watch it finish, retry a failed one. Without Chromium this
// fails, it does not skip: `.ci/run` installs it. With JOBS_DASHBOARD_SCREENSHOTS=1 (`pnpm screenshots` in this
// package) it also writes the README's screenshots into docs/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type DashboardServer, startDashboardServer, TOKEN } from './test-support.js';

const CHROMIUM = process.env.JOBS_CHROMIUM ?? '/usr/bin/chromium';
const SCREENSHOTS = process.env.JOBS_DASHBOARD_SCREENSHOTS === '1';

let server: DashboardServer;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let pageErrors: string[];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `No Chromium at ${CHROMIUM}: install Debian's (DEBIAN_FRONTEND=noninteractive apt-get install -y chromium) or set JOBS_CHROMIUM to a Chromium binary.`,
    );
  }
  server = await startDashboardServer({ seed: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-gpu',
    ],
  });
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

beforeEach(async () => {
  pageErrors = [];
  // The authorization hook reads this header; every request of the page carries it (its event streams too).
  context = await browser.newContext({
    extraHTTPHeaders: { authorization: `Bearer ${TOKEN}` },
    viewport: { width: 1280, height: 900 },
  });
  page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });
  // Requests to anywhere but the test server would mean an external asset.
  await page.route(
    (url) => !url.href.startsWith(server.origin),
    (route) => {
      pageErrors.push(`request to another origin: ${route.request().url()}`);
      return route.abort();
    },
  );
});
afterEach(async () => {
  await context.close();
  expect(pageErrors).toEqual([]);
});

async function screenshot(name: string) {
  const png = await page.screenshot({
    fullPage: false,
    ...(SCREENSHOTS ? { path: fileURLToPath(new URL(`../docs/${name}.png`, import.meta.url)) } : {}),
  });
  expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
}

async function waitForStatus(id: string, status: string) {
  for (;;) {
    const job = await server.repository.get(id, 'header');
    if (job?.status === status) return job;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('the dashboard in Chromium', { timeout: 60_000 }, () => {
  it('loads: a card per endpoint with counts, the last hour as a chart and run-time percentiles', async () => {
    const running = await server.runtime.service.submit('task', { tag: 'load', steps: 1 }, { owner: 'acme' });
    await waitForStatus(running.job.id, 'running');
    await page.goto(server.url);
    const card = page.locator('article.endpoint[data-endpoint="task"]');
    await card.locator('.chart rect').first().waitFor();
    expect(await card.locator('.chip.running .count').textContent()).toBe('1');
    expect(Number(await card.locator('.chip.succeeded .count').textContent())).toBeGreaterThan(100);
    expect(await card.locator('.chart g.bar').count()).toBe(60);
    expect(await card.locator('.run-time').textContent()).toMatch(/^p50 .+ · p90 .+ · p99 .+$/);
    expect(await card.locator('.failure-rate').first().textContent()).toMatch(/^\d+\.\d %$/);
    await page.locator('table.jobs tbody tr').first().waitFor();
    expect(await page.locator('table.jobs tbody tr').count()).toBe(25);
    await screenshot('overview');
    server.gates.release('load');
  });

  it('filters the list by status (a chip, then the form) and pages through it', async () => {
    await page.goto(server.url);
    await page.locator('table.jobs tbody tr').first().waitFor();
    await page.locator('article.endpoint[data-endpoint="task"] .chip.failed').click();
    await page.waitForFunction(() => location.hash.includes('status=failed'));
    const rows = page.locator('table.jobs tbody tr');
    await page.locator('table.jobs tbody tr[data-status="failed"]').first().waitFor();
    const statuses = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-status')));
    expect(statuses.length).toBeGreaterThan(0);
    expect(new Set(statuses)).toEqual(new Set(['failed']));

    await page.selectOption('#filter-status', 'succeeded');
    await page.fill('#filter-owner', 'globex');
    await page.click('#filters button[type=submit]');
    await page.waitForFunction(() => location.hash.includes('owner=globex'));
    await page.locator('table.jobs tbody tr').first().waitFor();
    await page.waitForFunction(() =>
      Array.from(document.querySelectorAll('table.jobs tbody tr')).every(
        (tr) => tr.getAttribute('data-status') === 'succeeded' && tr.children[4]?.textContent === 'globex',
      ),
    );
    const first = await rows.first().getAttribute('data-id');
    await page.click('#older');
    await page.waitForFunction(
      (id) => document.querySelector('table.jobs tbody tr')?.getAttribute('data-id') !== id,
      first,
    );
    expect(await page.locator('.pager').textContent()).toContain('page 2');
    await page.click('#newer');
    await page.waitForFunction(
      (id) => document.querySelector('table.jobs tbody tr')?.getAttribute('data-id') === id,
      first,
    );
    await screenshot('list');
  });

  it('opens a running job and watches it finish: live progress bar, then the output', async () => {
    const { job } = await server.runtime.service.submit(
      'task',
      { tag: 'watch', steps: 2 },
      { owner: 'acme' },
    );
    await waitForStatus(job.id, 'running');
    await page.goto(`${server.url}#/job/${job.id}`);
    await page.locator('#job-status.running').waitFor();
    expect(await page.locator('#job-attempt').textContent()).toBe('attempt 1 of 1');
    expect(await page.locator('#job-input').textContent()).toContain('"tag": "watch"');
    expect(await page.locator('#job-progress').getAttribute('aria-valuenow')).toBe('0');

    server.gates.release('watch');
    await page.locator('#job-progress[aria-valuenow="50"]').waitFor();
    expect(await page.locator('#job-progress-text').textContent()).toContain('step 1 of 2');
    await screenshot('job');

    server.gates.release('watch');
    await page.locator('#job-status.succeeded').waitFor();
    await page.locator('#job-output').waitFor();
    expect(JSON.parse((await page.locator('#job-output').textContent()) ?? '')).toEqual({
      tag: 'watch',
      steps: 2,
    });
    expect(await page.locator('#job-progress').getAttribute('aria-valuenow')).toBe('100');
    expect(await page.locator('#action-delete').count()).toBe(1);
    expect(await page.locator('#action-retry').count()).toBe(0);
  });

  it('retries a failed job: it runs again under its URL and succeeds', async () => {
    server.reports.failing = true;
    const { job } = await server.runtime.service.submit('report', { month: 'march' }, { owner: 'globex' });
    await waitForStatus(job.id, 'failed');
    await page.goto(`${server.url}#/job/${job.id}`);
    await page.locator('#job-status.failed').waitFor();
    expect(await page.locator('#job-error').textContent()).toContain('The upstream is down.');
    await screenshot('failed');

    server.reports.failing = false;
    await page.click('#action-retry');
    await page.locator('#job-status.succeeded').waitFor();
    expect(await page.locator('#job-attempt').textContent()).toBe('attempt 2 of 2');
    // The status may come first from the job's event; the output from reading the whole job once it is final.
    await page.locator('#job-output').waitFor();
    expect(JSON.parse((await page.locator('#job-output').textContent()) ?? '')).toEqual({ rows: 500 });
    expect(await page.locator('#job-error').count()).toBe(0);
    expect(page.url()).toBe(`${server.url}#/job/${job.id}`);

    // Delete it from its page (after the confirmation): back to the list, and the job is gone.
    page.once('dialog', (dialog) => void dialog.accept());
    await page.click('#action-delete');
    await page.waitForFunction(() => location.hash === '#/');
    expect(await server.repository.get(job.id)).toBeNull();
  });
});
