import * as z from 'zod';
import { resultIdempotencyKey, workerIdSchema, workerSiteSchema } from '#contracts/worker-contract.js';
import type { Clock } from '../base/clock.js';
import { onlineWorkersOf } from '../workers/delegation.js';
import {
  delegationChange,
  findStuckTasks,
  stuckCandidates,
  workerHealth,
  workerMetrics,
} from '../workers/observability.js';
import type {
  DelegationFlagStore,
  WorkerRegistry,
  WorkerTaskQueue,
  WorkerTaskRecord,
  WorkerTaskStore,
} from '../workers/ports.js';
import {
  clockSkewIssue,
  DEFAULT_WORKER_CLOCK_SKEW_SECONDS,
  parseWorkerHeartbeat,
  parseWorkerResultEnvelope,
} from '../workers/validation.js';
import { ApiRequestError } from './api-errors.js';
import type { AuthorizedCaller } from './caller.js';
import { clientError, json, pathParam, type RouteHandler, readJson, validate } from './http.js';

/**
 * `/api/workers/*` (seed 004): the claim and result endpoints workers call, the heartbeat
 * endpoint (the bus is the usual path), the health and metrics read models operators triage
 * with, and the delegation switch. Same error shape as the rest of the API; bad input is always
 * a 4xx naming its field path.
 */
export interface WorkerApiOptions {
  /** The control plane's environment: envelopes and heartbeats of another one are refused. */
  readonly environment: string;
  readonly tasks: WorkerTaskStore;
  readonly registry: WorkerRegistry;
  readonly queue: Pick<WorkerTaskQueue, 'depth'>;
  readonly delegation: DelegationFlagStore;
  /** Missed heartbeats before a worker is offline (`WORKER_HEARTBEAT_STALE_MULTIPLE`). */
  readonly staleMultiple: number;
  /** `executing` longer than this is stuck (`WORKER_STUCK_TASK_MINUTES`). */
  readonly stuckTaskAfterMs: number;
  /**
   * Result envelopes carry captured output, so their limit is their own.
   * @default 262_144
   */
  readonly maxResultBodyBytes?: number;
  /**
   * Newest finished tasks the average latency is taken over.
   * @default 500
   */
  readonly latencySampleSize?: number;
  /**
   * `WORKER_CLOCK_SKEW_SECONDS`: a heartbeat or result `ts` further ahead of its arrival is
   * refused, and a heartbeat this far behind (results may arrive late from the spool).
   * @default DEFAULT_WORKER_CLOCK_SKEW_SECONDS (300)
   */
  readonly clockSkewSeconds?: number;
}

export type WorkerRouteName =
  | 'claimWorkerTask'
  | 'postWorkerResult'
  | 'postWorkerHeartbeat'
  | 'workerHealth'
  | 'workerMetrics'
  | 'getWorkerDelegation'
  | 'putWorkerDelegation';

interface WorkerApiContext {
  readonly clock: Clock;
  /** Limit of the small JSON bodies (claim, heartbeat, delegation). */
  readonly maxBodyBytes: number;
  readonly logger: {
    info(message: string, extra?: Record<string, unknown>): void;
  };
}

const TASK_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DEFAULT_MAX_RESULT_BODY_BYTES = 262_144;
const DEFAULT_LATENCY_SAMPLE_SIZE = 500;
/** Executing tasks examined for the stuck check. */
const EXECUTING_SAMPLE_SIZE = 500;
/** How long a sender should wait before resending a result whose run is still being saved. */
const RUN_IN_PROGRESS_RETRY_AFTER_SECONDS = 5;

const claimBodySchema = z
  .object({ worker_id: workerIdSchema, site: workerSiteSchema, attempt: z.number().int().min(1).max(100) })
  .strict();

/**
 * `changed_by` in the body is only a note for the log: the flag records the operator's proven
 * principal (the IAM caller ARN) as `changed_by`.
 */
const delegationBodySchema = z
  .object({ enabled: z.boolean(), changed_by: z.string().min(1).max(128).optional() })
  .strict();

type WorkerCaller = Extract<AuthorizedCaller, { kind: 'worker' }>;

/** The worker a worker route was authorized for (the router guarantees the kind and the site). */
function workerCaller(caller: AuthorizedCaller): WorkerCaller {
  if (caller.kind !== 'worker') throw new Error(`worker route reached by a ${caller.kind} caller`);
  return caller;
}

/**
 * A body's worker identity must be the caller's: `worker_id` its role session's (403
 * `worker_mismatch`), `site` the path's (403 `wrong_site`). An unproven worker
 * (API_AUTHORIZATION=none) is taken at its body's word for the worker id.
 */
function checkWorkerIdentity(caller: WorkerCaller, body: { worker_id: string; site: string }): void {
  if (caller.workerId !== undefined && body.worker_id !== caller.workerId) {
    throw ApiRequestError.single(
      403,
      'worker_mismatch',
      'body.worker_id',
      `this caller is worker ${caller.workerId}, not ${body.worker_id}`,
    );
  }
  if (body.site !== caller.site) {
    throw ApiRequestError.single(
      403,
      'wrong_site',
      'body.site',
      `this route is for site ${caller.site}, not ${body.site}`,
    );
  }
}

/**
 * The worker routes' handlers, by route name (`API_ROUTES`), for the command API's router.
 *
 * @example
 * const handlers = createWorkerApi(workerOptions, { clock, maxBodyBytes: 32_768, logger });
 * await handlers.workerHealth(request, {});
 */
export function createWorkerApi(
  options: WorkerApiOptions,
  context: WorkerApiContext,
): Record<WorkerRouteName, RouteHandler> {
  const maxResultBodyBytes = options.maxResultBodyBytes ?? DEFAULT_MAX_RESULT_BODY_BYTES;
  const latencySampleSize = options.latencySampleSize ?? DEFAULT_LATENCY_SAMPLE_SIZE;
  const skewMs = (options.clockSkewSeconds ?? DEFAULT_WORKER_CLOCK_SKEW_SECONDS) * 1000;

  /** 400 `clock_skew` at `body.ts` when `ts` is too far from now (ahead; behind too for heartbeats). */
  function checkSkew(ts: string, now: Date, refusePast: boolean): void {
    const issue = clockSkewIssue(ts, now, { skewMs, refusePast, fieldPath: 'body.ts' });
    if (issue) throw new ApiRequestError(400, 'clock_skew', [issue]);
  }

  return {
    async claimWorkerTask(request, params, authorized) {
      const caller = workerCaller(authorized);
      const taskId = pathParam(params, 'taskId', TASK_ID_PATTERN).toLowerCase();
      const body = validate(claimBodySchema, readJson(request, context.maxBodyBytes), 'body');
      checkWorkerIdentity(caller, body);
      // Scoped to the caller's site: the store refuses a task of any other site (wrong_site).
      const claim = await options.tasks.claim({
        taskId,
        workerId: body.worker_id,
        site: caller.site,
        attempt: body.attempt,
        now: context.clock.now(),
      });
      switch (claim.outcome) {
        case 'claimed':
          context.logger.info(claim.reclaimed ? 'worker task reclaimed' : 'worker task claimed', {
            requestId: request.requestId,
            taskId,
            workerId: body.worker_id,
            site: body.site,
            commandId: claim.task.message.commandId,
          });
          // `reclaimed`: this worker already held the claim (its message came back); it resends the
          // result it kept rather than running the task again.
          return json(200, {
            claimed: true,
            ...(claim.reclaimed ? { reclaimed: true } : {}),
            task: renderTask(claim.task),
          });
        case 'already_claimed':
          return clientError(
            ApiRequestError.single(
              409,
              'already_claimed',
              'path.taskId',
              claim.claimedBy
                ? `task ${taskId} is ${claim.status}, claimed by ${claim.claimedBy}`
                : `task ${taskId} is ${claim.status}`,
            ),
            { claimedBy: claim.claimedBy ?? null, status: claim.status },
          );
        case 'wrong_site':
          return clientError(
            ApiRequestError.single(
              403,
              'wrong_site',
              'path.taskId',
              `task ${taskId} is not for site ${caller.site}`,
            ),
          );
        case 'wrong_worker':
          return clientError(
            ApiRequestError.single(
              403,
              'wrong_worker',
              'body.worker_id',
              `task ${taskId} may only be claimed by ${claim.workerId}`,
            ),
          );
        case 'stale_attempt':
          return clientError(
            ApiRequestError.single(
              409,
              'stale_attempt',
              'body.attempt',
              `task ${taskId} is at attempt ${claim.attempt}, not ${body.attempt}`,
            ),
            { attempt: claim.attempt },
          );
        case 'not_found':
          throw ApiRequestError.single(404, 'task_not_found', 'path.taskId', `no task ${taskId}`);
      }
    },

    /**
     * A result of the calling worker at its site. One naming a task is taken only from the
     * worker that holds the task's claim, at the task's site: anyone else's would occupy the
     * result's idempotency key and shut out the claimant's real result. Only a `ts` ahead of
     * arrival is refused: results may come late from the spool after an outage.
     */
    async postWorkerResult(request, _params, authorized) {
      const caller = workerCaller(authorized);
      const parsed = parseWorkerResultEnvelope(
        readJson(request, maxResultBodyBytes),
        'body',
        options.environment,
      );
      if (!parsed.ok) {
        throw new ApiRequestError(
          400,
          parsed.code === 'unknown_payload_type' ? parsed.code : 'invalid_envelope',
          parsed.issues,
        );
      }
      const envelope = parsed.value;
      checkWorkerIdentity(caller, envelope);
      const now = context.clock.now();
      checkSkew(envelope.ts, now, false);
      if (envelope.task_id !== undefined) {
        const task = await options.tasks.get(envelope.task_id);
        if (!task) {
          throw ApiRequestError.single(404, 'unknown_task', 'body.task_id', `no task ${envelope.task_id}`);
        }
        if (task.site !== caller.site) {
          throw ApiRequestError.single(
            403,
            'wrong_site',
            'body.task_id',
            `task ${envelope.task_id} is not for site ${caller.site}`,
          );
        }
        if (task.claimedBy !== envelope.worker_id) {
          throw ApiRequestError.single(
            403,
            'not_claimant',
            'body.task_id',
            task.claimedBy === undefined
              ? `task ${envelope.task_id} is not claimed; claim it before sending its results`
              : `task ${envelope.task_id} is claimed by another worker`,
          );
        }
      }
      const key = resultIdempotencyKey(envelope);
      const recorded = await options.tasks.recordResult(envelope, now);
      switch (recorded.outcome) {
        case 'recorded':
          context.logger.info('worker result recorded', {
            requestId: request.requestId,
            key,
            workerId: envelope.worker_id,
            payloadType: envelope.payload_type,
            reconciled: recorded.reconciled ?? false,
            ...(recorded.task
              ? { commandId: recorded.task.message.commandId, taskStatus: recorded.task.status }
              : {}),
          });
          return json(202, {
            accepted: true,
            duplicate: false,
            key,
            reconciled: recorded.reconciled ?? false,
          });
        case 'duplicate':
          return json(202, { accepted: true, duplicate: true, key });
        case 'unknown_task':
          throw ApiRequestError.single(
            404,
            'unknown_task',
            'body.task_id',
            `no task ${envelope.task_id ?? ''}`,
          );
        case 'run_in_progress':
          // Not the sender's mistake and nothing was stored: the run is still being saved. Send it again.
          return json(
            503,
            {
              error: 'run_in_progress',
              message: 'the task’s command is still being recorded; send the result again',
              key,
              retryAfterSeconds: RUN_IN_PROGRESS_RETRY_AFTER_SECONDS,
            },
            { 'retry-after': String(RUN_IN_PROGRESS_RETRY_AFTER_SECONDS) },
          );
      }
    },

    async postWorkerHeartbeat(request, _params, authorized) {
      const caller = workerCaller(authorized);
      const parsed = parseWorkerHeartbeat(
        readJson(request, context.maxBodyBytes),
        'body',
        options.environment,
      );
      if (!parsed.ok) throw new ApiRequestError(400, 'invalid_heartbeat', parsed.issues);
      checkWorkerIdentity(caller, parsed.value);
      checkSkew(parsed.value.ts, context.clock.now(), true);
      await options.registry.recordHeartbeat(parsed.value);
      return json(202, { accepted: true, worker_id: parsed.value.worker_id });
    },

    async workerHealth() {
      const [entries, depth, flag] = await Promise.all([
        options.registry.list(),
        options.queue.depth(),
        options.delegation.get(),
      ]);
      return json(
        200,
        workerHealth({
          entries,
          depth,
          delegationEnabled: flag.enabled,
          now: context.clock.now(),
          staleMultiple: options.staleMultiple,
        }),
      );
    },

    async workerMetrics() {
      const now = context.clock.now();
      const [entries, depth, failureCount, succeeded, failed, executing] = await Promise.all([
        options.registry.list(),
        options.queue.depth(),
        options.tasks.countByStatus('failed'),
        options.tasks.listByStatus('succeeded', latencySampleSize),
        options.tasks.listByStatus('failed', latencySampleSize),
        options.tasks.listByStatus('executing', EXECUTING_SAMPLE_SIZE),
      ]);
      const finished = [...succeeded, ...failed]
        .sort((a, b) => b.queuedAt.localeCompare(a.queuedAt))
        .slice(0, latencySampleSize);
      const candidates = stuckCandidates(executing, now, options.stuckTaskAfterMs);
      const resultKeys = new Map(
        await Promise.all(
          candidates.map(
            async (task) => [task.taskId, await options.tasks.listResultKeys(task.taskId)] as const,
          ),
        ),
      );
      return json(
        200,
        workerMetrics({
          entries,
          depth,
          failureCount,
          finished,
          stuck: findStuckTasks(candidates, resultKeys, now, options.stuckTaskAfterMs),
          now,
          staleMultiple: options.staleMultiple,
        }),
      );
    },

    async getWorkerDelegation() {
      const [flag, entries] = await Promise.all([options.delegation.get(), options.registry.list()]);
      return json(
        200,
        renderFlag(
          flag,
          onlineWorkersOf(entries, undefined, context.clock.now(), options.staleMultiple).length,
        ),
      );
    },

    async putWorkerDelegation(request, _params, caller) {
      const body = validate(delegationBodySchema, readJson(request, context.maxBodyBytes), 'body');
      const now = context.clock.now();
      const entries = await options.registry.list();
      const change = delegationChange({
        enable: body.enabled,
        entries,
        now,
        staleMultiple: options.staleMultiple,
      });
      if (!change.allowed) {
        return clientError(
          ApiRequestError.single(
            409,
            change.reason,
            'body.enabled',
            'no worker is online: start a worker and wait for its heartbeat before enabling delegation',
          ),
          { enabled: (await options.delegation.get()).enabled },
        );
      }
      // Who switched it is the proven principal; the body's changed_by is only a note in the log.
      const changedBy = caller.kind === 'operator' ? caller.principal : `api:${request.requestId}`;
      await options.delegation.set({ enabled: body.enabled, changedBy, now });
      context.logger.info('worker delegation switched', {
        requestId: request.requestId,
        enabled: body.enabled,
        changedBy,
        ...(body.changed_by !== undefined ? { note: body.changed_by } : {}),
      });
      return json(
        200,
        renderFlag(
          { enabled: body.enabled, changedAt: now.toISOString(), changedBy },
          onlineWorkersOf(entries, undefined, now, options.staleMultiple).length,
        ),
      );
    },
  };
}

/** A task record as the worker API shows it (snake_case like the rest of the worker contract). */
export function renderTask(task: WorkerTaskRecord) {
  return {
    task_id: task.taskId,
    attempt: task.attempt,
    site: task.site,
    status: task.status,
    queued_at: task.queuedAt,
    ...(task.claimedBy !== undefined ? { claimed_by: task.claimedBy } : {}),
    ...(task.deadlineAt !== undefined ? { deadline_at: task.deadlineAt } : {}),
    ...(task.claimedAt !== undefined ? { claimed_at: task.claimedAt } : {}),
    ...(task.finishedAt !== undefined ? { finished_at: task.finishedAt } : {}),
    ...(task.errorCode !== undefined ? { error_code: task.errorCode } : {}),
    ...(task.resultKey !== undefined ? { result_key: task.resultKey } : {}),
    message: task.message,
  };
}

function renderFlag(
  flag: { readonly enabled: boolean; readonly changedAt?: string; readonly changedBy?: string },
  onlineWorkers: number,
) {
  return {
    enabled: flag.enabled,
    /** `flag` once someone switched it; `default` while WORKER_DELEGATION_ENABLED decides. */
    source: flag.changedAt === undefined ? 'default' : 'flag',
    ...(flag.changedAt !== undefined ? { changed_at: flag.changedAt } : {}),
    ...(flag.changedBy !== undefined ? { changed_by: flag.changedBy } : {}),
    online_workers: onlineWorkers,
  };
}
