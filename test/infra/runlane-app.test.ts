import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseRunlaneConfig } from '#lib/config/environment-config.js';
import { UnknownEnvironmentError } from '#lib/errors.js';
import { createRunlaneStacks, selectEnvironments } from '#lib/runlane-app.js';
import { configError, rawConfig, testApp } from './support.js';

const projectRoot = fileURLToPath(new URL('../../', import.meta.url));

describe('createRunlaneStacks', () => {
  it('creates Runlane-dev, Runlane-staging and Runlane-prod with their regions', () => {
    const app = testApp({
      context: { runlane: rawConfig({ prod: { region: 'eu-west-1', account: '123456789012' } }) },
    });
    const stacks = createRunlaneStacks(app);
    expect(stacks.map((stack) => stack.stackName)).toEqual([
      'Runlane-dev',
      'Runlane-staging',
      'Runlane-prod',
    ]);
    expect(stacks.map((stack) => stack.region)).toEqual(['us-east-1', 'us-east-1', 'eu-west-1']);
    expect(stacks[2]?.account).toBe('123456789012');
  });

  it('creates only the environment named by -c env=<name>', () => {
    const app = testApp({ context: { runlane: rawConfig(), env: 'prod' } });
    expect(createRunlaneStacks(app).map((stack) => stack.stackName)).toEqual(['Runlane-prod']);
  });

  it('rejects an unknown environment, listing the valid names', () => {
    expect(() => selectEnvironments('qa')).toThrow(UnknownEnvironmentError);
    expect(() => selectEnvironments('qa')).toThrow('valid names: dev, staging, prod');
  });

  it('accepts the repository cdk.json', () => {
    const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8'));
    const config = parseRunlaneConfig(cdkJson.context.runlane);
    expect(config.environments.prod.lanes.maxConcurrency).toBe(20);
    expect(config.environments.dev.lifecycle.retainOnDelete).toBe(false);
  });
});

describe('configuration errors', () => {
  it('name the field path of every problem in one error', () => {
    const error = configError(
      rawConfig({
        prod: { lanes: { maxReceiveCount: 0 }, logRetentionDays: 31 },
        staging: { region: 'mars' },
      }),
    );
    expect(error.issues.map((issue) => issue.fieldPath).sort()).toEqual([
      'environments.prod.lanes.maxReceiveCount',
      'environments.prod.logRetentionDays',
      'environments.staging.region',
    ]);
    expect(error.message).toContain('environments.prod.lanes.maxReceiveCount:');
    expect(error.message).toContain(
      'environments.prod.logRetentionDays: must be a CloudWatch Logs retention period',
    );
  });

  it('reject unknown fields and a missing environment', () => {
    const raw = rawConfig({ dev: { lanes: { maxRecieveCount: 3 } } });
    delete (raw.environments as Record<string, unknown>).staging;
    const paths = configError(raw).issues.map((issue) => issue.fieldPath);
    expect(paths).toContain('environments.dev.lanes');
    expect(paths).toContain('environments.staging');
  });

  it('make bin/cdk-app.ts print the error and exit 1', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'bin/cdk-app.ts'], {
      cwd: projectRoot,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        CDK_CONTEXT_JSON: JSON.stringify({ runlane: rawConfig({ prod: { lanes: { maxReceiveCount: 0 } } }) }),
        // Outside the project: the CDK creates the folder even when nothing is written to it.
        CDK_OUTDIR: mkdtempSync(join(tmpdir(), 'runlane-bad-config-')),
      },
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('Invalid Runlane configuration');
    expect(result.stderr).toContain('environments.prod.lanes.maxReceiveCount');
  });
});
