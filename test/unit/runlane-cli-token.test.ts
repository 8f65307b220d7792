/**
 * `runlane token`: a household token the local stack's gateway accepts, its auth folder found
 * through `/_local/info` (a gateway with a stub integration stands in for the stack).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '#cli/program.js';
import type { CliOutput } from '#common/cli-program.js';
import { ensureLocalAuth } from '#local/auth/local-auth.js';
import { type LocalApiGateway, startLocalApiGateway } from '#local/emulators/api-gateway.js';
import { captureConsole } from '../support/console-capture.js';

let parent: string;
let authDir: string;
let stack: LocalApiGateway;
const seen: APIGatewayProxyEventV2[] = [];

beforeAll(async () => {
  parent = mkdtempSync(join(tmpdir(), 'runlane-cli-token-'));
  authDir = join(parent, 'auth');
  stack = await startLocalApiGateway({
    port: 0,
    auth: await ensureLocalAuth(authDir),
    handler: async (event) => {
      seen.push(event);
      return { statusCode: 200, body: '{}' };
    },
    localRoutes: { '/_local/info': async () => ({ statusCode: 200, body: { authDir } }) },
  });
});

afterAll(async () => {
  await stack?.stop();
  rmSync(parent, { recursive: true, force: true });
});

async function runlane(argv: readonly string[]) {
  let usage = '';
  const output: CliOutput = {
    stdout: { write: (text: string) => console.log(text.replace(/\n$/, '')) },
    stderr: { write: (text: string) => (usage += text) },
  };
  const run = await captureConsole(() => runCli(argv, output));
  return { ...run, stderr: `${run.stderr}${usage}` };
}

async function householdRunsWith(token: string): Promise<number> {
  const response = await fetch(`${stack.url}/api/v1/agent/runs?correlationId=c-1`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return response.status;
}

describe('runlane token', () => {
  it('prints a token the local gateway accepts for the household, a member by default', async () => {
    const { status, stdout } = await runlane(['token', '--household', 'hh-7', '--api-url', stack.url]);

    expect(status).toBe(0);
    expect(stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(decodeJwt(stdout)).toMatchObject({
      sub: 'member@hh-7',
      'custom:household': 'hh-7',
      'custom:runlane_role': 'member',
    });
    seen.length = 0;
    expect(await householdRunsWith(stdout)).toBe(200);
    expect(seen[0]?.requestContext).toMatchObject({
      authorizer: { jwt: { claims: { 'custom:household': 'hh-7' } } },
    });
  });

  it('--json prints the token with its expiry, household, role and subject', async () => {
    const before = Date.now();
    const { status, stdout } = await runlane([
      'token',
      '--household',
      'hh-7',
      '--role',
      'approver',
      '--subject',
      'ana',
      '--ttl',
      '120',
      '--json',
      '--api-url',
      stack.url,
    ]);

    expect(status).toBe(0);
    const printed = JSON.parse(stdout);
    expect(printed).toEqual({
      token: expect.any(String),
      expiresAt: expect.any(String),
      householdId: 'hh-7',
      role: 'approver',
      subject: 'ana',
    });
    const expiresAt = Date.parse(printed.expiresAt);
    expect(expiresAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 120_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 120_000);
    expect(decodeJwt(printed.token)).toMatchObject({ sub: 'ana', 'custom:runlane_role': 'approver' });
    expect(await householdRunsWith(printed.token)).toBe(200);
  });

  it('exits 1 when no local stack answers, or it names no auth folder', async () => {
    const closed = await startLocalApiGateway({
      port: 0,
      auth: await ensureLocalAuth(authDir),
      handler: async () => ({ statusCode: 200 }),
    });
    const noAuthDir = closed.url;
    await closed.stop();
    const old = await startLocalApiGateway({
      port: 0,
      auth: await ensureLocalAuth(authDir),
      handler: async () => ({ statusCode: 200 }),
      localRoutes: { '/_local/info': async () => ({ statusCode: 200, body: { dataDir: null } }) },
    });
    try {
      const down = await runlane(['token', '--household', 'hh-7', '--api-url', noAuthDir]);
      expect(down).toMatchObject({ status: 1, stdout: '' });
      expect(down.stderr).toContain(`no local stack answers at ${noAuthDir}`);
      const older = await runlane(['token', '--household', 'hh-7', '--api-url', old.url]);
      expect(older).toMatchObject({ status: 1, stdout: '' });
      expect(older.stderr).toContain('names no authDir');
    } finally {
      await old.stop();
    }
  });

  it('exits 2 without --household, with an unknown role or a ttl out of range', async () => {
    for (const argv of [
      ['token'],
      ['token', '--household', ''],
      ['token', '--household', 'hh-7', '--role', 'owner'],
      ['token', '--household', 'hh-7', '--ttl', '0'],
      ['token', '--household', 'hh-7', '--ttl', '86401'],
    ]) {
      const run = await runlane([...argv, '--api-url', stack.url]);
      expect({ argv, status: run.status, stdout: run.stdout }).toEqual({ argv, status: 2, stdout: '' });
      expect(run.stderr).toMatch(/^runlane token: /m);
    }
  });

  it('--help names the options and what the exit codes mean', async () => {
    const { status, stdout } = await runlane(['token', '--help']);

    expect(status).toBe(0);
    for (const option of [
      '--household <id>',
      '--role <role>',
      '--subject <subject>',
      '--ttl <seconds>',
      '--api-url <url>',
      '--json',
    ])
      expect(stdout).toContain(option);
    expect(stdout).toMatch(/Exit codes: 0 the token was printed, 1 no local stack answers/);
  });
});
