import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type * as z from 'zod';
import type { workerConfigFileSchema } from '#common/worker-config.js';
import { workerSiteOutputId } from '#lib/config/environment-config.js';

/** A deployed stack lacks an output `workers config` needs. */
export class WorkerConfigOutputError extends Error {
  public constructor(
    message: string,
    public readonly missing: readonly string[],
  ) {
    super(message);
    this.name = 'WorkerConfigOutputError';
  }
}

/** What `runlane workers config` writes: every other field of the file keeps its schema default. */
export interface GeneratedWorkerConfig {
  readonly environment: string;
  readonly workerId: string;
  readonly site: string;
  /** The `WorkerTaskQueueUrl<Site>` output. */
  readonly taskQueueUrl: string;
  /** The `ApiUrl` output. */
  readonly apiUrl: string;
  /** The environment's region in cdk.json: the queue's and the API's SigV4 region. */
  readonly region: string;
}

/** The stack outputs a worker of `site` is configured from. */
export function workerConfigOutputKeys(site: string): {
  readonly taskQueueUrl: string;
  readonly apiUrl: string;
} {
  return { taskQueueUrl: `WorkerTaskQueueUrl${workerSiteOutputId(site)}`, apiUrl: 'ApiUrl' };
}

const TASK_QUEUE_OUTPUT_PREFIX = 'WorkerTaskQueueUrl';

/**
 * The worker config file of `workerId` at `site` from the outputs of stack `Runlane-<env>`:
 * `taskQueueUrl` from `WorkerTaskQueueUrl<Site>` (the suffix the stack names it with,
 * `workerSiteOutputId`), `apiUrl` from `ApiUrl`. Throws {@link WorkerConfigOutputError} naming
 * each missing output. Validate the result with `parseWorkerConfigFile` before handing it out.
 *
 * @example
 * workerConfigFromOutputs({ env: 'dev', site: 'lab', workerId: 'h1', region: 'us-east-1', outputs }).taskQueueUrl;
 * // outputs.get('WorkerTaskQueueUrlLab')
 */
export function workerConfigFromOutputs(options: {
  readonly env: string;
  readonly site: string;
  readonly workerId: string;
  readonly region: string;
  readonly outputs: ReadonlyMap<string, string>;
}): GeneratedWorkerConfig {
  const { env, site, workerId, region, outputs } = options;
  const keys = workerConfigOutputKeys(site);
  const taskQueueUrl = outputs.get(keys.taskQueueUrl);
  const apiUrl = outputs.get(keys.apiUrl);
  if (!taskQueueUrl || !apiUrl) throw missingOutputs(options, { taskQueueUrl, apiUrl });
  return {
    environment: env,
    workerId,
    site,
    taskQueueUrl,
    apiUrl,
    region,
  } satisfies z.input<typeof workerConfigFileSchema>;
}

/** Which outputs are missing, and the likely reasons: the site is not configured, or not deployed. */
function missingOutputs(
  options: { readonly env: string; readonly site: string; readonly outputs: ReadonlyMap<string, string> },
  found: { readonly taskQueueUrl: string | undefined; readonly apiUrl: string | undefined },
): WorkerConfigOutputError {
  const { env, site, outputs } = options;
  const keys = workerConfigOutputKeys(site);
  const missing = [
    ...(found.apiUrl ? [] : [keys.apiUrl]),
    ...(found.taskQueueUrl ? [] : [keys.taskQueueUrl]),
  ];
  const lanes = [...outputs.keys()].filter((key) => key.startsWith(TASK_QUEUE_OUTPUT_PREFIX)).sort();
  const reasons = [
    ...(found.taskQueueUrl
      ? []
      : [
          `site "${site}" may not be in workers.sites of environment ${env} in cdk.json (the stack has ` +
            `${lanes.length === 0 ? 'no worker task lane' : lanes.join(', ')}; add the site and deploy: ` +
            `npx cdk deploy -c env=${env})`,
        ]),
    outputs.size === 0
      ? 'the stack is not deployed (it has no outputs at all)'
      : 'the stack is not deployed (or not since the site was added)',
  ];
  return new WorkerConfigOutputError(
    `stack Runlane-${env} has no ${missing.join(' and no ')} output: ${reasons.join(', or ')}`,
    missing,
  );
}

/** `--out <file>` exists and `--force` was not given. */
export class WorkerConfigFileExistsError extends Error {
  public constructor(public readonly file: string) {
    super(`${file} exists; pass --force to overwrite it`);
    this.name = 'WorkerConfigFileExistsError';
  }
}

/**
 * Writes a worker config as JSON with mode 0600. Refuses an existing file unless `force`
 * ({@link WorkerConfigFileExistsError}); with `force` it replaces the file through a temporary
 * one, so the new file is 0600 whatever mode the old one had.
 *
 * @example
 * await writeWorkerConfigFile('worker.json', config, { force: false });
 */
export async function writeWorkerConfigFile(
  file: string,
  config: unknown,
  options: { readonly force: boolean },
): Promise<void> {
  const text = `${JSON.stringify(config, null, 2)}\n`;
  if (!options.force) {
    try {
      await writeNew(file, text);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new WorkerConfigFileExistsError(file);
      throw error;
    }
    return;
  }
  const temporary = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    await writeNew(temporary, text);
    await rename(temporary, file);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
}

/** Creates `file` with mode 0600; fails with EEXIST when it exists. */
async function writeNew(file: string, text: string): Promise<void> {
  const handle = await open(file, 'wx', 0o600);
  try {
    await handle.writeFile(text, 'utf8');
  } finally {
    await handle.close();
  }
}
