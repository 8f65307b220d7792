/**
 * What the local stack starts from: the names of its table, queues and bus, and the options
 * `startLocalStack` takes (with their defaults).
 */
import type { EnvironmentConfig } from '#lib/config/environment-config.js';
import type { LocalWorkerOptions } from './workers.js';

export { LOCAL_ENVIRONMENT } from './environment-name.js';
export const LOCAL_TABLE_NAME = 'runlane-local-lifecycle';
export const LOCAL_QUEUE_PREFIX = 'runlane-local-';
export const LOCAL_BUS_NAME = 'runlane-local-telemetry';

export interface LocalStackOptions {
  /** Lane, API and command settings: the `dev` environment of cdk.json. */
  readonly config: EnvironmentConfig;
  readonly apiPort: number;
  readonly dynamoPort: number;
  readonly sqsPort: number;
  readonly eventsPort: number;
  /** Where data persists; undefined keeps everything in memory (`--ephemeral`). */
  readonly dataDir: string | undefined;
  /** Delete the data folder first. */
  readonly reset?: boolean;
  /**
   * Lane queues' visibility timeout. AWS uses 6 × function timeout + window;
   * locally a short one makes retries visible within seconds.
   */
  readonly visibilityTimeoutSeconds: number;
  /** Enqueue `anomaly.sweep` this often; 0 turns the schedule off (on demand still works). */
  readonly sweepIntervalMinutes: number;
  /**
   * Run the supervisor silent-host check (as the deployed schedule does every
   * 5 minutes) this often, for each of dev, staging and prod; 0 turns the
   * schedule off (`checkSilentHostsNow` still works).
   * @default 0
   */
  readonly silentHostsCheckIntervalMinutes?: number;
  /**
   * Run the worker sweep (as the deployed schedule does every 5 minutes: WorkersOnline,
   * WorkersOffline, WorkerTasksStuckExecuting, WorkerOfflineBacklog) this often; 0 turns the
   * schedule off (`sweepWorkersNow` and `POST /_local/worker-sweep` still work).
   * @default 0
   */
  readonly workerSweepIntervalMinutes?: number;
  /**
   * Worker delegation: sites (one task lane each), `WORKER_DELEGATION_ENABLED`, the heartbeat
   * stale multiple and the stuck-task threshold.
   * @default cdk.json's `workers` of the environment, else site `lab`, delegation off, 3, 15 min
   */
  readonly workers?: LocalWorkerOptions;
  readonly pretty?: boolean;
}

/**
 * A throwaway stack: every port chosen by the OS, nothing kept on disk, retries within 2 s, no
 * sweep timer. What the demo's `--start`, the tests and the benchmark start; spread it and add
 * `config` (and anything else to change).
 *
 * @example
 * const stack = await startLocalStack({ ...EPHEMERAL_STACK_OPTIONS, config: devConfig() });
 */
export const EPHEMERAL_STACK_OPTIONS = {
  apiPort: 0,
  dynamoPort: 0,
  sqsPort: 0,
  eventsPort: 0,
  dataDir: undefined,
  visibilityTimeoutSeconds: 2,
  sweepIntervalMinutes: 0,
} as const satisfies Partial<LocalStackOptions>;
