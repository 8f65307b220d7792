import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { chmod, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '#agent/runner/clock.js';
import type { Spawner } from '#agent/runner/watchdog.js';
import { parseWorkerConfig, type ScriptSpec } from '#agent/worker/config.js';
import type { LogValue, WorkerLog } from '#agent/worker/log.js';
import { runScript } from '#agent/worker/scripts.js';
import { DEFAULT_INHERITED_ENV } from '#common/worker-config.js';
import { taskMessage } from './fixtures/worker-harness.js';

/**
 * Issue 18, script integrity: the allowlist pins each script's SHA-256; the worker reads the file
 * once and executes exactly the bytes it hashed (a file swapped after the check never runs); the
 * script's environment is explicit; credential-looking output is redacted before it leaves.
 */

let dir: string;
let staging: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'script-integrity-'));
  staging = await mkdtemp(join(tmpdir(), 'script-staging-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
  await rm(staging, { recursive: true, force: true });
});

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

async function script(
  body: string,
  entry: Record<string, unknown> = {},
): Promise<{ path: string; spec: ScriptSpec }> {
  const path = join(dir, 'job.sh');
  await writeFile(path, body);
  await chmod(path, 0o755);
  const config = parseWorkerConfig(
    {
      environment: 'prod',
      site: 'lab',
      taskQueueUrl: 'https://sqs.us-east-1.amazonaws.com/1/runlane-prod-worker-tasks-lab',
      apiUrl: 'https://api.example.com',
      scripts: { job: { path, sha256: sha256(body), timeoutMs: 10_000, ...entry } },
    },
    'test',
    {},
    'h',
  );
  const spec = config.scripts.job;
  if (spec === undefined) throw new Error('no spec');
  return { path, spec };
}

function recordingLog(): WorkerLog & { events: { name: string; fields: Record<string, LogValue> }[] } {
  const events: { name: string; fields: Record<string, LogValue> }[] = [];
  return { events, event: (name, fields = {}) => events.push({ name, fields: { ...fields } }) };
}

const message = taskMessage('prod', 'lab', { kind: 'execute_script', script: 'job', args: [] });

describe('execute_script runs exactly the verified content', () => {
  it('a script swapped after it was hashed: the swapped content never runs, the verified bytes do', async () => {
    const { path, spec } = await script('#!/bin/sh\necho original\n');
    const spawned: string[] = [];
    // The swap lands in the window between the check and the exec (the old hash-then-run-by-path gap).
    const swapping: Spawner = (command, args, options) => {
      writeFileSync(path, '#!/bin/sh\necho swapped\n');
      spawned.push(command);
      return spawn(command, args, options);
    };
    const log = recordingLog();
    const result = await runScript(message, 'job', [], spec, {
      log,
      env: process.env,
      inheritEnv: DEFAULT_INHERITED_ENV,
      clock: systemClock,
      spawner: swapping,
      stagingDirectory: staging,
    });
    expect(result).toMatchObject({ status: 'succeeded', stdout: 'original\n', scriptSha256: spec.sha256 });
    expect(spawned).toHaveLength(1);
    expect(spawned[0]).not.toBe(path);
    expect(spawned[0]?.startsWith(staging)).toBe(true);
    // The private copy is gone after the run.
    expect(await readdir(staging)).toEqual([]);
  });

  it('a file that no longer matches its pinned hash is refused: script_hash_mismatch, nothing spawned', async () => {
    const { path, spec } = await script('#!/bin/sh\necho original\n');
    await writeFile(path, '#!/bin/sh\necho tampered\n');
    const spawned: string[] = [];
    const log = recordingLog();
    const result = await runScript(message, 'job', [], spec, {
      log,
      env: process.env,
      inheritEnv: DEFAULT_INHERITED_ENV,
      clock: systemClock,
      spawner: (command, args, options) => {
        spawned.push(command);
        return spawn(command, args, options);
      },
      stagingDirectory: staging,
    });
    expect(result).toMatchObject({ status: 'failed', errorCode: 'script_hash_mismatch' });
    expect(result.stdout).toBeUndefined();
    expect(spawned).toEqual([]);
    expect(log.events.map((e) => e.name)).toEqual(['script_hash_mismatch']);
  });

  it('the script gets an explicit environment: inheritEnv only, AWS credentials only with inheritAwsCredentials', async () => {
    const body = '#!/bin/sh\nenv | sort\n';
    const env = {
      PATH: process.env.PATH,
      HOME: '/home/worker',
      AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
      AWS_REGION: 'eu-west-1',
      DATABASE_URL: 'postgres://x',
    };
    const run = async (entry: Record<string, unknown>) => {
      const { spec } = await script(body, entry);
      const result = await runScript(message, 'job', [], spec, {
        log: recordingLog(),
        env,
        inheritEnv: ['PATH', 'HOME'],
        clock: systemClock,
        stagingDirectory: staging,
      });
      return result.stdout ?? '';
    };
    const plain = await run({ env: { LOG_ROOT: '/var/log/app' } });
    expect(plain).toContain('HOME=/home/worker\n');
    expect(plain).toContain('LOG_ROOT=/var/log/app\n');
    expect(plain).toContain(`RUNLANE_TASK_ID=${message.taskId}\n`);
    expect(plain).not.toContain('AWS_');
    expect(plain).not.toContain('DATABASE_URL');
    const withAws = await run({ inheritAwsCredentials: true });
    expect(withAws).toContain('AWS_REGION=eu-west-1\n');
    // Inherited, and still never leaves the host in the output.
    expect(withAws).toContain('AWS_ACCESS_KEY_ID=[REDACTED]\n');
  });

  it("credential-looking output is redacted from the result's stdout and stderr", async () => {
    const { spec } = await script(
      '#!/bin/sh\necho "login password=hunter2 ok"\necho "Authorization: Bearer abcdefgh12345678" >&2\n',
    );
    const result = await runScript(message, 'job', [], spec, {
      log: recordingLog(),
      env: process.env,
      inheritEnv: DEFAULT_INHERITED_ENV,
      clock: systemClock,
      stagingDirectory: staging,
    });
    expect(result.stdout).toBe('login password=[REDACTED] ok\n');
    expect(result.stderr).toBe('Authorization: [REDACTED]\n');
  });
});
