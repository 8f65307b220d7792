import { lstat } from 'node:fs/promises';
import { parseWorkerConfigFile } from '#common/worker-config.js';
import { loadRunlaneConfig } from '#lib/config/cdk-json.js';
import { ENVIRONMENT_NAMES, type EnvironmentName } from '#lib/config/environment-config.js';
import { UsageError } from '../../errors.js';
import { printable } from '../../report/format.js';
import { describeDeployedStack } from '../../targets.js';
import { describeError, WorkerApiRequestError } from './api-client.js';
import {
  type GeneratedWorkerConfig,
  WorkerConfigFileExistsError,
  workerConfigFromOutputs,
  workerConfigOutputKeys,
  writeWorkerConfigFile,
} from './config-file.js';
import { reportingFailures } from './output.js';

/** What `runlane workers config` reads from outside; tests replace it. */
export interface WorkersDependencies {
  /** The outputs of stack `Runlane-<env>` (default: CloudFormation DescribeStacks, cli/targets.ts). */
  readonly stackOutputs?: (env: EnvironmentName) => Promise<ReadonlyMap<string, string>>;
}

/** The options of `runlane workers config` (cli/definitions/workers.ts). */
export interface WorkersConfigOptions {
  readonly env?: EnvironmentName | undefined;
  readonly site: string;
  readonly workerId: string;
  readonly out?: string | undefined;
  readonly force?: boolean | undefined;
  readonly json?: boolean | undefined;
}

/**
 * `runlane workers config`: the worker's config file from the deployed stack's outputs, checked as
 * the agent checks it, printed on stdout or written to `--out` (mode 0600).
 *
 * @example
 * process.exitCode = await runWorkersConfig({ env: 'prod', site: 'lab', workerId: 'h1', out: 'worker.json' });
 */
export function runWorkersConfig(
  options: WorkersConfigOptions,
  dependencies: WorkersDependencies = {},
): Promise<number> {
  return reportingFailures(async () => {
    const env = requireEnv(options.env);
    const { out } = options;
    if (options.force && out === undefined) throw new UsageError('--force goes with --out <file>');
    if (out !== undefined && !options.force && (await lstat(out).catch(() => undefined)) !== undefined) {
      throw new WorkerConfigFileExistsError(out);
    }
    const region = loadRunlaneConfig().environments[env].region;
    const outputs = await readOutputs(env, region, dependencies);
    const { site, workerId } = options;
    const file = workerConfigFromOutputs({ env, site, workerId, region, outputs });
    // The agent's own check, without this shell's WORKER_* / RUNLANE_* overrides.
    parseWorkerConfigFile(file, out ?? `generated config of ${workerId}`, {}, workerId);
    const keys = workerConfigOutputKeys(site);
    console.error(
      `Worker config of ${printable(workerId)} at site ${site} from Runlane-${env} (${region}): taskQueueUrl = ` +
        `${keys.taskQueueUrl}, apiUrl = ${keys.apiUrl}; every other field at its default.`,
    );
    if (out !== undefined) await writeOut(out, file, options.force === true);
    printConfig({ env, region, out, file, json: options.json === true });
    return 0;
  });
}

function requireEnv(env: EnvironmentName | undefined): EnvironmentName {
  if (env !== undefined) return env;
  throw new UsageError(
    `workers config needs --env <env> (${ENVIRONMENT_NAMES.join(', ')}): it reads the outputs of stack ` +
      'Runlane-<env>. A worker of the local stack needs no config file: start it with the ' +
      'WORKER_SITE_NAME / RUNLANE_WORKER_QUEUE_URL / RUNLANE_API_URL line the banner of npm start prints',
  );
}

async function readOutputs(
  env: EnvironmentName,
  region: string,
  dependencies: WorkersDependencies,
): Promise<ReadonlyMap<string, string>> {
  const read =
    dependencies.stackOutputs ??
    (async (name: EnvironmentName) => (await describeDeployedStack(name)).outputs);
  try {
    return await read(env);
  } catch (error) {
    throw new WorkerApiRequestError(
      `cannot read stack Runlane-${env} in ${region}: ${describeError(error)}`,
      {
        cause: error,
      },
    );
  }
}

async function writeOut(out: string, file: GeneratedWorkerConfig, force: boolean): Promise<void> {
  await writeWorkerConfigFile(out, file, { force });
  console.error(
    `Wrote ${out} (mode 0600). Add the host's scripts and plugins if it runs any (config/worker.example.json), ` +
      'copy it to the host and check it there: runlane-agent worker status --config <file>',
  );
}

/** The file on stdout (unless written to --out), or with --json a summary that holds it. */
function printConfig(written: {
  readonly env: EnvironmentName;
  readonly region: string;
  readonly out: string | undefined;
  readonly file: GeneratedWorkerConfig;
  readonly json: boolean;
}): void {
  const { env, region, out, file } = written;
  if (written.json) {
    const keys = workerConfigOutputKeys(file.site);
    const summary = {
      stackName: `Runlane-${env}`,
      region,
      file: out ?? null,
      outputs: { taskQueueUrl: keys.taskQueueUrl, apiUrl: keys.apiUrl },
      config: file,
    };
    console.log(JSON.stringify(summary, null, 2));
  } else if (out === undefined) {
    console.log(JSON.stringify(file, null, 2));
  }
}
