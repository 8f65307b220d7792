import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import {
  DEFAULT_LANE_SETTINGS,
  DEFAULT_LOG_RETENTION_DAYS,
  type LaneSettings,
} from './config/environment-config.js';

/**
 * Secure defaults, one place per resource kind (STYLE principle 3).
 *
 * Merge order everywhere in `lib/`: these defaults < what the caller passes <
 * what the construct must set itself (names, wiring, environment variables).
 * A construct never lets a caller switch off encryption, TLS-only access or
 * tracing: those are not props.
 */

/** Every queue: SQS-managed SSE and a policy that denies requests without TLS. */
export const QUEUE_DEFAULTS = {
  // SQS-managed SSE rather than KMS: EventBridge (nightly sweep) and the API can
  // send without key-policy grants, and cdk-nag (AwsSolutions-SQS2) accepts it.
  encryption: sqs.QueueEncryption.SQS_MANAGED,
  enforceSSL: true,
} as const satisfies Partial<sqs.QueueProps>;

/** Dead-letter queues keep messages for the SQS maximum, so a replay drill has two weeks. */
export const DEAD_LETTER_QUEUE_RETENTION = Duration.days(14);

/** AWS guidance for SQS event sources: visibility timeout ≥ 6 × function timeout (+ batching window). */
export const VISIBILITY_TIMEOUT_FACTOR = 6;

/** SQS limit on a queue's visibility timeout. */
export const MAX_VISIBILITY_TIMEOUT = Duration.hours(12);

/** Lane defaults are the configuration schema's defaults: one source of truth. */
export const LANE_DEFAULTS: Readonly<LaneSettings> = DEFAULT_LANE_SETTINGS;

/** Every function: Node 24 on Graviton, active X-Ray tracing, JSON logs. */
export const FUNCTION_DEFAULTS = {
  runtime: lambda.Runtime.NODEJS_24_X,
  architecture: lambda.Architecture.ARM_64,
  tracing: lambda.Tracing.ACTIVE,
  loggingFormat: lambda.LoggingFormat.JSON,
  // Stop an accidental queue → function → queue loop instead of letting it run.
  recursiveLoop: lambda.RecursiveLoop.TERMINATE,
} as const satisfies Partial<nodejs.NodejsFunctionProps>;

/**
 * Bundling with the project's own esbuild (never Docker): minified ESM with an
 * external source map and a `require` shim for CommonJS dependencies.
 */
export const BUNDLING_DEFAULTS = {
  format: nodejs.OutputFormat.ESM,
  mainFields: ['module', 'main'],
  minify: true,
  sourceMap: true,
  sourceMapMode: nodejs.SourceMapMode.EXTERNAL,
  // Stack traces only need file and line mappings; sources would double the asset.
  sourcesContent: false,
  target: 'node24',
  // The nodejs24.x runtime provides AWS SDK v3; bundling it would triple each function
  // (585 KB vs 193 KB measured by `npm run bench`) against the 250 KB budget.
  bundleAwsSDK: false,
  forceDockerBundling: false,
  banner:
    "import { createRequire as __runlaneCreateRequire } from 'node:module';const require = __runlaneCreateRequire(import.meta.url);",
} as const satisfies nodejs.BundlingOptions;

/** Environment variables every function gets besides its own. */
export const FUNCTION_BASE_ENVIRONMENT = {
  NODE_OPTIONS: '--enable-source-maps',
} as const;

/** Default timeout and memory of the API function (API Gateway gives up after 30 s). */
export const API_FUNCTION_DEFAULTS = {
  timeout: Duration.seconds(10),
  memorySize: 256,
} as const;

/** Log groups are kept on stack deletion unless the caller says otherwise. */
export const LOG_GROUP_DEFAULTS = {
  retention: DEFAULT_LOG_RETENTION_DAYS as logs.RetentionDays,
  removalPolicy: RemovalPolicy.RETAIN,
} as const;

/**
 * Every table: on-demand billing, point-in-time recovery, and encryption with
 * the AWS managed key (`aws/dynamodb`): key use is visible in CloudTrail, there
 * is no key policy or monthly key charge to maintain, and no grant is needed
 * for the functions.
 */
export const TABLE_DEFAULTS = {
  billing: dynamodb.Billing.onDemand(),
  pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
  encryption: dynamodb.TableEncryptionV2.awsManagedKey(),
} as const satisfies Partial<dynamodb.TablePropsV2>;

/** Event rule targets: retry for a day, then dead-letter (cdk-nag Serverless-EventBusDLQ). */
export const RULE_TARGET_DEFAULTS = {
  retryAttempts: 8,
  maxEventAge: Duration.hours(24),
} as const;

/** Handler entry files, resolved from this file so the CLI, tests and scripts agree. */
export const HANDLER_ENTRIES = {
  laneWorker: fileURLToPath(new URL('../functions/handlers/lane-worker.ts', import.meta.url)),
  api: fileURLToPath(new URL('../functions/handlers/api.ts', import.meta.url)),
  replayDrill: fileURLToPath(new URL('../functions/handlers/replay-drill.ts', import.meta.url)),
  runnerEventIngest: fileURLToPath(new URL('../functions/handlers/runner-event-ingest.ts', import.meta.url)),
  supervisorSilentHosts: fileURLToPath(
    new URL('../functions/handlers/supervisor-silent-hosts.ts', import.meta.url),
  ),
  workerIngest: fileURLToPath(new URL('../functions/handlers/worker-ingest.ts', import.meta.url)),
  workerSweep: fileURLToPath(new URL('../functions/handlers/worker-sweep.ts', import.meta.url)),
} as const;

/**
 * The runner event ingest: one small event per invocation (a conditional put
 * and at most one SQS send), so a short timeout; Lambda's asynchronous retries
 * (2, within 6 hours) before the on-failure destination.
 */
export const RUNNER_EVENT_INGEST_DEFAULTS = {
  timeout: Duration.seconds(10),
  memorySize: 256,
  asyncRetryAttempts: 2,
  asyncMaxEventAge: Duration.hours(6),
} as const;

/**
 * The supervisor silent-host check: one Query of the hosts' partition per run,
 * every 5 minutes. A run that fails is not retried and a schedule event older
 * than 4 minutes is dropped: the next run is due and does the same work.
 */
export const SUPERVISOR_SILENT_HOSTS_DEFAULTS = {
  timeout: Duration.seconds(30),
  memorySize: 256,
  maxEventAge: Duration.minutes(4),
} as const;

/**
 * Worker delegation (seed 004). The ingest takes one event per invocation (a conditional update,
 * or a result stored and reconciled in one transaction), retried like the runner event ingest
 * (2 asynchronous retries within 6 hours; a result whose run is in progress comes back this way).
 * The sweep reads the registry and the executing tasks every 5 minutes; a failed run is not
 * retried and a tick older than 4 minutes is dropped (the next run does the same work).
 * Task lanes keep a message 7 days (a site offline over a long weekend still gets its tasks and
 * answers `task_expired`); their DLQs keep it 14 days, counted from the original enqueue, so at
 * least 7 days in the DLQ.
 */
export const WORKER_DELEGATION_DEFAULTS = {
  ingestTimeout: Duration.seconds(10),
  asyncRetryAttempts: 2,
  asyncMaxEventAge: Duration.hours(6),
  sweepTimeout: Duration.seconds(60),
  memorySize: 256,
  sweepMaxEventAge: Duration.minutes(4),
  taskRetention: Duration.days(7),
} as const;

/** Lock file that pins the bundled dependencies; also marks the project root for esbuild. */
export const DEPS_LOCK_FILE = fileURLToPath(new URL('../package-lock.json', import.meta.url));

const RETENTION_BY_DAYS: ReadonlyMap<number, logs.RetentionDays> = new Map(
  Object.values(logs.RetentionDays)
    .filter((value): value is logs.RetentionDays => typeof value === 'number')
    .map((value) => [value as number, value]),
);

/**
 * The `RetentionDays` member for a number of days, or `undefined` when CloudWatch
 * Logs has no such retention period (the config schema rejects those first).
 *
 * @example
 * retentionDaysFrom(30); // logs.RetentionDays.ONE_MONTH
 */
export function retentionDaysFrom(days: number): logs.RetentionDays | undefined {
  return RETENTION_BY_DAYS.get(days);
}

/** Physical-name prefix of an environment's resources, e.g. `runlane-dev`. */
export function namePrefixFor(environmentName: string): string {
  return `runlane-${environmentName}`;
}
