// The served OpenAPI document through the two linters users run on API descriptions, with their recommended
// rules and no configuration: Redocly CLI (`redocly lint`, run as users run it, from node_modules) and Spectral's
// `spectral:oas` ruleset (its JavaScript API). Nothing here goes to the network.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Spectral } from '@stoplight/spectral-core';
import { oas } from '@stoplight/spectral-rulesets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OpenApiOptions } from './openapi.js';
import { get, startTestServer } from './test-support.js';

/** What a deployment says about itself: with it, neither linter has anything to say. */
const DEPLOYMENT: OpenApiOptions = {
  title: 'Thumbnails',
  version: '2.0.0',
  description: 'Makes thumbnails.',
  contact: { name: 'Thumbnail team', url: 'https://example.org/support' },
  license: { name: 'MIT', identifier: 'MIT' },
};

let folder: string;
beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'jobs-openapi-lint-'));
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

/** The document a server with these options serves at /jobs/openapi.json. */
async function servedDocument(openapi: OpenApiOptions): Promise<Record<string, unknown>> {
  const server = await startTestServer({ app: { openapi } });
  try {
    const response = await get(server.url('/openapi.json'));
    expect(response.status).toBe(200);
    return await response.json();
  } finally {
    await server.close();
  }
}

interface Finding {
  rule: string;
  severity: string;
  where: string;
}

/** `redocly lint --format=json` on the document; its findings (errors and warnings). */
async function redocly(document: unknown, name: string): Promise<Finding[]> {
  const file = join(folder, `${name}.json`);
  await writeFile(file, JSON.stringify(document, null, 2));
  const cli = join(
    dirname(createRequire(import.meta.url).resolve('@redocly/cli/package.json')),
    'bin/cli.js',
  );
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      [cli, 'lint', '--format=json', file],
      // No telemetry, no update check: the test never leaves this machine.
      {
        env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_NOTIFICATIONS: 'true', CI: 'true' },
      },
      // It exits 1 when it found errors: the JSON on stdout says which.
      (error, out) => (out ? resolve(out) : reject(error ?? new Error('redocly printed nothing'))),
    );
  });
  const report = JSON.parse(stdout) as {
    problems: Array<{ ruleId: string; severity: string; location: Array<{ pointer: string }> }>;
  };
  return report.problems.map((problem) => ({
    rule: problem.ruleId,
    severity: problem.severity,
    where: problem.location[0]?.pointer ?? '',
  }));
}

/** Spectral with `spectral:oas` (its recommended rules); its findings. */
async function spectral(document: unknown): Promise<Finding[]> {
  const linter = new Spectral();
  linter.setRuleset({ extends: [[oas as never, 'recommended']] });
  const results = await linter.run(JSON.stringify(document, null, 2));
  const severities = ['error', 'warn', 'info', 'hint'];
  return results.map((result) => ({
    rule: String(result.code),
    severity: severities[result.severity] ?? String(result.severity),
    where: result.path.join('.'),
  }));
}

describe('the OpenAPI document under the usual linters', () => {
  it('passes redocly lint and Spectral (spectral:oas) without an error or a warning', async () => {
    const document = await servedDocument(DEPLOYMENT);
    expect(await redocly(document, 'deployment')).toEqual([]);
    expect(await spectral(document)).toEqual([]);
  });

  it('without contact and license, misses only those, which only the deployment can give', async () => {
    const document = await servedDocument({ title: 'Defaults' });
    expect(await redocly(document, 'defaults')).toEqual([
      { rule: 'info-license', severity: 'warn', where: '#/info' },
    ]);
    expect(await spectral(document)).toEqual([{ rule: 'info-contact', severity: 'warn', where: 'info' }]);
  });

  it('describes its security: none by default, the deployment’s when given', async () => {
    const open = await servedDocument(DEPLOYMENT);
    expect(open.security).toEqual([]);
    const guarded = await servedDocument({
      ...DEPLOYMENT,
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      security: [{ bearer: [] }],
    });
    expect(guarded.security).toEqual([{ bearer: [] }]);
    expect(await redocly(guarded, 'guarded')).toEqual([]);
    expect(await spectral(guarded)).toEqual([]);
  });
});
