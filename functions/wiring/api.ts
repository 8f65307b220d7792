import { DynamoDbApprovalStore } from '#adapters/dynamodb/approval-store.js';
import { DynamoDbClientKeyStore } from '#adapters/dynamodb/client-key-store.js';
import { DynamoDbLifecycleStore, InvalidCursorError } from '#adapters/dynamodb/lifecycle-store.js';
import { SqsCommandQueue } from '#adapters/sqs/command-queue.js';
import { RUNTIME_ENV } from '#contracts/runtime-env.js';
import type { ApiAuthorization } from '#core/api/caller.js';
import type { ApiLogger } from '#core/api/command-api.js';
import { createCommandApi } from '#core/api/command-api.js';
import { type Clock, systemClock } from '#core/base/clock.js';
import { type MetricsRecorder, noopMetricsRecorder } from '#core/telemetry/ports.js';
import type { WorkerSettings } from '#core/workers/settings.js';
import { DEFAULT_WORKER_CLOCK_SKEW_SECONDS } from '#core/workers/validation.js';
import type { AwsClients } from './clients.js';
import { buildWorkerAdapters } from './worker-api.js';

export interface ApiSettings {
  readonly tableName: string;
  /** Lane name → queue URL. */
  readonly queueUrls: Readonly<Record<string, string>>;
  readonly maxBodyBytes: number;
  /**
   * The environment's name (`RUNLANE_ENVIRONMENT`): worker envelopes and heartbeats must name it.
   * @default 'local'
   */
  readonly environment?: string;
  /**
   * Worker delegation settings (`WORKER_*`, worker-settings.ts).
   * @default readWorkerSettings(process.env)
   */
  readonly workers?: WorkerSettings;
  /**
   * `API_AUTHORIZATION` (caller.ts): `none` lets anonymous callers through on operator and worker routes.
   * @default 'iam'
   */
  readonly authorization?: ApiAuthorization;
  /**
   * `WORKER_CLOCK_SKEW_SECONDS`: how far a worker's `ts` may be from its arrival.
   * @default DEFAULT_WORKER_CLOCK_SKEW_SECONDS (300)
   */
  readonly workerClockSkewSeconds?: number;
}

/** The API's authorization settings as the handler reads them from its environment. */
export interface ApiAuthSettings {
  readonly authorization: ApiAuthorization;
  /** `JWT_HOUSEHOLD_CLAIM`, when set (else the adapter's default, `custom:household`). */
  readonly householdClaim?: string;
  /** `JWT_ROLE_CLAIM`, when set (else the adapter's default, `custom:runlane_role`). */
  readonly roleClaim?: string;
  readonly workerClockSkewSeconds: number;
}

/**
 * `API_AUTHORIZATION` (`iam` | `none`, default `iam`), `JWT_HOUSEHOLD_CLAIM`, `JWT_ROLE_CLAIM` and
 * `WORKER_CLOCK_SKEW_SECONDS` (a positive number of seconds, default 300); throws naming the
 * variable when one is malformed, so a bad deploy fails at cold start, not per request.
 *
 * @example
 * readApiAuthSettings({ API_AUTHORIZATION: 'none' }); // { authorization: 'none', workerClockSkewSeconds: 300 }
 */
export function readApiAuthSettings(env: NodeJS.ProcessEnv = process.env): ApiAuthSettings {
  const text = (name: string) => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  const authorization = text(RUNTIME_ENV.apiAuthorization) ?? 'iam';
  if (authorization !== 'iam' && authorization !== 'none') {
    throw new Error(
      `environment variable ${RUNTIME_ENV.apiAuthorization} must be iam or none, got "${authorization}"`,
    );
  }
  const skewText = text(RUNTIME_ENV.workerClockSkewSeconds);
  const workerClockSkewSeconds =
    skewText === undefined ? DEFAULT_WORKER_CLOCK_SKEW_SECONDS : Number(skewText);
  if (!Number.isFinite(workerClockSkewSeconds) || workerClockSkewSeconds <= 0) {
    throw new Error(
      `environment variable ${RUNTIME_ENV.workerClockSkewSeconds} must be a positive number of seconds, got "${skewText}"`,
    );
  }
  const householdClaim = text(RUNTIME_ENV.jwtHouseholdClaim);
  const roleClaim = text(RUNTIME_ENV.jwtRoleClaim);
  return {
    authorization,
    ...(householdClaim ? { householdClaim } : {}),
    ...(roleClaim ? { roleClaim } : {}),
    workerClockSkewSeconds,
  };
}

/** What DynamoDB (or the SDK's marshalling) says of a value it cannot hold as sent. */
const UNSTORABLE =
  /item size has exceeded|nesting levels have exceeded|empty (string|attribute|key)|number overflow|number underflow|special numeric value|than Number\.(MAX|MIN)_SAFE_INTEGER|can't be converted to BigInt/i;

/**
 * A write refused for the size or the values of what a request carried: DynamoDB's
 * ValidationException (also as a cancelled transaction's ValidationError) or the SDK's marshalling
 * error, with a message naming such a limit. Any other error (a wrong expression is a bug) is not.
 *
 * @example
 * isUnstorableInputError(Object.assign(new Error('Item size has exceeded the maximum allowed size'), { name: 'ValidationException' })); // true
 */
export function isUnstorableInputError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'TransactionCanceledException') {
    const reasons = (error as { CancellationReasons?: { Code?: string; Message?: string }[] })
      .CancellationReasons;
    return (reasons ?? []).some(
      (reason) => reason.Code === 'ValidationError' && UNSTORABLE.test(reason.Message ?? ''),
    );
  }
  return (error.name === 'ValidationException' || error.name === 'Error') && UNSTORABLE.test(error.message);
}

/**
 * Wires the command API to AWS (or the emulators); shared by the Lambda, the local stack and the tests.
 * `metrics` receives `CommandsAccepted`; the Lambda handler passes a `PowertoolsMetricsRecorder`.
 */
export function buildCommandApi(
  settings: ApiSettings,
  clients: Pick<AwsClients, 'documents' | 'sqs'>,
  logger: ApiLogger,
  clock: Clock = systemClock,
  metrics: MetricsRecorder = noopMetricsRecorder,
) {
  const table = { client: clients.documents, tableName: settings.tableName };
  const workers = buildWorkerAdapters(
    {
      environment: settings.environment ?? 'local',
      tableName: settings.tableName,
      ...(settings.workers ? { settings: settings.workers } : {}),
    },
    clients,
  );
  return createCommandApi({
    queue: new SqsCommandQueue({ client: clients.sqs, queueUrls: settings.queueUrls }),
    clientKeys: new DynamoDbClientKeyStore(table),
    runs: new DynamoDbLifecycleStore(table),
    approvals: new DynamoDbApprovalStore(table),
    ...(settings.authorization ? { authorization: settings.authorization } : {}),
    clock,
    logger,
    maxBodyBytes: settings.maxBodyBytes,
    isInvalidCursorError: (error) => error instanceof InvalidCursorError,
    isUnstorableInputError,
    metrics,
    workers: {
      ...workers.api,
      ...(settings.workerClockSkewSeconds !== undefined
        ? { clockSkewSeconds: settings.workerClockSkewSeconds }
        : {}),
    },
  });
}
