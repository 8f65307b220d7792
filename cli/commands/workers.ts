import { lstat, open, rename, unlink } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { SignatureV4 } from '@smithy/signature-v4';
import type * as z from 'zod';
import { parseWorkerConfig, type workerConfigFileSchema } from '#agent/worker/config.js';
import { WorkerConfigError } from '#agent/worker/errors.js';
import { isSubcommand } from '#common/command-line.js';
import { NodeSha256 } from '#common/sigv4.js';
import { workerIdSchema, workerSiteSchema } from '#contracts/worker-contract.js';
import { loadRunlaneConfig } from '#lib/config/cdk-json.js';
import {
  ENVIRONMENT_NAMES,
  type EnvironmentName,
  workerSiteOutputId,
} from '#lib/config/environment-config.js';
import { WORKERS_SPEC } from '../cli-spec.js';
import { UsageError } from '../commands.js';
import { formatDuration, plural, printable } from '../report/format.js';
import { table } from '../report/render-text.js';
import { type DeployedStack, describeDeployedStack } from '../targets.js';
import { formatAge } from './supervisors.js';

export const WORKERS_HELP = `runlane workers — seed 004's worker triage, through the control plane's API.

Usage:
  runlane workers health [--json]
      every worker with online/offline, last_seen and heartbeat age, tasks executing and the
      offline backlog it reports; the queue depth of each site's task lane; whether delegation
      is on (GET /api/workers/health). Exit 1 when a worker is offline.
  runlane workers metrics [--json]
      queue depth, task failure count, average task latency, heartbeat freshness and offline
      backlog per worker, and the tasks stuck in executing (GET /api/workers/metrics)
  runlane workers delegation [on|off] [--changed-by <name>] [--json]
      without an argument: whether worker delegation is on; on|off switches it
      (PUT /api/workers/delegation). The control plane refuses "on" while no worker is online
      (409 no_worker_online, seed 004: "set delegation only after at least one worker is
      online"): exit 1, the flag stays as it was.
  runlane workers config --env <env> --site <site> --worker-id <id> [--out <file> [--force]] [--json]
      the worker's config file (runlane-agent worker --config <file>) from the outputs of stack
      Runlane-<env>: taskQueueUrl = WorkerTaskQueueUrl<Site>, apiUrl = ApiUrl, region from cdk.json,
      environment, site, workerId; every other field keeps its default (add scripts and plugins
      yourself, see config/worker.example.json). Validated as the agent validates it, then printed
      on stdout, or written to --out (mode 0600; an existing file only with --force). Needs --env:
      a worker of the local stack takes its settings from the environment variables the banner of
      npm start prints, no file.

Where:
  --api-url <url>      the local stack (default http://127.0.0.1:3000; npm start)
  --env <env>          a deployed environment (${ENVIRONMENT_NAMES.join(', ')}): the ApiUrl output of stack
                       Runlane-<env>, requests SigV4-signed (execute-api) with the SDK's default
                       credentials, region from cdk.json

Options:
  --changed-by <name>  delegation on|off: who switched it (default cli:<user>)
  --site <site>        config: the worker's site, one of workers.sites of <env> in cdk.json
  --worker-id <id>     config: the worker's id (1-64 of A-Z, a-z, 0-9, ".", "_", "-")
  --out <file>         config: write the file there instead of printing it
  --force              config: overwrite an existing --out file
  --json               the endpoint's JSON instead of a table; config: {stackName, region, file,
                       outputs, config} on stdout
  --help
Exit codes: 0 success, 1 a worker is offline (health), the switch was refused, the API could
not be reached or failed, or (config) the stack could not be read, lacks an output, the config
does not validate or --out exists, 2 bad usage.`;

/** The control plane's API could not be asked, or answered with an error. */
export class WorkerApiRequestError extends Error {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'WorkerApiRequestError';
  }
}

/** An answer of the API: status and parsed JSON body. */
export interface WorkerApiAnswer {
  readonly status: number;
  readonly body: unknown;
}

/** The control plane's `/api/workers/*`: the local stack's, or a deployed one's through SigV4. */
export interface WorkerApiTarget {
  readonly description: string;
  readonly apiUrl: string;
  request(method: 'GET' | 'PUT', path: string, body?: unknown): Promise<WorkerApiAnswer>;
}

const REQUEST_TIMEOUT_MS = 15_000;

/**
 * `--env <env>`: the `ApiUrl` output of stack `Runlane-<env>`, requests signed as the worker
 * agent signs them (SigV4, service `execute-api`). Otherwise the local stack at `apiUrl`
 * (IAM is not emulated there, so requests go unsigned).
 *
 * @example
 * const api = await resolveWorkerApi({ apiUrl: 'http://127.0.0.1:3000' });
 * const { status, body } = await api.request('GET', '/api/workers/health');
 */
export async function resolveWorkerApi(options: {
  readonly apiUrl: string;
  readonly env?: string | undefined;
}): Promise<WorkerApiTarget> {
  if (options.env === undefined) {
    const apiUrl = options.apiUrl.replace(/\/+$/, '');
    return {
      description: `local stack ${apiUrl}`,
      apiUrl,
      request: (method, path, body) =>
        send(apiUrl, method, path, body, async (request) => request.headers, {
          unreachable: `no local stack answers at ${apiUrl}; start one with npm start, or pass --env <env>`,
        }),
    };
  }
  if (!(ENVIRONMENT_NAMES as readonly string[]).includes(options.env)) {
    throw new UsageError(`--env must be one of ${ENVIRONMENT_NAMES.join(', ')}`);
  }
  const env = options.env as EnvironmentName;
  const region = loadRunlaneConfig().environments[env].region;
  const stackName = `Runlane-${env}`;
  let stack: DeployedStack;
  try {
    stack = await describeDeployedStack(env);
  } catch (error) {
    throw new WorkerApiRequestError(`cannot read stack ${stackName} in ${region}: ${describe(error)}`, {
      cause: error,
    });
  }
  const { cloudFormation } = stack;
  const apiUrl = stack.outputs.get('ApiUrl');
  if (!apiUrl) throw new WorkerApiRequestError(`stack ${stackName} has no ApiUrl output (is it deployed?)`);
  const base = apiUrl.replace(/\/+$/, '');
  const signer = new SignatureV4({
    service: 'execute-api',
    region,
    credentials: () => cloudFormation.config.credentials(),
    sha256: NodeSha256,
  });
  return {
    description: `${stackName} (${region})`,
    apiUrl: base,
    request: (method, path, body) =>
      send(
        base,
        method,
        path,
        body,
        async (request) => {
          const url = new URL(request.url);
          const signed = await signer.sign({
            method: request.method,
            protocol: url.protocol,
            hostname: url.hostname,
            ...(url.port === '' ? {} : { port: Number(url.port) }),
            path: url.pathname,
            query: Object.fromEntries(url.searchParams),
            headers: { host: url.host, ...request.headers },
            ...(request.body === undefined ? {} : { body: request.body }),
          });
          return signed.headers;
        },
        { unreachable: `the API of ${stackName} (${base}) did not answer` },
      ),
  };
}

async function send(
  base: string,
  method: 'GET' | 'PUT',
  path: string,
  body: unknown,
  headersFor: (request: {
    url: string;
    method: string;
    headers: Record<string, string>;
    body: string | undefined;
  }) => Promise<Record<string, string>>,
  messages: { readonly unreachable: string },
): Promise<WorkerApiAnswer> {
  const url = `${base}${path}`;
  const text = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string> = text === undefined ? {} : { 'content-type': 'application/json' };
  let response: Response;
  let raw: string;
  try {
    const signed = await headersFor({ url, method, headers, body: text });
    response = await fetch(url, {
      method,
      headers: signed,
      ...(text === undefined ? {} : { body: text }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    raw = await response.text();
  } catch (error) {
    throw new WorkerApiRequestError(`${messages.unreachable} (${describe(error)})`, { cause: error });
  }
  let parsed: unknown;
  try {
    parsed = raw === '' ? undefined : JSON.parse(raw);
  } catch {
    parsed = raw;
  }
  return { status: response.status, body: parsed };
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error.cause as NodeJS.ErrnoException | undefined)?.code;
    return code ? `${error.message}: ${code}` : error.message;
  }
  return String(error);
}

/** "HTTP 500 internal_error: …" from an error answer. */
export function describeAnswer(answer: WorkerApiAnswer): string {
  const body = answer.body as { error?: unknown; message?: unknown; fieldPath?: unknown } | undefined;
  const parts = [`HTTP ${answer.status}`];
  if (typeof body?.error === 'string') parts.push(body.error);
  if (typeof body?.fieldPath === 'string') parts.push(`at ${body.fieldPath}`);
  const head = parts.join(' ');
  return typeof body?.message === 'string' ? `${head}: ${body.message}` : head;
}

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
 * each missing output. Validate the result with `parseWorkerConfig` before handing it out.
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
  const stackName = `Runlane-${env}`;
  const taskQueueUrl = outputs.get(keys.taskQueueUrl);
  const apiUrl = outputs.get(keys.apiUrl);
  if (!taskQueueUrl || !apiUrl) {
    const missing = [...(apiUrl ? [] : [keys.apiUrl]), ...(taskQueueUrl ? [] : [keys.taskQueueUrl])];
    const lanes = [...outputs.keys()].filter((key) => key.startsWith(TASK_QUEUE_OUTPUT_PREFIX)).sort();
    const reasons = [
      ...(taskQueueUrl
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
    throw new WorkerConfigOutputError(
      `stack ${stackName} has no ${missing.join(' and no ')} output: ${reasons.join(', or ')}`,
      missing,
    );
  }
  return {
    environment: env,
    workerId,
    site,
    taskQueueUrl,
    apiUrl,
    region,
  } satisfies z.input<typeof workerConfigFileSchema>;
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
      const handle = await open(file, 'wx', 0o600);
      try {
        await handle.writeFile(text, 'utf8');
      } finally {
        await handle.close();
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new WorkerConfigFileExistsError(file);
      throw error;
    }
    return;
  }
  const temporary = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    const handle = await open(temporary, 'wx', 0o600);
    try {
      await handle.writeFile(text, 'utf8');
    } finally {
      await handle.close();
    }
    await rename(temporary, file);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
}

/** What `runWorkers` reads from outside; tests replace it. */
export interface WorkersDependencies {
  /** The outputs of stack `Runlane-<env>` (default: CloudFormation DescribeStacks, cli/targets.ts). */
  readonly stackOutputs?: (env: EnvironmentName) => Promise<ReadonlyMap<string, string>>;
}

/**
 * `runlane workers health|metrics|delegation|config`.
 *
 * @example
 * process.exitCode = await runWorkers(['health', '--json']);
 */
export async function runWorkers(
  argv: readonly string[],
  dependencies: WorkersDependencies = {},
): Promise<number> {
  try {
    return await workers(argv, dependencies);
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`runlane workers: ${(error as Error).message}\n\n${WORKERS_HELP}`);
      return 2;
    }
    if (
      error instanceof WorkerApiRequestError ||
      error instanceof WorkerConfigOutputError ||
      error instanceof WorkerConfigError ||
      error instanceof WorkerConfigFileExistsError
    ) {
      console.error(`runlane workers: ${error.message}`);
      return 1;
    }
    throw error;
  }
}

async function workers(argv: readonly string[], dependencies: WorkersDependencies): Promise<number> {
  const { values, positionals, tokens } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: WORKERS_SPEC.options,
    strict: true,
    tokens: true,
  });
  if (values.help) {
    console.log(WORKERS_HELP);
    return 0;
  }
  const [subcommand, ...rest] = positionals;
  if (subcommand === undefined) {
    throw new UsageError('give a command: health, metrics, delegation or config');
  }
  if (!isSubcommand(WORKERS_SPEC, subcommand)) {
    throw new UsageError(`unknown workers command "${subcommand}"`);
  }
  const switchTo = subcommand === 'delegation' ? rest.shift() : undefined;
  const switches: readonly string[] = WORKERS_SPEC.subcommands.delegation.positionals.choices;
  if (switchTo !== undefined && !switches.includes(switchTo)) {
    throw new UsageError(`delegation takes on or off, got "${switchTo}"`);
  }
  if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
  if (values['changed-by'] !== undefined && switchTo === undefined) {
    throw new UsageError('--changed-by goes with "workers delegation on|off"');
  }
  const accepted: readonly string[] = Object.keys(WORKERS_SPEC.subcommands[subcommand].options);
  for (const token of tokens) {
    if (token.kind === 'option' && !accepted.includes(token.name)) {
      throw new UsageError(`${token.rawName} does not go with "workers ${subcommand}"`);
    }
  }
  if (values.env !== undefined && values.env.trim() === '') throw new UsageError('--env needs a name');
  if (subcommand === 'config') return config(values, dependencies);
  const api = await resolveWorkerApi({ apiUrl: values['api-url'], env: values.env });

  if (subcommand === 'health') return health(api, values.json);
  if (subcommand === 'metrics') return metrics(api, values.json);
  if (switchTo === undefined) return showDelegation(api, values.json);
  return switchDelegation(api, switchTo === 'on', values['changed-by'] ?? defaultChangedBy(), values.json);
}

interface ConfigValues {
  readonly env?: string | undefined;
  readonly site?: string | undefined;
  readonly 'worker-id'?: string | undefined;
  readonly out?: string | undefined;
  readonly force?: boolean | undefined;
  readonly json: boolean;
}

/** A flag value checked against the schema the agent checks it with: a usage error otherwise. */
function flagValue(flag: string, value: string | undefined, schema: z.ZodType<string>): string {
  if (value === undefined) throw new UsageError(`workers config needs ${flag}`);
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new UsageError(
      `${flag} ${result.error.issues[0]?.message ?? 'is invalid'} (got ${JSON.stringify(value)})`,
    );
  }
  return result.data;
}

/** `runlane workers config`: the worker's config file from the deployed stack's outputs. */
async function config(values: ConfigValues, dependencies: WorkersDependencies): Promise<number> {
  if (values.env === undefined) {
    throw new UsageError(
      'workers config needs --env <env> (' +
        ENVIRONMENT_NAMES.join(', ') +
        '): it reads the outputs of stack Runlane-<env>. A worker of the local stack needs no config ' +
        'file: start it with the WORKER_SITE_NAME / RUNLANE_WORKER_QUEUE_URL / RUNLANE_API_URL line ' +
        'the banner of npm start prints',
    );
  }
  if (!(ENVIRONMENT_NAMES as readonly string[]).includes(values.env)) {
    throw new UsageError(`--env must be one of ${ENVIRONMENT_NAMES.join(', ')}`);
  }
  const env = values.env as EnvironmentName;
  const site = flagValue('--site', values.site, workerSiteSchema);
  const workerId = flagValue('--worker-id', values['worker-id'], workerIdSchema);
  const out = values.out;
  if (out !== undefined && out.trim() === '') throw new UsageError('--out needs a file name');
  if (values.force && out === undefined) throw new UsageError('--force goes with --out <file>');
  if (out !== undefined && !values.force && (await lstat(out).catch(() => undefined)) !== undefined) {
    throw new WorkerConfigFileExistsError(out);
  }

  const region = loadRunlaneConfig().environments[env].region;
  const stackName = `Runlane-${env}`;
  const readOutputs =
    dependencies.stackOutputs ??
    (async (name: EnvironmentName) => (await describeDeployedStack(name)).outputs);
  let outputs: ReadonlyMap<string, string>;
  try {
    outputs = await readOutputs(env);
  } catch (error) {
    throw new WorkerApiRequestError(`cannot read stack ${stackName} in ${region}: ${describe(error)}`, {
      cause: error,
    });
  }
  const file = workerConfigFromOutputs({ env, site, workerId, region, outputs });
  // The agent's own validation, without this shell's WORKER_* / RUNLANE_* overrides.
  parseWorkerConfig(file, out ?? `generated config of ${workerId}`, {}, workerId);

  const keys = workerConfigOutputKeys(site);
  console.error(
    `Worker config of ${printable(workerId)} at site ${site} from ${stackName} (${region}): taskQueueUrl = ` +
      `${keys.taskQueueUrl}, apiUrl = ${keys.apiUrl}; every other field at its default.`,
  );
  if (out !== undefined) {
    await writeWorkerConfigFile(out, file, { force: values.force === true });
    console.error(
      `Wrote ${out} (mode 0600). Add the host's scripts and plugins if it runs any (config/worker.example.json), ` +
        'copy it to the host and check it there: runlane-agent worker status --config <file>',
    );
  }
  if (values.json) {
    const summary = {
      stackName,
      region,
      file: out ?? null,
      outputs: { taskQueueUrl: keys.taskQueueUrl, apiUrl: keys.apiUrl },
      config: file,
    };
    console.log(JSON.stringify(summary, null, 2));
  } else if (out === undefined) {
    console.log(JSON.stringify(file, null, 2));
  }
  return 0;
}

/** Fails with the answer unless it has the expected status. */
function expectStatus(api: WorkerApiTarget, answer: WorkerApiAnswer, path: string, status: number): void {
  if (answer.status !== status) {
    throw new WorkerApiRequestError(`${path} on ${api.description} answered ${describeAnswer(answer)}`);
  }
}

type QueueDepth = Record<string, { visible: number; inFlight: number }>;

interface HealthBody {
  workers: {
    worker_id: string;
    site: string;
    host: string;
    status: 'online' | 'offline' | 'stopped';
    last_seen: string;
    heartbeat_age_ms: number;
    interval_ms: number;
    version: string;
    executing: number;
    offline_backlog: { files: number; bytes: number };
    stopped_at?: string;
  }[];
  queue: { depth: QueueDepth; total: number };
  delegation: { enabled: boolean };
}

async function health(api: WorkerApiTarget, json: boolean): Promise<number> {
  const path = '/api/workers/health';
  const answer = await api.request('GET', path);
  expectStatus(api, answer, path, 200);
  const body = answer.body as HealthBody;
  const offline = body.workers.filter((worker) => worker.status === 'offline');
  const stopped = body.workers.filter((worker) => worker.status === 'stopped');
  if (json) {
    console.log(JSON.stringify(body, null, 2));
    return offline.length > 0 ? 1 : 0;
  }
  const lines = [
    `Workers (${api.description}) at ${new Date().toISOString()}: ${plural(body.workers.length, 'worker')}, ` +
      `${body.workers.length - offline.length - stopped.length} online, ${offline.length} offline` +
      `${stopped.length > 0 ? `, ${stopped.length} stopped` : ''}; delegation ${body.delegation.enabled ? 'on' : 'off'}`,
  ];
  if (body.workers.length === 0) {
    lines.push('No worker has registered yet (start one: npm run agent -- worker --config <file>).');
  } else {
    lines.push(
      ...table(
        [
          'WORKER',
          'SITE',
          'HOST',
          'STATUS',
          'LAST SEEN',
          'AGE',
          'INTERVAL',
          'EXECUTING',
          'BACKLOG',
          'VERSION',
        ],
        body.workers.map((worker) => [
          printable(worker.worker_id),
          worker.site,
          printable(worker.host),
          statusLabel(worker.status),
          worker.last_seen,
          formatAge(worker.heartbeat_age_ms),
          formatDuration(worker.interval_ms),
          String(worker.executing),
          backlog(worker.offline_backlog),
          printable(worker.version),
        ]),
        ['left', 'left', 'left', 'left', 'left', 'right', 'right', 'right', 'right'],
      ),
    );
  }
  lines.push(`Queue depth: ${depthLine(body.queue.depth, body.queue.total)}`);
  if (offline.length > 0) {
    lines.push(
      `OFFLINE: ${offline.map((worker) => printable(worker.worker_id)).join(', ')} — no heartbeat for longer than ` +
        'the stale multiple × its interval; check the host and its worker process.',
    );
  }
  if (stopped.length > 0) {
    lines.push(
      `STOPPED: ${stopped.map((worker) => printable(worker.worker_id)).join(', ')} — deregistered on a graceful ` +
        'shutdown (a planned stop, not counted offline); a new registration brings it back.',
    );
  }
  console.log(lines.join('\n'));
  return offline.length > 0 ? 1 : 0;
}

function statusLabel(status: 'online' | 'offline' | 'stopped'): string {
  return status === 'online' ? status : status.toUpperCase();
}

interface MetricsBody {
  queue_depth: number;
  queue_depth_by_site: QueueDepth;
  task_failure_count: number;
  average_task_latency_ms: number | null;
  latency_sample_size: number;
  workers: {
    worker_id: string;
    site: string;
    status: 'online' | 'offline' | 'stopped';
    heartbeat_freshness_ms: number;
    offline_backlog: { files: number; bytes: number };
  }[];
  stuck_tasks: {
    task_id: string;
    site: string;
    claimed_by?: string;
    executing_since: string;
    age_ms: number;
    result_key: string | null;
  }[];
}

async function metrics(api: WorkerApiTarget, json: boolean): Promise<number> {
  const path = '/api/workers/metrics';
  const answer = await api.request('GET', path);
  expectStatus(api, answer, path, 200);
  const body = answer.body as MetricsBody;
  if (json) {
    console.log(JSON.stringify(body, null, 2));
    return 0;
  }
  const backlogFiles = body.workers.reduce((sum, worker) => sum + worker.offline_backlog.files, 0);
  const lines = [
    `Worker metrics (${api.description}) at ${new Date().toISOString()}`,
    ...table(undefined, [
      ['queue depth', depthLine(body.queue_depth_by_site, body.queue_depth)],
      ['task failures', String(body.task_failure_count)],
      [
        'average task latency',
        body.average_task_latency_ms === null
          ? 'no finished task yet'
          : `${formatDuration(body.average_task_latency_ms)} (queued → result, newest ${plural(body.latency_sample_size, 'finished task')})`,
      ],
      ['offline backlog', `${plural(backlogFiles, 'result envelope')} waiting in workers' spools`],
      ['stuck in executing', String(body.stuck_tasks.length)],
    ]).map((line) => `  ${line}`),
  ];
  if (body.workers.length > 0) {
    lines.push(
      ...table(
        ['WORKER', 'SITE', 'STATUS', 'HEARTBEAT FRESHNESS', 'OFFLINE BACKLOG'],
        body.workers.map((worker) => [
          printable(worker.worker_id),
          worker.site,
          statusLabel(worker.status),
          formatAge(worker.heartbeat_freshness_ms),
          backlog(worker.offline_backlog),
        ]),
        ['left', 'left', 'left', 'right', 'right'],
      ),
    );
  }
  if (body.stuck_tasks.length > 0) {
    lines.push(
      'Stuck tasks (details: npx runlane tasks stuck):',
      ...table(
        ['TASK', 'SITE', 'CLAIMED BY', 'EXECUTING SINCE', 'AGE', 'RESULT KEY'],
        body.stuck_tasks.map((task) => [
          task.task_id,
          task.site,
          printable(task.claimed_by ?? '-'),
          task.executing_since,
          formatAge(task.age_ms),
          task.result_key ?? 'none',
        ]),
        ['left', 'left', 'left', 'left', 'right'],
      ).map((line) => `  ${line}`),
    );
  }
  console.log(lines.join('\n'));
  return 0;
}

interface DelegationBody {
  enabled: boolean;
  source: 'flag' | 'default';
  changed_at?: string;
  changed_by?: string;
  online_workers: number;
  error?: string;
  message?: string;
}

function delegationLine(body: DelegationBody): string {
  const origin =
    body.source === 'default'
      ? 'the deploy-time default, WORKER_DELEGATION_ENABLED'
      : `switched ${body.changed_at ?? '?'} by ${printable(body.changed_by ?? '?')}`;
  return `Worker delegation is ${body.enabled ? 'on' : 'off'} (${origin}); ${plural(body.online_workers, 'worker')} online.`;
}

async function showDelegation(api: WorkerApiTarget, json: boolean): Promise<number> {
  const path = '/api/workers/delegation';
  const answer = await api.request('GET', path);
  expectStatus(api, answer, path, 200);
  const body = answer.body as DelegationBody;
  console.log(json ? JSON.stringify(body, null, 2) : delegationLine(body));
  return 0;
}

async function switchDelegation(
  api: WorkerApiTarget,
  enabled: boolean,
  changedBy: string,
  json: boolean,
): Promise<number> {
  const path = '/api/workers/delegation';
  const answer = await api.request('PUT', path, { enabled, changed_by: changedBy });
  const body = answer.body as DelegationBody;
  if (answer.status === 409 && body?.error === 'no_worker_online') {
    if (json) console.log(JSON.stringify(body, null, 2));
    console.error(
      `runlane workers: refused — no_worker_online: no worker is online on ${api.description}, so delegation ` +
        `was not turned on (it stays ${body.enabled ? 'on' : 'off'}). Start a worker (npm run agent -- worker ` +
        '--config <file>), wait for its heartbeat (npx runlane workers health), then try again.',
    );
    return 1;
  }
  expectStatus(api, answer, path, 200);
  console.log(json ? JSON.stringify(body, null, 2) : delegationLine(body));
  return 0;
}

function defaultChangedBy(): string {
  try {
    return `cli:${userInfo().username}`.slice(0, 128);
  } catch {
    return 'cli';
  }
}

function backlog(value: { files: number; bytes: number }): string {
  return `${value.files} (${value.bytes} B)`;
}

function depthLine(depth: QueueDepth, total: number): string {
  const sites = Object.entries(depth).map(
    ([site, counts]) => `${site} ${counts.visible} visible / ${counts.inFlight} in flight`,
  );
  return sites.length === 0 ? `${total} (no site lane configured)` : `${total} (${sites.join(', ')})`;
}
