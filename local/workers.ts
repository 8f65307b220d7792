/**
 * Worker delegation (seed 004) in the local stack: which sites get a task lane, the `WORKER_*`
 * settings the API and the lane workers read (built as the Lambda environment variables and read
 * back with the same `readWorkerSettings`), the ingest of `WorkerHeartbeat` / `WorkerResult` bus
 * events, and a ready config for `runlane-agent worker` against the local stack.
 */
import { AGENT_EVENT_SOURCE } from '../functions/core/agent-events.js';
import type { EventPattern } from '../functions/core/event-pattern.js';
import type { Clock, RunnerEventDeadLetterSink } from '../functions/core/ports.js';
import {
  DEFAULT_HEARTBEAT_STALE_MULTIPLE,
  WORKER_DETAIL_TYPES,
  workerSiteSchema,
} from '../functions/core/worker-contract.js';
import { ingestWorkerEvent, type WorkerIngestOutcome } from '../functions/core/worker-ingest.js';
import type { WorkerRegistry, WorkerTaskStore } from '../functions/core/worker-ports.js';
import {
  DEFAULT_STUCK_TASK_MINUTES,
  readWorkerSettings,
  WORKER_RUNTIME_ENV,
  type WorkerSettings,
} from '../functions/core/worker-settings.js';
import type { EnvironmentConfig } from '../lib/config/environment-config.js';
import { LOCAL_CREDENTIALS } from './clients.js';
import { InvalidOptionsError } from './errors.js';
import type { BusEvent } from './event-bus.js';
import type { LaneQueues } from './provision.js';

/** The site every local stack has a task lane for when cdk.json names none. */
export const LOCAL_DEFAULT_WORKER_SITES: readonly string[] = ['lab'];

/**
 * Default visibility timeout of a local task lane. A worker sets its own on each receive
 * (`visibilityTimeoutSeconds` of its config); this one applies to any other receiver.
 */
export const LOCAL_WORKER_TASK_VISIBILITY_SECONDS = 30;

/** Worker settings of the local stack; each falls back to cdk.json's `workers`, then the contract's default. */
export interface LocalWorkerOptions {
  /** Sites with a task lane. @default the environment's `workers.sites`, else `['lab']` */
  readonly sites?: readonly string[];
  /** `WORKER_DELEGATION_ENABLED`, the default until someone switches the flag. @default `workers.delegationEnabled`, else false */
  readonly delegationEnabled?: boolean;
  /** `WORKER_HEARTBEAT_STALE_MULTIPLE`. @default `workers.heartbeatStaleMultiple`, else 3 */
  readonly heartbeatStaleMultiple?: number;
  /** `WORKER_STUCK_TASK_MINUTES` (fractions allowed, for tests). @default `workers.stuckTaskMinutes`, else 15 */
  readonly stuckTaskMinutes?: number;
  /** Receives of a task message before it moves to the site's DLQ. @default `workers.maxReceiveCount`, else the lanes' */
  readonly maxReceiveCount?: number;
}

export interface ResolvedLocalWorkerOptions {
  readonly sites: readonly string[];
  readonly delegationEnabled: boolean;
  readonly heartbeatStaleMultiple: number;
  readonly stuckTaskMinutes: number;
  readonly maxReceiveCount: number;
}

/** The `workers` block of an environment in cdk.json, as far as the local stack uses it. */
interface ConfiguredWorkers {
  readonly sites?: readonly string[];
  readonly delegationEnabled?: boolean;
  readonly heartbeatStaleMultiple?: number;
  readonly stuckTaskMinutes?: number;
  readonly maxReceiveCount?: number;
}

/**
 * The environment's `workers` settings from the validated config (`parseRunlaneConfig`). Read
 * field by field so a config without the block (or with fields this stack does not use) works;
 * an empty `sites` counts as not configured.
 */
export function configuredWorkers(config: EnvironmentConfig): ConfiguredWorkers {
  const block = (config as { readonly workers?: unknown }).workers;
  if (typeof block !== 'object' || block === null) return {};
  const { sites, delegationEnabled, heartbeatStaleMultiple, stuckTaskMinutes, maxReceiveCount } =
    block as Record<string, unknown>;
  return {
    // No site (the schema's default) means "not configured" here: the local stack still gets `lab`.
    ...(Array.isArray(sites) && sites.length > 0 && sites.every((site) => typeof site === 'string')
      ? { sites }
      : {}),
    ...(typeof delegationEnabled === 'boolean' ? { delegationEnabled } : {}),
    ...(typeof heartbeatStaleMultiple === 'number' ? { heartbeatStaleMultiple } : {}),
    ...(typeof stuckTaskMinutes === 'number' ? { stuckTaskMinutes } : {}),
    ...(typeof maxReceiveCount === 'number' ? { maxReceiveCount } : {}),
  };
}

/**
 * Options first, then cdk.json, then the defaults; every problem reported in one error.
 *
 * @example
 * resolveLocalWorkerOptions(devConfig, { delegationEnabled: true }); // { sites: ['lab'], delegationEnabled: true, ... }
 */
export function resolveLocalWorkerOptions(
  config: EnvironmentConfig,
  options: LocalWorkerOptions = {},
): ResolvedLocalWorkerOptions {
  const configured = configuredWorkers(config);
  const resolved = {
    sites: [...(options.sites ?? configured.sites ?? LOCAL_DEFAULT_WORKER_SITES)],
    delegationEnabled: options.delegationEnabled ?? configured.delegationEnabled ?? false,
    heartbeatStaleMultiple:
      options.heartbeatStaleMultiple ?? configured.heartbeatStaleMultiple ?? DEFAULT_HEARTBEAT_STALE_MULTIPLE,
    stuckTaskMinutes: options.stuckTaskMinutes ?? configured.stuckTaskMinutes ?? DEFAULT_STUCK_TASK_MINUTES,
    maxReceiveCount: options.maxReceiveCount ?? configured.maxReceiveCount ?? config.lanes.maxReceiveCount,
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
  };
}

/** The settings the local API and lane workers run with: the variables above, read as a handler reads them. */
export function localWorkerSettings(runtimeEnvironment: Readonly<Record<string, string>>): WorkerSettings {
  return readWorkerSettings(runtimeEnvironment);
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

/**
 * A worker's bus events (source `runlane.agent`): routed to the worker ingest. Used when
 * `EVENT_RULES` has no rule of its own for them.
 */
export const LOCAL_WORKER_EVENTS_PATTERN: EventPattern = {
  source: [AGENT_EVENT_SOURCE],
  'detail-type': [WORKER_DETAIL_TYPES.heartbeat, WORKER_DETAIL_TYPES.result],
};

export interface LocalWorkerEventIngestOptions {
  readonly environment: string;
  readonly tasks: Pick<WorkerTaskStore, 'recordResult'>;
  readonly registry: Pick<WorkerRegistry, 'recordHeartbeat'>;
  readonly deadLetters: RunnerEventDeadLetterSink;
  readonly clock: Clock;
  readonly logger: {
    info(message: string, extra?: Record<string, unknown>): void;
    warn(message: string, extra?: Record<string, unknown>): void;
  };
  /**
   * Waits before each redelivery of a result whose run is still being saved (`run_in_progress`),
   * standing in for EventBridge's retries of an asynchronous invocation; after the last one the
   * event is dead-lettered.
   * @default [500, 1000, 2000, 4000, 8000]
   */
  readonly retryDelaysMs?: readonly number[];
}

export interface LocalWorkerEventIngest {
  (event: BusEvent): Promise<WorkerIngestOutcome>;
  /** Cancels pending redeliveries. */
  stop(): void;
}

/**
 * The bus target for worker events: `ingestWorkerEvent` (the same core the `/api/workers/*`
 * routes use), refused events to the DLQ with their reason, `run_in_progress` redelivered later.
 *
 * @example
 * const ingest = createLocalWorkerEventIngest({ environment: 'local', tasks, registry, deadLetters, clock, logger });
 * await ingest(busEvent);
 */
export function createLocalWorkerEventIngest(options: LocalWorkerEventIngestOptions): LocalWorkerEventIngest {
  const delays = options.retryDelaysMs ?? [500, 1_000, 2_000, 4_000, 8_000];
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;

  const deliver = async (event: BusEvent, attempt: number): Promise<WorkerIngestOutcome> => {
    const outcome = await ingestWorkerEvent(
      { detailType: event['detail-type'], detail: event.detail },
      {
        environment: options.environment,
        tasks: options.tasks,
        registry: options.registry,
        clock: options.clock,
      },
    );
    const eventId = (event.detail as { id?: unknown } | null)?.id;
    const ids = {
      busEventId: event.id,
      detailType: event['detail-type'],
      ...(typeof eventId === 'string' ? { eventId } : {}),
    };
    switch (outcome.outcome) {
      case 'heartbeat_recorded':
        return outcome;
      case 'result_recorded':
        options.logger.info('worker result ingested', { ...ids, ...outcome });
        return outcome;
      case 'rejected':
        options.logger.warn('worker event refused', {
          ...ids,
          reason: outcome.reason,
          rationale: outcome.rationale,
        });
        await options.deadLetters.send({
          body: JSON.stringify(event),
          reason: outcome.reason,
          rationale: outcome.rationale,
          ...ids,
        });
        return outcome;
      case 'retry': {
        const delay = delays[attempt];
        if (delay === undefined) {
          options.logger.warn('worker result dead-lettered after retries', {
            ...ids,
            reason: outcome.reason,
          });
          await options.deadLetters.send({
            body: JSON.stringify(event),
            reason: outcome.reason,
            rationale: `the task's command was still being recorded after ${attempt + 1} deliveries`,
            ...ids,
          });
          return outcome;
        }
        if (!stopped) {
          const timer = setTimeout(() => {
            timers.delete(timer);
            deliver(event, attempt + 1).catch((error: unknown) =>
              options.logger.warn('worker event redelivery failed', { ...ids, error: String(error) }),
            );
          }, delay);
          timer.unref();
          timers.add(timer);
        }
        return outcome;
      }
    }
  };

  const ingest = ((event: BusEvent) => deliver(event, 0)) as LocalWorkerEventIngest;
  ingest.stop = () => {
    stopped = true;
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
  };
  return ingest;
}

/** Endpoints of a running local stack a worker needs. */
export interface LocalWorkerEndpoints {
  readonly apiUrl: string;
  readonly sqsEndpoint: string;
  readonly eventsEndpoint: string;
  readonly region: string;
  readonly workers: Pick<LocalWorkersInfo, 'environment' | 'sites'>;
}

/**
 * A minimal `runlane-agent worker` config for a site of the local stack (extend it with
 * `scripts`, `plugins`, …) and the environment to run it with: the emulator endpoints, fake
 * credentials (IAM is not emulated) and nothing inherited that would point elsewhere.
 *
 * @example
 * const { config, env } = localWorkerConfig(stack.info, 'lab', { workerId: 'lab-1', plugins: ['echo'] });
 */
export function localWorkerConfig(
  endpoints: LocalWorkerEndpoints,
  site: string,
  extra: Readonly<Record<string, unknown>> = {},
): { readonly config: Record<string, unknown>; readonly env: Record<string, string> } {
  const lane = endpoints.workers.sites[site];
  if (lane === undefined) {
    throw new InvalidOptionsError('local worker config', [
      `site "${site}" has no task lane (sites: ${Object.keys(endpoints.workers.sites).join(', ')})`,
    ]);
  }
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
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_SQS: endpoints.sqsEndpoint,
      AWS_ENDPOINT_URL_EVENTBRIDGE: endpoints.eventsEndpoint,
      AWS_EC2_METADATA_DISABLED: 'true',
    },
  };
}
