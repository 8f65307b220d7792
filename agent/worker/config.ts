import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { isAbsolute } from 'node:path';
import * as z from 'zod';
import {
  WORKER_ENV,
  workerIdSchema,
  workerSiteSchema,
  workerTaskQueueName,
} from '#contracts/worker-contract.js';
import type { ConfigIssue } from '../errors.js';
import { runnerConfigSchema } from '../runner/config.js';
import { MAX_TIMER_MS } from '../supervisor/config.js';
import { WorkerConfigError } from './errors.js';
import { BUILTIN_PLUGINS, type WorkerPlugin } from './plugins.js';

/**
 * `runlane-agent worker --config <file>` (seed 004, host side): which site's task lane to
 * poll, where the control plane's API is, the host's script allowlist and enabled plugins,
 * the offline spool. One zod schema; every error names its field path (`site`,
 * `scripts.rotate-logs.args.pattern`), see `config/worker.example.json`.
 */

/** Overrides and defaults from the environment (the seed's feature flags and two endpoints). */
export const WORKER_CONFIG_ENV = {
  /** Default of `workerId`. */
  defaultId: WORKER_ENV.defaultId,
  /** Default of `site`. */
  siteName: WORKER_ENV.siteName,
  /** Overrides `taskQueueUrl`. */
  queueUrl: WORKER_ENV.queueUrl,
  /** Overrides `apiUrl`. */
  apiUrl: WORKER_ENV.apiUrl,
} as const;

/** Largest `maxOutputBytes`: stdout and stderr both at the cap still fit one EventBridge entry (256 KB). */
export const MAX_OUTPUT_BYTES_LIMIT = 96 * 1024;

/** A script name as the task message may give it (the contract's pattern). */
const SCRIPT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const ms = z.number().int().positive().max(MAX_TIMER_MS);

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

const regexSource = z.string().superRefine((source, ctx) => {
  try {
    new RegExp(source, 'u');
  } catch (error) {
    ctx.addIssue({
      code: 'custom',
      message: `is not a valid regular expression: ${(error as Error).message}`,
    });
  }
});

/** One allowlisted script: a task names it and may pass arguments within `args`; nothing else. */
const scriptSchema = z
  .object({
    /** Absolute path of the executable (run directly, no shell). */
    path: z.string().refine(isAbsolute, 'must be an absolute path'),
    /** Arguments a task may pass: at most `maxCount`, each fully matching `pattern`. @default none */
    args: z
      .object({
        maxCount: z.number().int().min(0).max(32).default(0),
        /** Each argument must match it entirely (anchored for you). Required when maxCount > 0. */
        pattern: regexSource.optional(),
      })
      .strict()
      .refine((args) => args.maxCount === 0 || args.pattern !== undefined, {
        message: 'required when maxCount > 0',
        path: ['pattern'],
      })
      .default({ maxCount: 0 }),
    /** The script's tree is killed after this (SIGTERM, then SIGKILL after killGraceMs): `timeout`. */
    timeoutMs: ms.default(60_000),
    /** Between SIGTERM and SIGKILL to the script's tree. */
    killGraceMs: z.number().int().nonnegative().max(60_000).default(2_000),
    /** Bytes of stdout and of stderr kept (each); the rest is dropped and the result says `truncated`. */
    maxOutputBytes: z
      .number()
      .int()
      .min(1)
      .max(MAX_OUTPUT_BYTES_LIMIT)
      .default(64 * 1024),
    /** Working directory. @default the worker's */
    cwd: z.string().refine(isAbsolute, 'must be an absolute path').optional(),
    /** Added to the script's environment (which otherwise holds only PATH, HOME, LANG, TZ, TMPDIR and RUNLANE_*). */
    env: z.record(z.string(), z.string()).default({}),
  })
  .strict();

export type ScriptSpec = z.infer<typeof scriptSchema>;

export const WORKER_TRANSPORTS = ['api', 'bus'] as const;
export type WorkerTransportKind = (typeof WORKER_TRANSPORTS)[number];

/** The config file. `site`, `workerId`, `taskQueueUrl` and `apiUrl` may come from the environment instead. */
export const workerConfigFileSchema = z
  .object({
    /** Environment label: the queue name's and the bus name's `<env>`. */
    environment: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'must be 1-32 of a-z, 0-9, "-" (part of the queue name)'),
    /** @default WORKER_DEFAULT_ID, else the host name */
    workerId: workerIdSchema.optional(),
    /** @default WORKER_SITE_NAME (one of the two is required) */
    site: workerSiteSchema.optional(),
    /** The site's task lane, `…/runlane-<env>-worker-tasks-<site>`. RUNLANE_WORKER_QUEUE_URL overrides it. */
    taskQueueUrl: httpUrl.optional(),
    /** Control-plane API base URL (`/api/workers/*` under it). RUNLANE_API_URL overrides it. */
    apiUrl: httpUrl.optional(),
    /** AWS region of the queue and of the API's SigV4 signature. @default the SDK's (AWS_REGION, profile) */
    region: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as us-east-1')
      .optional(),
    /** How results and heartbeats travel: `POST /api/workers/*` or PutEvents to the bus. Claims always use the API. */
    transport: z.enum(WORKER_TRANSPORTS).default('api'),
    /** A heartbeat this often (a registration at start). */
    heartbeatIntervalMs: z.number().int().min(1_000).max(3_600_000).default(30_000),
    /** SQS long-poll wait of one receive. */
    pollWaitSeconds: z.number().int().min(0).max(20).default(20),
    /**
     * A received message stays invisible this long, renewed every half of it while its task runs and
     * its result is handed over, so a long task is not received again (nor counted toward the DLQ).
     */
    visibilityTimeoutSeconds: z.number().int().min(2).max(43_200).default(60),
    /** Messages taken per receive; they run one after another. */
    receiveBatchSize: z.number().int().min(1).max(10).default(1),
    /** Timeout of one request to the API (claim, result, heartbeat). */
    apiRequestTimeoutMs: z.number().int().min(100).max(60_000).default(5_000),
    /** SIGTERM: the task in hand may finish for this long, then its tree is killed (`worker_shutdown`). */
    shutdownGraceMs: z.number().int().nonnegative().max(MAX_TIMER_MS).default(30_000),
    /** `disk_free_bytes` of collect_facts is this file system's. */
    factsDiskPath: z.string().refine(isAbsolute, 'must be an absolute path').default('/'),
    /** The allowlist, local to the host: a task names a script, never a path. */
    scripts: z
      .record(z.string().regex(SCRIPT_NAME, 'must be 1-64 of A-Z, a-z, 0-9, ".", "_", "-"'), scriptSchema)
      .default({}),
    /** Built-in plugins (agent/worker/plugins.ts) to enable for execute_action. */
    plugins: z.array(z.string()).default([]),
    /** Settings of enabled plugins, by plugin name (e.g. `disk_usage: { path }`). */
    pluginOptions: z.record(z.string(), z.unknown()).default({}),
    /** A plugin run longer than this fails with `timeout`. */
    pluginTimeoutMs: ms.default(30_000),
    /** Result envelopes not acknowledged wait here, relative to the working directory. */
    spoolDirectory: z.string().min(1).default('.runlane-agent/worker-spool'),
    spoolMaxBytes: z
      .number()
      .int()
      .min(64 * 1024)
      .default(50 * 1024 * 1024),
    /** Pause between replay rounds of the spool. */
    replayIntervalMs: z.number().int().min(100).max(3_600_000).default(5_000),
    /**
     * The bus (`transport: bus`): eventBus, region, requestTimeoutMs, maxAttempts. Same schema as the
     * runner config's; its spool fields are not used (the worker's are `spoolDirectory`, … above).
     */
    reporting: runnerConfigSchema.shape.reporting,
  })
  .strict();

export type WorkerConfigFile = z.infer<typeof workerConfigFileSchema>;

/** The resolved config: the file, the environment's defaults and overrides, the enabled plugins. */
export interface WorkerConfig
  extends Omit<WorkerConfigFile, 'workerId' | 'site' | 'taskQueueUrl' | 'apiUrl'> {
  readonly workerId: string;
  readonly site: string;
  readonly taskQueueUrl: string;
  /** Without a trailing slash. */
  readonly apiUrl: string;
  /** Enabled plugins with their parsed options. */
  readonly enabledPlugins: ReadonlyMap<string, { readonly plugin: WorkerPlugin; readonly options: unknown }>;
}

function toIssues(error: z.ZodError, prefix: readonly (string | number)[] = []): ConfigIssue[] {
  return error.issues.map((issue) => {
    const path = [...prefix, ...issue.path.map(String)];
    return { fieldPath: path.length > 0 ? path.join('.') : '(root)', message: issue.message };
  });
}

/**
 * Validates a parsed worker config and resolves it against the environment
 * (`WORKER_DEFAULT_ID`, `WORKER_SITE_NAME`, `RUNLANE_WORKER_QUEUE_URL`, `RUNLANE_API_URL`).
 * Throws one {@link WorkerConfigError} listing every problem.
 *
 * @example
 * parseWorkerConfig({ environment: 'prod', site: 'lab', apiUrl, taskQueueUrl }, 'worker.json', {}).workerId; // the host name
 */
export function parseWorkerConfig(
  raw: unknown,
  source: string,
  env: Readonly<Record<string, string | undefined>>,
  defaultWorkerId: string = hostname(),
): WorkerConfig {
  const parsed = workerConfigFileSchema.safeParse(raw);
  if (!parsed.success) throw new WorkerConfigError(source, toIssues(parsed.error));
  const file = parsed.data;
  const issues: ConfigIssue[] = [];
  const fromEnv = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value === '' ? undefined : value;
  };

  const resolveField = <T>(
    fieldPath: string,
    schema: z.ZodType<T>,
    candidates: readonly (readonly [value: string | undefined, origin: string])[],
    missing: string,
  ): T | undefined => {
    const found = candidates.find(([value]) => value !== undefined);
    if (found === undefined) {
      issues.push({ fieldPath, message: missing });
      return undefined;
    }
    const result = schema.safeParse(found[0]);
    if (result.success) return result.data;
    issues.push({
      fieldPath,
      message: `${result.error.issues[0]?.message ?? 'is invalid'} (${found[1]}: ${JSON.stringify(found[0])})`,
    });
    return undefined;
  };

  const workerId = resolveField(
    'workerId',
    workerIdSchema,
    [
      [file.workerId, 'config'],
      [fromEnv(WORKER_CONFIG_ENV.defaultId), WORKER_CONFIG_ENV.defaultId],
      [defaultWorkerId, 'host name'],
    ],
    'is required',
  );
  const site = resolveField(
    'site',
    workerSiteSchema,
    [
      [file.site, 'config'],
      [fromEnv(WORKER_CONFIG_ENV.siteName), WORKER_CONFIG_ENV.siteName],
    ],
    `is required: set site in the config or ${WORKER_CONFIG_ENV.siteName}`,
  );
  const taskQueueUrl = resolveField(
    'taskQueueUrl',
    httpUrl,
    [
      [fromEnv(WORKER_CONFIG_ENV.queueUrl), WORKER_CONFIG_ENV.queueUrl],
      [file.taskQueueUrl, 'config'],
    ],
    `is required: set taskQueueUrl in the config or ${WORKER_CONFIG_ENV.queueUrl}`,
  );
  const apiUrl = resolveField(
    'apiUrl',
    httpUrl,
    [
      [fromEnv(WORKER_CONFIG_ENV.apiUrl), WORKER_CONFIG_ENV.apiUrl],
      [file.apiUrl, 'config'],
    ],
    `is required: set apiUrl in the config or ${WORKER_CONFIG_ENV.apiUrl}`,
  );
  if (site !== undefined && taskQueueUrl !== undefined) {
    // A worker of one site must never poll another site's lane.
    const expected = workerTaskQueueName(file.environment, site);
    const name = new URL(taskQueueUrl).pathname.split('/').filter(Boolean).at(-1);
    if (name !== expected) {
      issues.push({
        fieldPath: 'taskQueueUrl',
        message: `must be the queue of environment ${file.environment} and site ${site}, named ${expected} (got ${name ?? 'no queue name'})`,
      });
    }
  }

  const enabledPlugins = new Map<string, { plugin: WorkerPlugin; options: unknown }>();
  file.plugins.forEach((name, index) => {
    const plugin = BUILTIN_PLUGINS.get(name);
    if (plugin === undefined) {
      issues.push({
        fieldPath: `plugins.${index}`,
        message: `"${name}" is not a built-in plugin (known: ${[...BUILTIN_PLUGINS.keys()].join(', ')})`,
      });
      return;
    }
    if (enabledPlugins.has(name)) {
      issues.push({ fieldPath: `plugins.${index}`, message: `duplicate plugin "${name}"` });
      return;
    }
    const options = plugin.optionsSchema.safeParse(file.pluginOptions[name]);
    if (!options.success) {
      issues.push(...toIssues(options.error, ['pluginOptions', name]));
      return;
    }
    enabledPlugins.set(name, { plugin, options: options.data });
  });
  for (const name of Object.keys(file.pluginOptions)) {
    if (!file.plugins.includes(name)) {
      issues.push({ fieldPath: `pluginOptions.${name}`, message: `"${name}" is not in plugins` });
    }
  }

  if (issues.length > 0 || workerId === undefined || site === undefined) {
    throw new WorkerConfigError(source, issues);
  }
  return {
    ...file,
    workerId,
    site,
    taskQueueUrl: taskQueueUrl as string,
    apiUrl: (apiUrl as string).replace(/\/+$/, ''),
    enabledPlugins,
  };
}

/** Reads, validates and resolves a worker config file. */
export async function loadWorkerConfig(
  file: string,
  env: Readonly<Record<string, string | undefined>>,
): Promise<WorkerConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new WorkerConfigError(file, [{ fieldPath: '(file)', message: 'cannot be read' }], { cause: error });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new WorkerConfigError(file, [{ fieldPath: '(root)', message: 'is not valid JSON' }], {
      cause: error,
    });
  }
  return parseWorkerConfig(raw, file, env);
}

/** `pattern` anchored: an argument must match it entirely. */
export function argumentPattern(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})$`, 'u');
}
