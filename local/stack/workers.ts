/**
 * Worker delegation (seed 004) in the local stack: which sites get a task lane, the `WORKER_*`
 * settings the API and the lane workers read (built as the Lambda environment variables and read
 * back with the same `readWorkerSettings`), Lambda's asynchronous-invocation retries for the
 * worker ingest, and a ready config for `runlane-agent worker` against the local stack.
 */
import { workerSiteSchema } from '#contracts/worker-contract.js';
import {
  MAX_RESULT_DEADLINE_SECONDS,
  readWorkerSettings,
  WORKER_RUNTIME_ENV,
  type WorkerSettings,
} from '#core/workers/settings.js';
import type { EnvironmentConfig } from '#lib/config/environment-config.js';
import { localCredentials } from '../auth/local-auth.js';
import type { BusEvent } from '../emulators/event-bus.js';
import { InvalidOptionsError } from '../errors.js';
import type { LaneQueues } from './provision.js';

/** The site every local stack has a task lane for when cdk.json names none. */
export const LOCAL_DEFAULT_WORKER_SITES: readonly string[] = ['lab'];

/**
 * Default visibility timeout of a local task lane. A worker sets its own on each receive
 * (`visibilityTimeoutSeconds` of its config); this one applies to any other receiver.
 */
export const LOCAL_WORKER_TASK_VISIBILITY_SECONDS = 30;

/** Worker settings of the local stack; each falls back to the environment's `workers` in cdk.json. */
export interface LocalWorkerOptions {
  /** Sites with a task lane. @default the environment's `workers.sites` (cdk.json), `['lab']` when it has none */
  readonly sites?: readonly string[];
  /** `WORKER_DELEGATION_ENABLED`, the default until someone switches the flag. @default `workers.delegationEnabled` (false) */
  readonly delegationEnabled?: boolean;
  /** `WORKER_HEARTBEAT_STALE_MULTIPLE`. @default `workers.heartbeatStaleMultiple` (3) */
  readonly heartbeatStaleMultiple?: number;
  /** `WORKER_STUCK_TASK_MINUTES` (fractions allowed here, for tests). @default `workers.stuckTaskMinutes` (15) */
  readonly stuckTaskMinutes?: number;
  /** Receives of a task message before it moves to the site's DLQ. @default `workers.maxReceiveCount` (5) */
  readonly maxReceiveCount?: number;
  /**
   * `WORKER_RESULT_DEADLINE_SECONDS`: how long a delegated run waits for its result (fractions
   * allowed here, for tests). @default `workers.resultDeadlineSeconds` (3600)
   */
  readonly resultDeadlineSeconds?: number;
}

export interface ResolvedLocalWorkerOptions {
  readonly sites: readonly string[];
  readonly delegationEnabled: boolean;
  readonly heartbeatStaleMultiple: number;
  readonly stuckTaskMinutes: number;
  readonly maxReceiveCount: number;
  readonly resultDeadlineSeconds: number;
}

/**
 * Options first, then cdk.json (its schema supplies the defaults); every problem reported in one error.
 *
 * @example
 * resolveLocalWorkerOptions(devConfig, { delegationEnabled: true }); // { sites: ['lab'], delegationEnabled: true, ... }
 */
export function resolveLocalWorkerOptions(
  config: EnvironmentConfig,
  options: LocalWorkerOptions = {},
): ResolvedLocalWorkerOptions {
  const configured = config.workers;
  const resolved = {
    // No site in cdk.json (the schema's default) means "not configured" here: the local stack still gets `lab`.
    sites: [
      ...(options.sites ?? (configured.sites.length > 0 ? configured.sites : LOCAL_DEFAULT_WORKER_SITES)),
    ],
    delegationEnabled: options.delegationEnabled ?? configured.delegationEnabled,
    heartbeatStaleMultiple: options.heartbeatStaleMultiple ?? configured.heartbeatStaleMultiple,
    stuckTaskMinutes: options.stuckTaskMinutes ?? configured.stuckTaskMinutes,
    maxReceiveCount: options.maxReceiveCount ?? configured.maxReceiveCount,
    resultDeadlineSeconds: options.resultDeadlineSeconds ?? configured.resultDeadlineSeconds,
  };
  const problems: string[] = [];
  if (resolved.sites.length === 0) problems.push('sites: give at least one site');
  for (const site of resolved.sites) {
    const checked = workerSiteSchema.safeParse(site);
    if (!checked.success)
      problems.push(`sites: "${site}" ${checked.error.issues[0]?.message ?? 'is invalid'}`);
  }
  if (new Set(resolved.sites).size !== resolved.sites.length) problems.push('sites: a site is repeated');
  if (!(resolved.heartbeatStaleMultiple > 0)) problems.push('heartbeatStaleMultiple: must be positive');
  if (!(resolved.stuckTaskMinutes > 0)) problems.push('stuckTaskMinutes: must be positive');
  if (
    !(resolved.resultDeadlineSeconds > 0 && resolved.resultDeadlineSeconds <= MAX_RESULT_DEADLINE_SECONDS)
  ) {
    problems.push(`resultDeadlineSeconds: must be above 0 and at most ${MAX_RESULT_DEADLINE_SECONDS}`);
  }
  if (!Number.isInteger(resolved.maxReceiveCount) || resolved.maxReceiveCount < 1) {
    problems.push('maxReceiveCount: must be a whole number from 1');
  }
  if (problems.length > 0) throw new InvalidOptionsError('local worker', problems);
  return resolved;
}

/**
 * The `WORKER_*` variables a deployed API and lane worker get (`WORKER_RUNTIME_ENV`), for the
 * local sites' queue URLs.
 *
 * @example
 * workerRuntimeEnvironment(resolved, { lab: 'http://127.0.0.1:4566/000000000000/runlane-local-worker-tasks-lab' });
 * // { WORKER_DELEGATION_ENABLED: 'false', WORKER_TASK_QUEUE_URLS: '{"lab":"http://…"}', ... }
 */
export function workerRuntimeEnvironment(
  resolved: ResolvedLocalWorkerOptions,
  queueUrls: Readonly<Record<string, string>>,
): Record<string, string> {
  return {
    [WORKER_RUNTIME_ENV.delegationEnabled]: String(resolved.delegationEnabled),
    [WORKER_RUNTIME_ENV.heartbeatStaleMultiple]: String(resolved.heartbeatStaleMultiple),
    [WORKER_RUNTIME_ENV.taskQueueUrls]: JSON.stringify(queueUrls),
    [WORKER_RUNTIME_ENV.stuckTaskMinutes]: String(resolved.stuckTaskMinutes),
    [WORKER_RUNTIME_ENV.resultDeadlineSeconds]: String(resolved.resultDeadlineSeconds),
  };
}

/** The settings the local API and lane workers run with: the variables above, read as a handler reads them. */
export function localWorkerSettings(runtimeEnvironment: Readonly<Record<string, string>>): WorkerSettings {
  return readWorkerSettings(runtimeEnvironment);
}

export interface LocalWorkerRuntime {
  /** The `WORKER_*` variables the API and lane workers get. */
  readonly runtimeEnvironment: Record<string, string>;
  /** Those variables read back as a handler reads them. */
  readonly settings: WorkerSettings;
}

/**
 * The `WORKER_*` variables a deployed API and lane worker get, for the local sites' task lanes,
 * and the settings read from them the same way.
 *
 * @example
 * const { settings } = localWorkerRuntime(resolved, resources.workerLanes);
 */
export function localWorkerRuntime(
  resolved: ResolvedLocalWorkerOptions,
  lanes: Readonly<Record<string, LaneQueues>>,
): LocalWorkerRuntime {
  const runtimeEnvironment = workerRuntimeEnvironment(
    resolved,
    Object.fromEntries(Object.entries(lanes).map(([site, lane]) => [site, lane.queueUrl])),
  );
  return { runtimeEnvironment, settings: localWorkerSettings(runtimeEnvironment) };
}

/** What the local stack tells about worker delegation (`/_local/info`, the banner, tests). */
export interface LocalWorkersInfo {
  /** The control plane's environment name: task messages, envelopes and heartbeats carry it. */
  readonly environment: string;
  /** Site → its task lane and DLQ. */
  readonly sites: Readonly<Record<string, LaneQueues>>;
  /** `WORKER_DELEGATION_ENABLED`: the flag's value until it is switched (PUT /api/workers/delegation). */
  readonly delegationEnabledDefault: boolean;
  readonly heartbeatStaleMultiple: number;
  readonly stuckTaskMinutes: number;
  /** The `WORKER_*` variables the API and lane workers were given. */
  readonly runtimeEnvironment: Readonly<Record<string, string>>;
  /** Where refused WorkerHeartbeat / WorkerResult bus events go, with their reason. */
  readonly eventsDeadLetterQueueUrl: string;
}

export interface AsyncInvocationOptions {
  /**
   * Waits before each retry of an invocation that threw, as Lambda retries an asynchronous
   * invocation (deployed: 2 retries, minutes apart; locally seconds).
   * @default [1000, 5000]
   */
  readonly retryDelaysMs?: readonly number[];
  /** The on-failure destination: gets the event and the last error once the retries are spent. */
  readonly onFailure: (event: BusEvent, error: unknown) => Promise<void>;
  readonly onRetry?: (event: BusEvent, error: unknown, attempt: number) => void;
}

export interface AsyncInvocation {
  (event: BusEvent): Promise<void>;
  /** Cancels pending retries. */
  stop(): void;
}

/**
 * A rule target invoked the way EventBridge invokes a Lambda function: asynchronously, retried
 * when the handler throws (e.g. the worker ingest's `WorkerResultNotYetAcceptedError` while the
 * task's run is still being saved), then handed to the on-failure destination.
 *
 * @example
 * const deliver = asyncInvocation((event) => ingest(event), { onFailure: (event, error) => dlq.send(...) });
 * await deliver(busEvent);
 */
export function asyncInvocation(
  handler: (event: BusEvent) => Promise<unknown>,
  options: AsyncInvocationOptions,
): AsyncInvocation {
  const delays = options.retryDelaysMs ?? [1_000, 5_000];
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;
  const attempt = async (event: BusEvent, retry: number): Promise<void> => {
    try {
      await handler(event);
    } catch (error) {
      const delay = delays[retry];
      if (delay === undefined) {
        await options.onFailure(event, error);
        return;
      }
      options.onRetry?.(event, error, retry + 1);
      if (stopped) return;
      const timer = setTimeout(() => {
        timers.delete(timer);
        attempt(event, retry + 1).catch(() => undefined);
      }, delay);
      timer.unref();
      timers.add(timer);
    }
  };
  const invoke = ((event: BusEvent) => attempt(event, 0)) as AsyncInvocation;
  invoke.stop = () => {
    stopped = true;
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
  };
  return invoke;
}

/** Endpoints of a running local stack a worker needs. */
export interface LocalWorkerEndpoints {
  readonly apiUrl: string;
  readonly sqsEndpoint: string;
  readonly eventsEndpoint: string;
  readonly region: string;
  readonly workers: Pick<LocalWorkersInfo, 'environment' | 'sites'>;
  /** The stack's auth folder: the worker's credentials come from there. */
  readonly authDir: string;
}

/**
 * A minimal `runlane-agent worker` config for a site of the local stack (extend it with
 * `scripts`, `plugins`, …) and the environment to run it with: the emulator endpoints, the
 * credentials of the site's worker role with session `workerId` (the local gateway proves them as
 * `…:assumed-role/runlane-local-worker-<site>/<workerId>`) and nothing inherited that would point
 * elsewhere.
 *
 * @example
 * const { config, env } = await localWorkerConfig(stack.info, 'lab', { workerId: 'lab-1', plugins: ['echo'] });
 */
export async function localWorkerConfig(
  endpoints: LocalWorkerEndpoints,
  site: string,
  extra: Readonly<{ workerId: string } & Record<string, unknown>>,
): Promise<{ readonly config: Record<string, unknown>; readonly env: Record<string, string> }> {
  const lane = endpoints.workers.sites[site];
  if (lane === undefined) {
    throw new InvalidOptionsError('local worker config', [
      `site "${site}" has no task lane (sites: ${Object.keys(endpoints.workers.sites).join(', ')})`,
    ]);
  }
  const credentials = await localCredentials(endpoints.authDir, {
    kind: 'worker',
    site,
    workerId: extra.workerId,
  });
  return {
    config: {
      environment: endpoints.workers.environment,
      site,
      taskQueueUrl: lane.queueUrl,
      apiUrl: endpoints.apiUrl,
      region: endpoints.region,
      ...extra,
    },
    env: {
      AWS_REGION: endpoints.region,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      AWS_ENDPOINT_URL_SQS: endpoints.sqsEndpoint,
      AWS_ENDPOINT_URL_EVENTBRIDGE: endpoints.eventsEndpoint,
      AWS_EC2_METADATA_DISABLED: 'true',
    },
  };
}
