// The reference page in a real browser: Debian's Chromium driven by playwright-core (never a downloaded
// browser). A job submitted from the page shows as a job: status, progress bar with the worker's message and
// the time left, then its output. Without Chromium this fails, it does not skip: `.ci/run` installs it.
import { existsSync } from 'node:fs';
import { type Browser, chromium, type Locator, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../test-support.js';

const CHROMIUM = process.env.JOBS_CHROMIUM ?? '/usr/bin/chromium';

let server: TestServer;
let browser: Browser;
let page: Page;
let pageErrors: string[];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `No Chromium at ${CHROMIUM}: install Debian's (DEBIAN_FRONTEND=noninteractive apt-get install -y chromium) or set JOBS_CHROMIUM to a Chromium binary.`,
    );
  }
  server = await startTestServer();
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
  page = await browser.newPage();
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });
  await page.goto(server.url('/docs'));
  await page.locator('#op-submitTask').waitFor();
});
afterEach(async () => {
  await page.close();
  expect(pageErrors).toEqual([]);
});

/** Sends the submit form of the task endpoint with `input`; the job view that appears. */
async function submitFromPage(input: Record<string, unknown>): Promise<Locator> {
  const card = page.locator('#op-submitTask');
  await card.locator('textarea').fill(JSON.stringify(input));
  await card.getByRole('button', { name: 'Send' }).click();
  const view = card.locator('.job-view');
  await view.waitFor();
  return view;
}

/** Waits until the element's text contains `text`; its text. */
async function textOf(locator: Locator, text: string): Promise<string> {
  await locator.filter({ hasText: text }).waitFor();
  return (await locator.textContent()) ?? '';
}

describe('the reference page in Chromium', { timeout: 60_000 }, () => {
  it('shows a job submitted from the page with its progress bar, message and time left, then its output', async () => {
    const view = await submitFromPage({ tag: 'browser', steps: 2 });
    // Before any progress, the ETA is the worker's estimate (a minute and more), which the page counts down.
    expect(await textOf(view.locator('.job-status'), 'running')).toBe('running');
    expect(await view.locator('.job-progress').textContent()).toBe('0 %');
    expect(await view.locator('.job-eta').textContent()).toMatch(/^about \d+ s left \(done around .+\)$/);
    expect(await view.locator('.job-head').textContent()).toContain('attempt 1 of 1');

    server.gates.release('browser');
    expect(await textOf(view.locator('.job-progress'), 'step 1 of 2')).toBe('50 % · step 1 of 2');
    expect(await view.locator('.job-status').textContent()).toBe('running');
    expect(await view.locator('progress').evaluate((bar) => (bar as HTMLProgressElement).value)).toBe(0.5);
    expect(await view.locator('.job-eta').textContent()).toMatch(
      /^(about .+ left \(done around .+\)|due any moment)$/,
    );

    server.gates.release('browser');
    const output = view.locator('.job-output');
    await output.waitFor();
    expect(JSON.parse((await output.textContent()) ?? '')).toEqual({ tag: 'browser', steps: 2 });
    expect(await view.locator('.job-status').textContent()).toBe('succeeded');
    expect(await view.locator('.job-progress').textContent()).toBe('100 % · step 2 of 2');
    expect(await view.locator('.job-eta').textContent()).toBe('');
  });

  it('shows why a job failed', async () => {
    const view = await submitFromPage({ tag: 'browser-fails', fail: true });
    expect(await textOf(view.locator('.job-status'), 'failed')).toBe('failed');
    expect(await view.locator('.job-error').textContent()).toBe('Job failed: The task was told to fail.');
    expect(await view.locator('.job-output').count()).toBe(0);
  });

  it('"Open stream" shows the job the stream is about, with the raw events folded away', async () => {
    const submitted = await submitFromPage({ tag: 'browser-stream', steps: 1 });
    const status = submitted.locator('.job-status');
    await status.filter({ hasText: /queued|running/ }).waitFor();
    // The page remembered the job's id in the other forms of its endpoint.
    const card = page.locator('#op-streamTaskEvents');
    const id = await card.locator('input[data-job-id="task"]').inputValue();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    await card.getByRole('button', { name: 'Open stream' }).click();
    const view = card.locator('.job-view');
    await view.waitFor();
    server.gates.release('browser-stream');
    await view.locator('.job-output').waitFor();
    expect(await view.locator('.job-status').textContent()).toBe('succeeded');
    expect(JSON.parse((await view.locator('.job-output').textContent()) ?? '')).toEqual({
      tag: 'browser-stream',
      steps: 1,
    });
    const raw = (await card.locator('.job-raw').textContent()) ?? '';
    expect(raw).toContain('event: status');
    expect(raw).toContain(`"id":"${id}"`);
    expect(raw).toContain('[stream closed]');
  });
});
