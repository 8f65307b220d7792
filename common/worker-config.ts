/**
 * The worker config file (`runlane-agent worker --config <file>`, seed 004, host side) and its
 * check, shared by the agent, which runs with it, and `runlane workers config`, which writes one
 * from a deployed stack's outputs and must validate it exactly as the agent does. Which site's
 * task lane to poll, where the control plane's API is, the host's script allowlist and enabled
 * plugins, the offline spool: one zod schema; every error names its field path (`site`,
 * `scripts.rotate-logs.args.pattern`), see `config/worker.example.json`.
 *
 * The agent adds what needs its own code, the plugins (agent/worker/config.ts).
 */
import { hostname } from 'node:os';
import { isAbsolute } from 'node:path';
import * as z from 'zod';
import {
  WORKER_ENV,
  workerIdSchema,
  workerSiteSchema,
  workerTaskQueueName,
} from '#contracts/worker-contract.js';
import { type ConfigIssue, configIssues, formatIssue } from './config-issues.js';
import { awsRegionSchema, eventReportingSchema } from './event-reporting.js';

/** Longest delay a Node.js timer takes (2^31 − 1 ms); longer ones fire at once. */
export const MAX_TIMER_MS = 2_147_483_647;

/**
 * The worker config is invalid; every problem is listed, each named by its field path (`site`,
 * `scripts.restart-app.args.pattern`), in the `field_path="…"` form of the agent's other
 * configuration errors.
 */
export class WorkerConfigError extends Error {
  public constructor(
    public readonly source: string,
    public readonly issues: readonly ConfigIssue[],
    options?: ErrorOptions,
  ) {
    super(
      `invalid worker configuration (${source}):\n${issues.map((i) => `  - ${formatIssue(i)}`).join('\n')}`,
      options,
    );
    this.name = 'WorkerConfigError';
  }
}

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

/** SDK endpoint overrides the worker's requests follow (an emulator's, locally). */
const SDK_ENDPOINT_ENV = [
  'AWS_ENDPOINT_URL',
  'AWS_ENDPOINT_URL_SQS',
  'AWS_ENDPOINT_URL_EVENTBRIDGE',
] as const;

/** Largest `maxOutputBytes`: stdout and stderr both at the cap still fit one EventBridge entry (256 KB). */
export const MAX_OUTPUT_BYTES_LIMIT = 96 * 1024;

/** A script name as the task message may give it (the contract's pattern). */
const SCRIPT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const ms = z.number().int().positive().max(MAX_TIMER_MS);

/** Hosts plain `http:` may name: this host only (a local stack or emulator). */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

/** 127.0.0.1, ::1, localhost or a `*.localhost` name (RFC 6761: always this host; the SQS emulator's queue URLs). */
function isLoopback(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname) || hostname.endsWith('.localhost');
}

/**
 * An `https:` URL, or plain `http:` to this host only (127.0.0.1, ::1, localhost): requests
 * signed with the host's AWS credentials never travel unencrypted across a network.
 */
const httpUrl = z
  .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
  .refine((url) => new URL(url).protocol === 'https:' || isLoopback(new URL(url).hostname), {
    message: 'must be https: (plain http: only to 127.0.0.1, ::1 or localhost)',
  });

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

/**
 * Variables of the agent's own environment a child (a worker's script, a supervised child)
 * inherits by default; nothing else leaks into it. AWS credentials only where a script or child
 * sets `inheritAwsCredentials`.
 */
export const DEFAULT_INHERITED_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'USER', 'LOGNAME'];

/** Names of environment variables a child inherits from the agent (`inheritEnv`). */
export const inheritEnvSchema = z
  .array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'must be an environment variable name'))
  .default(DEFAULT_INHERITED_ENV);

/**
 * The AWS SDK's credential and region variables: inherited only by a child whose config sets
 * `inheritAwsCredentials: true`.
 */
export const AWS_CREDENTIAL_ENV = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_PROFILE',
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'AWS_CONFIG_FILE',
  'AWS_SHARED_CREDENTIALS_FILE',
  'AWS_ROLE_ARN',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN',
] as const;

/** One allowlisted script: a task names it and may pass arguments within `args`; nothing else. */
const scriptSchema = z
  .object({
    /** Absolute path of the executable (run directly, no shell). */
    path: z.string().refine(isAbsolute, 'must be an absolute path'),
    /**
     * SHA-256 of the file's content (64 hex digits, `sha256sum <path>`), required: the worker reads
     * the file once, refuses it when the hash differs (`script_hash_mismatch`) and runs exactly the
     * bytes it hashed.
     */
    sha256: z
      .string({ error: 'is required: the SHA-256 of the script (sha256sum <path>)' })
      .regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex digits (sha256sum <path>)')
      .transform((hex) => hex.toLowerCase()),
    /** The script also gets the worker's AWS credential variables (AWS_ACCESS_KEY_ID, …). @default false */
    inheritAwsCredentials: z.boolean().default(false),
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
    /** Added to the script's environment (which otherwise holds only the `inheritEnv` variables and RUNLANE_*). */
    env: z.record(z.string(), z.string()).default({}),
  })
  .strict();

export type ScriptSpec = z.infer<typeof scriptSchema>;

export const WORKER_TRANSPORTS = ['api', 'bus'] as const;

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
    region: z.optional(awsRegionSchema),
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
    /** Variables of the worker's environment its scripts inherit (AWS credentials only with a script's `inheritAwsCredentials`). */
    inheritEnv: inheritEnvSchema,
    /**
     * A private folder (0700) is made here for each script run, holding the verified copy that is
     * executed; it must allow exec (not a `noexec` mount). @default os.tmpdir()
     */
    scriptStagingDirectory: z.string().refine(isAbsolute, 'must be an absolute path').optional(),
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
    reporting: eventReportingSchema,
  })
  .strict();

export type WorkerConfigFile = z.infer<typeof workerConfigFileSchema>;

/** The file with the four fields the environment may give resolved. */
export interface ResolvedWorkerConfigFile
  extends Omit<WorkerConfigFile, 'workerId' | 'site' | 'taskQueueUrl' | 'apiUrl'> {
  readonly workerId: string;
  readonly site: string;
  readonly taskQueueUrl: string;
  /** Without a trailing slash. */
  readonly apiUrl: string;
}

/** What {@link checkWorkerConfigFile} found: the file, the resolved config when it resolved, every problem. */
export interface WorkerConfigFileCheck {
  readonly file: WorkerConfigFile;
  readonly resolved: ResolvedWorkerConfigFile | undefined;
  readonly issues: readonly ConfigIssue[];
}

/**
 * Validates a parsed worker config file and resolves it against the environment
 * (`WORKER_DEFAULT_ID`, `WORKER_SITE_NAME`, `RUNLANE_WORKER_QUEUE_URL`, `RUNLANE_API_URL`).
 * Throws {@link WorkerConfigError} when the file does not match the schema; returns the problems
 * of the resolved fields, so a caller can add its own before throwing them all at once.
 *
 * @example
 * checkWorkerConfigFile({ environment: 'prod', site: 'lab', apiUrl, taskQueueUrl }, 'worker.json', {}).resolved?.workerId; // the host name
 */
export function checkWorkerConfigFile(
  raw: unknown,
  source: string,
  env: Readonly<Record<string, string | undefined>>,
  defaultWorkerId: string = hostname(),
): WorkerConfigFileCheck {
  const parsed = workerConfigFileSchema.safeParse(raw);
  if (!parsed.success) throw new WorkerConfigError(source, configIssues(parsed.error));
  const file = parsed.data;
  const issues: ConfigIssue[] = [];
  const fromEnv = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value === '' ? undefined : value;
  };
  const resolveField = fieldResolver(issues);

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
  // The SDK sends the signed SQS (and bus) requests there instead: the same rule as for the two URLs.
  for (const name of SDK_ENDPOINT_ENV) {
    const endpoint = fromEnv(name);
    if (endpoint === undefined) continue;
    const checked = httpUrl.safeParse(endpoint);
    if (!checked.success) {
      issues.push({
        fieldPath: name,
        message: `${checked.error.issues[0]?.message ?? 'is invalid'} (got ${JSON.stringify(endpoint)})`,
      });
    }
  }
  if (site !== undefined && taskQueueUrl !== undefined) {
    const problem = queueOfAnotherLane(file.environment, site, taskQueueUrl);
    if (problem !== undefined) issues.push({ fieldPath: 'taskQueueUrl', message: problem });
  }
  const resolved =
    workerId === undefined || site === undefined || taskQueueUrl === undefined || apiUrl === undefined
      ? undefined
      : { ...file, workerId, site, taskQueueUrl, apiUrl: apiUrl.replace(/\/+$/, '') };
  return { file, resolved, issues };
}

/**
 * {@link checkWorkerConfigFile} that throws one {@link WorkerConfigError} listing every problem.
 * What `runlane workers config` checks a generated file with (the plugins it cannot name are
 * checked by the agent only).
 */
export function parseWorkerConfigFile(
  raw: unknown,
  source: string,
  env: Readonly<Record<string, string | undefined>>,
  defaultWorkerId?: string,
): ResolvedWorkerConfigFile {
  const { resolved, issues } = checkWorkerConfigFile(raw, source, env, defaultWorkerId);
  if (issues.length > 0 || resolved === undefined) throw new WorkerConfigError(source, issues);
  return resolved;
}

type Candidates = readonly (readonly [value: string | undefined, origin: string])[];

/** Takes the first candidate that has a value and checks it; records an issue otherwise. */
function fieldResolver(issues: ConfigIssue[]) {
  return <T>(
    fieldPath: string,
    schema: z.ZodType<T>,
    candidates: Candidates,
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
}

/** A worker of one site must never poll another site's lane: the queue must be named for both. */
function queueOfAnotherLane(environment: string, site: string, taskQueueUrl: string): string | undefined {
  const expected = workerTaskQueueName(environment, site);
  const name = new URL(taskQueueUrl).pathname.split('/').filter(Boolean).at(-1);
  if (name === expected) return undefined;
  return `must be the queue of environment ${environment} and site ${site}, named ${expected} (got ${name ?? 'no queue name'})`;
}

/** The `reporting` settings (bus, region, spool) of the runner and the worker. */
