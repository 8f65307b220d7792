import {
  DEFAULT_HEARTBEAT_STALE_MULTIPLE,
  WORKER_ENV,
  workerSiteSchema,
} from '#contracts/worker-contract.js';
import { WorkerSettingsError } from './errors.js';

/**
 * Control-plane settings of worker delegation (seed 004), read from environment variables
 * declared once here, for the CDK constructs (which set them) and the factories (which read
 * them at load). All are optional, so a function deployed before delegation existed starts
 * unchanged: delegation off, no task lanes.
 */
export const WORKER_RUNTIME_ENV = {
  /** `true` | `false`: the deploy-time default of the delegation flag. @default false */
  delegationEnabled: WORKER_ENV.delegationEnabled,
  /** Missed heartbeats before a worker is offline (a positive number). @default DEFAULT_HEARTBEAT_STALE_MULTIPLE */
  heartbeatStaleMultiple: 'WORKER_HEARTBEAT_STALE_MULTIPLE',
  /** JSON object: site → URL of its task lane (`runlane-<env>-worker-tasks-<site>`). @default {} */
  taskQueueUrls: 'WORKER_TASK_QUEUE_URLS',
  /** Minutes a task may stay `executing` before the metrics call it stuck. @default 15 */
  stuckTaskMinutes: 'WORKER_STUCK_TASK_MINUTES',
  /**
   * Seconds a delegated action's run waits for its worker's result; past it the worker sweep turns
   * the run NeedsReview with `worker_result_missing`. @default DEFAULT_RESULT_DEADLINE_SECONDS
   */
  resultDeadlineSeconds: 'WORKER_RESULT_DEADLINE_SECONDS',
} as const;

export interface WorkerSettings {
  readonly delegationEnabledDefault: boolean;
  readonly heartbeatStaleMultiple: number;
  /** Site → task lane URL. */
  readonly taskQueueUrls: Readonly<Record<string, string>>;
  readonly stuckTaskAfterMs: number;
  /** How long a delegated run waits for its worker's result, in ms (`delegation.deadlineAt`). */
  readonly resultDeadlineMs: number;
}

export const DEFAULT_STUCK_TASK_MINUTES = 15;
/**
 * One hour: well past a task's default start deadline (`timeoutMs`, 5 minutes) and the stuck
 * threshold (15 minutes), so a result that is merely late is not called missing.
 */
export const DEFAULT_RESULT_DEADLINE_SECONDS = 3600;
/** Longest result deadline, in seconds (7 days: a run and its task are kept 14 days or more). */
export const MAX_RESULT_DEADLINE_SECONDS = 604_800;

/** Settings when no variable is set: delegation off, no lanes. */
export const DEFAULT_WORKER_SETTINGS: WorkerSettings = {
  delegationEnabledDefault: false,
  heartbeatStaleMultiple: DEFAULT_HEARTBEAT_STALE_MULTIPLE,
  taskQueueUrls: {},
  stuckTaskAfterMs: DEFAULT_STUCK_TASK_MINUTES * 60_000,
  resultDeadlineMs: DEFAULT_RESULT_DEADLINE_SECONDS * 1000,
};

/**
 * Reads the worker settings from an environment (pass `process.env` once, at load). Throws a
 * {@link WorkerSettingsError} naming the variable when one is malformed.
 *
 * @example
 * const settings = readWorkerSettings(process.env); // { delegationEnabledDefault: false, ... }
 */
export function readWorkerSettings(env: Readonly<Record<string, string | undefined>>): WorkerSettings {
  return {
    delegationEnabledDefault: readBoolean(env, WORKER_RUNTIME_ENV.delegationEnabled, false),
    heartbeatStaleMultiple: readPositiveNumber(
      env,
      WORKER_RUNTIME_ENV.heartbeatStaleMultiple,
      DEFAULT_HEARTBEAT_STALE_MULTIPLE,
    ),
    taskQueueUrls: readSiteUrls(env, WORKER_RUNTIME_ENV.taskQueueUrls),
    stuckTaskAfterMs:
      readPositiveNumber(env, WORKER_RUNTIME_ENV.stuckTaskMinutes, DEFAULT_STUCK_TASK_MINUTES) * 60_000,
    resultDeadlineMs: readResultDeadlineSeconds(env) * 1000,
  };
}

function readResultDeadlineSeconds(env: Readonly<Record<string, string | undefined>>): number {
  const name = WORKER_RUNTIME_ENV.resultDeadlineSeconds;
  const seconds = readPositiveNumber(env, name, DEFAULT_RESULT_DEADLINE_SECONDS);
  if (seconds > MAX_RESULT_DEADLINE_SECONDS) {
    throw new WorkerSettingsError(
      name,
      `must be at most ${MAX_RESULT_DEADLINE_SECONDS} seconds, got "${seconds}"`,
    );
  }
  return seconds;
}

function present(env: Readonly<Record<string, string | undefined>>, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function readBoolean(env: Readonly<Record<string, string | undefined>>, name: string, fallback: boolean) {
  const value = present(env, name);
  if (value === undefined) return fallback;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new WorkerSettingsError(name, `must be "true" or "false", got "${value}"`);
}

function readPositiveNumber(
  env: Readonly<Record<string, string | undefined>>,
  name: string,
  fallback: number,
): number {
  const value = present(env, name);
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0) {
    throw new WorkerSettingsError(name, `must be a positive number, got "${value}"`);
  }
  return parsed;
}

function readSiteUrls(
  env: Readonly<Record<string, string | undefined>>,
  name: string,
): Record<string, string> {
  const value = present(env, name);
  if (value === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new WorkerSettingsError(name, 'must be a JSON object of site → queue URL');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new WorkerSettingsError(name, 'must be a JSON object of site → queue URL');
  }
  const urls: Record<string, string> = {};
  for (const [site, url] of Object.entries(parsed)) {
    if (!workerSiteSchema.safeParse(site).success) {
      throw new WorkerSettingsError(name, `has a malformed site "${site}"`);
    }
    if (typeof url !== 'string' || url.trim() === '') {
      throw new WorkerSettingsError(name, `value of ${site} must be a queue URL`);
    }
    urls[site] = url;
  }
  return urls;
}
