/**
 * `runlane workers config`: the worker's config file built from a deployed stack's outputs.
 * The outputs are synthesized from cdk.json (asset bundling skipped) with made-up values, so a
 * renamed output breaks these tests; nothing touches AWS or the network.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { App } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseWorkerConfig } from '#agent/worker/config.js';
import type { WorkersDependencies } from '#cli/commands/workers/config.js';
import {
  WorkerConfigFileExistsError,
  WorkerConfigOutputError,
  workerConfigFromOutputs,
  writeWorkerConfigFile,
} from '#cli/commands/workers/config-file.js';
import { checkRunlaneCommandLine, runCli } from '#cli/program.js';
import { createRunlaneStacks } from '#lib/runlane-app.js';
import { captureConsole } from '../support/console-capture.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CDK = JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')) as {
  context: { runlane: { environments: { dev: { region: string; workers?: object } } } } & Record<
    string,
    unknown
  >;
};
const REGION = CDK.context.runlane.environments.dev.region;
const ACCOUNT = '123456789012';

interface Template {
  Outputs: Record<string, { Value: unknown }>;
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
}

/** The synthesized template of Runlane-dev, with cdk.json's `runlane` context changed by `edit`. */
function devTemplate(edit: (runlane: typeof CDK.context.runlane) => void = () => {}): Template {
  const context = structuredClone(CDK.context);
  edit(context.runlane);
  const app = new App({ context: { ...context, env: 'dev', 'aws:cdk:bundling-stacks': [] } });
  const [stack] = createRunlaneStacks(app);
  if (stack === undefined) throw new Error('no Runlane-dev stack');
  return app.synth().getStackByName(stack.stackName).template as Template;
}

/**
 * A made-up value for every output of the template, as DescribeStacks would give it: an SQS
 * URL for an output that is a queue (its QueueName from the template), an https URL otherwise.
 */
function fakeOutputs(template: Template): Map<string, string> {
  return new Map(
    Object.entries(template.Outputs).map(([key, output]) => {
      const ref = (output.Value as { Ref?: string }).Ref;
      const resource = ref === undefined ? undefined : template.Resources[ref];
      const queueName = resource?.Type === 'AWS::SQS::Queue' ? resource.Properties?.QueueName : undefined;
      return [
        key,
        typeof queueName === 'string'
          ? `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${queueName}`
          : `https://${key.toLowerCase()}.example.com/`,
      ];
    }),
  );
}

/** `runlane workers <argv>` in this process, the stack's outputs from `dependencies`. */
function capture(argv: readonly string[], dependencies?: WorkersDependencies) {
  return captureConsole(() => runCli(['workers', ...argv], undefined, dependencies));
}

let outputs: Map<string, string>;
let twoSiteOutputs: Map<string, string>;
let directory: string;

beforeAll(() => {
  outputs = fakeOutputs(devTemplate());
  twoSiteOutputs = fakeOutputs(
    devTemplate((runlane) => {
      runlane.environments.dev.workers = { ...runlane.environments.dev.workers, sites: ['lab', 'lab-east'] };
    }),
  );
  directory = mkdtempSync(join(tmpdir(), 'runlane-workers-config-'));
});

afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

describe('workerConfigFromOutputs', () => {
  it('takes the site lane and the API from the synthesized stack outputs; the agent accepts the result', () => {
    const config = workerConfigFromOutputs({
      env: 'dev',
      site: 'lab',
      workerId: 'h1',
      region: REGION,
      outputs,
    });
    expect(config).toEqual({
      environment: 'dev',
      workerId: 'h1',
      site: 'lab',
      taskQueueUrl: outputs.get('WorkerTaskQueueUrlLab'),
      apiUrl: outputs.get('ApiUrl'),
      region: REGION,
    });
    expect(config.taskQueueUrl).toMatch(/\/runlane-dev-worker-tasks-lab$/);
    const parsed = parseWorkerConfig(config, 'generated', {}, 'not-this-host');
    expect(parsed).toMatchObject({
      environment: 'dev',
      workerId: 'h1',
      site: 'lab',
      taskQueueUrl: config.taskQueueUrl,
      region: REGION,
      // schema defaults, as the example's values
      transport: 'api',
      heartbeatIntervalMs: 30_000,
      scripts: {},
      plugins: [],
    });
    expect(JSON.parse(JSON.stringify(config))).toEqual(config);
  });

  it('finds a site with a dash under the suffix the stack gives its outputs', () => {
    const config = workerConfigFromOutputs({
      env: 'dev',
      site: 'lab-east',
      workerId: 'h2',
      region: REGION,
      outputs: twoSiteOutputs,
    });
    expect(config.taskQueueUrl).toBe(twoSiteOutputs.get('WorkerTaskQueueUrlLabEast'));
    expect(parseWorkerConfig(config, 'generated', {}).site).toBe('lab-east');
  });

  it('names the missing output and why for a site the stack has no lane for', () => {
    const call = () =>
      workerConfigFromOutputs({ env: 'dev', site: 'edge', workerId: 'h1', region: REGION, outputs });
    expect(call).toThrow(WorkerConfigOutputError);
    expect(call).toThrow(/stack Runlane-dev has no WorkerTaskQueueUrlEdge output/);
    expect(call).toThrow(/site "edge" may not be in workers.sites of environment dev in cdk.json/);
    expect(call).toThrow(/the stack has WorkerTaskQueueUrlLab/);
    expect(call).toThrow(/, or the stack is not deployed \(or not since the site was added\)/);
  });

  it('names both outputs when the stack has none', () => {
    const call = () =>
      workerConfigFromOutputs({
        env: 'prod',
        site: 'lab',
        workerId: 'h1',
        region: REGION,
        outputs: new Map(),
      });
    expect(call).toThrow(/no ApiUrl and no WorkerTaskQueueUrlLab output/);
    expect(call).toThrow(/or the stack is not deployed \(it has no outputs at all\)/);
  });
});

describe('writeWorkerConfigFile', () => {
  it('writes mode 0600 and refuses an existing file unless forced', async () => {
    const file = join(directory, 'write.json');
    await writeWorkerConfigFile(file, { a: 1 }, { force: false });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ a: 1 });
    await expect(writeWorkerConfigFile(file, { a: 2 }, { force: false })).rejects.toThrow(
      WorkerConfigFileExistsError,
    );
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ a: 1 });

    const loose = join(directory, 'loose.json');
    writeFileSync(loose, '{}', { mode: 0o644 });
    await writeWorkerConfigFile(loose, { a: 3 }, { force: true });
    expect(statSync(loose).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(loose, 'utf8'))).toEqual({ a: 3 });
  });
});

describe('runlane workers config', () => {
  const fromStack: WorkersDependencies = { stackOutputs: async () => outputs };

  it('is a command of the program with its flags', () => {
    expect(
      checkRunlaneCommandLine([
        'workers',
        'config',
        '--env',
        'dev',
        '--site',
        'lab',
        '--worker-id',
        'h1',
        '--out',
        'w.json',
        '--force',
        '--json',
      ]),
    ).toEqual(['workers', 'config']);
    expect(() =>
      checkRunlaneCommandLine([
        'workers',
        'config',
        '--site',
        'lab',
        '--worker-id',
        'h1',
        '--api-url',
        'http://x',
      ]),
    ).toThrow(/--api-url/);
    expect(() => checkRunlaneCommandLine(['workers', 'health', '--site', 'lab'])).toThrow(/--site/);
  });

  it('needs --env: exit 2', async () => {
    const result = await capture(['config', '--site', 'lab', '--worker-id', 'h1'], fromStack);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('workers config needs --env <env>');
    expect(result.stdout).toBe('');
  });

  it('refuses bad usage before reading the stack: exit 2', async () => {
    const stackOutputs = vi.fn(async () => outputs);
    for (const argv of [
      ['config', '--env', 'qa', '--site', 'lab', '--worker-id', 'h1'],
      ['config', '--env', 'dev', '--worker-id', 'h1'],
      ['config', '--env', 'dev', '--site', 'Lab!', '--worker-id', 'h1'],
      ['config', '--env', 'dev', '--site', 'lab'],
      ['config', '--env', 'dev', '--site', 'lab', '--worker-id', 'h1', '--force'],
      ['config', '--env', 'dev', '--site', 'lab', '--worker-id', 'h1', '--api-url', 'http://127.0.0.1:1'],
      ['health', '--site', 'lab'],
    ]) {
      expect((await capture(argv, { stackOutputs })).status, argv.join(' ')).toBe(2);
    }
    expect(stackOutputs).not.toHaveBeenCalled();
  });

  it('prints the validated config on stdout, the rest on stderr', async () => {
    const result = await capture(['config', '--env', 'dev', '--site', 'lab', '--worker-id', 'h1'], fromStack);
    expect(result.status).toBe(0);
    const printed = JSON.parse(result.stdout);
    expect(printed).toEqual({
      environment: 'dev',
      workerId: 'h1',
      site: 'lab',
      taskQueueUrl: outputs.get('WorkerTaskQueueUrlLab'),
      apiUrl: outputs.get('ApiUrl'),
      region: REGION,
    });
    expect(parseWorkerConfig(printed, 'stdout', {}).workerId).toBe('h1');
    expect(result.stderr).toContain('from Runlane-dev');
    expect(result.stderr).toContain('taskQueueUrl = WorkerTaskQueueUrlLab, apiUrl = ApiUrl');
  });

  it('writes --out with mode 0600, refuses to overwrite it without --force', async () => {
    const file = join(directory, 'worker.json');
    const argv = ['config', '--env', 'dev', '--site', 'lab', '--worker-id', 'h1', '--out', file];
    const written = await capture(argv, fromStack);
    expect(written).toMatchObject({ status: 0, stdout: '' });
    expect(written.stderr).toContain(`Wrote ${file} (mode 0600)`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const config = JSON.parse(readFileSync(file, 'utf8'));
    expect(parseWorkerConfig(config, file, {})).toMatchObject({ site: 'lab', workerId: 'h1' });

    const stackOutputs = vi.fn(async () => outputs);
    const again = await capture([...argv.slice(0, 5), '--worker-id', 'h2', '--out', file], { stackOutputs });
    expect(again.status).toBe(1);
    expect(again.stderr).toContain(`${file} exists; pass --force to overwrite it`);
    expect(stackOutputs).not.toHaveBeenCalled();
    expect(JSON.parse(readFileSync(file, 'utf8')).workerId).toBe('h1');

    const forced = await capture(
      [...argv.slice(0, 5), '--worker-id', 'h2', '--out', file, '--force', '--json'],
      {
        stackOutputs,
      },
    );
    expect(forced.status).toBe(0);
    expect(JSON.parse(forced.stdout)).toMatchObject({
      stackName: 'Runlane-dev',
      region: REGION,
      file,
      outputs: { taskQueueUrl: 'WorkerTaskQueueUrlLab', apiUrl: 'ApiUrl' },
      config: { workerId: 'h2' },
    });
    expect(JSON.parse(readFileSync(file, 'utf8')).workerId).toBe('h2');
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('exits 1 naming the missing output, the unreadable stack, or the invalid field', async () => {
    const missing = await capture(
      ['config', '--env', 'dev', '--site', 'edge', '--worker-id', 'h1'],
      fromStack,
    );
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('stack Runlane-dev has no WorkerTaskQueueUrlEdge output');
    expect(missing.stdout).toBe('');

    const unreadable = await capture(['config', '--env', 'dev', '--site', 'lab', '--worker-id', 'h1'], {
      stackOutputs: async () => {
        throw new Error('Stack with id Runlane-dev does not exist');
      },
    });
    expect(unreadable.status).toBe(1);
    expect(unreadable.stderr).toContain(
      `cannot read stack Runlane-dev in ${REGION}: Stack with id Runlane-dev`,
    );

    // A stack whose lane output is another environment's queue: the agent's check refuses it.
    const wrongQueue = new Map(outputs);
    wrongQueue.set(
      'WorkerTaskQueueUrlLab',
      `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/runlane-prod-worker-tasks-lab`,
    );
    const file = join(directory, 'invalid.json');
    const invalid = await capture(
      ['config', '--env', 'dev', '--site', 'lab', '--worker-id', 'h1', '--out', file],
      { stackOutputs: async () => wrongQueue },
    );
    expect(invalid.status).toBe(1);
    expect(invalid.stderr).toContain('taskQueueUrl');
    expect(invalid.stderr).toContain('runlane-dev-worker-tasks-lab');
    expect(invalid.stdout).toBe('');
    expect(() => statSync(file)).toThrow();
  });
});
