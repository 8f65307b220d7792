import { type Clock, systemClock } from '../base/clock.js';
import type { WorkerLogger } from '../lifecycle/lane-worker.js';
import type { MetricsRecorder } from '../telemetry/ports.js';
import { stuckCandidates, workerViews } from './observability.js';
import type {
  DelegationDeadlines,
  WorkerRegistry,
  WorkerRegistryEntry,
  WorkerRegistryView,
  WorkerTaskRecord,
  WorkerTaskStore,
} from './ports.js';

/**
 * The scheduled worker sweep (seed 004 "Observability", seen from the control plane): what
 * `GET /api/workers/health` and `/metrics` answer on request, turned into CloudWatch metrics on
 * a schedule so alarms can watch them.
 *
 * A worker whose host is down, or cut off from the bus and the API, sends nothing: no
 * report-driven metric sees it. The sweep reads the registry (the newest heartbeat per worker)
 * and the `executing` tasks every {@link WORKER_SWEEP_INTERVAL_MINUTES} minutes and publishes,
 * 0 included, so the alarms always have data while the sweep runs:
 * - `WorkersOnline` / `WorkersOffline`: `last_seen` at most / more than `staleMultiple ×
 *   interval_ms` old (`workerStatus`, the same rule as the API and the delegation);
 *   a worker whose newest report is a `deregistration` (a graceful shutdown) is `stopped` and
 *   counted in neither;
 * - `WorkerTasksStuckExecuting`: tasks `executing` for longer than `stuckTaskMinutes` since
 *   their claim (`stuckCandidates`, the rule of `/api/workers/metrics`);
 * - `WorkerOfflineBacklog`: result envelopes waiting in the workers' offline spools, as each
 *   worker last reported (`offline_backlog.files`, summed over every worker of the registry).
 *
 * With `deadlines`, the sweep also ends the wait of delegated runs whose result did not arrive by
 * their deadline (`delegation.deadlineAt`, kept with the task): each overdue `queued` or
 * `executing` task is closed (`failed`, `worker_result_missing`) and its run turned NeedsReview
 * with a `worker_result_missing` signal, at most {@link WORKER_SWEEP_DEADLINE_LIMIT} per run, oldest
 * first (the rest on the next run). This happens after the metrics are recorded; a failure there
 * is logged and counted, never thrown, so the metrics always go out.
 *
 * Known limits:
 * - A worker leaves the registry only when its entry expires (`retentionDays` after its last
 *   heartbeat). One stopped gracefully (SIGTERM / SIGINT) deregistered and is `stopped` until
 *   then; one whose deregistration never arrived (killed, host lost, control plane unreachable
 *   for the agent's short deregistration timeout) counts as offline until then.
 * - At most {@link WORKER_SWEEP_EXECUTING_LIMIT} executing tasks are read (newest first). Beyond
 *   that the older ones are counted as stuck when the oldest one read is stuck (they were queued
 *   earlier still), and the sweep warns that the count is an estimate.
 */

/** How often the deployed sweep runs (`rate(5 minutes)`): also the period of its alarms. */
export const WORKER_SWEEP_INTERVAL_MINUTES = 5;

/** Executing tasks the sweep reads per run (newest first). */
export const WORKER_SWEEP_EXECUTING_LIMIT = 1000;

/** Overdue delegations the sweep expires per run (oldest deadline first). */
export const WORKER_SWEEP_DEADLINE_LIMIT = 100;

/** Longest stuck-task threshold the sweep takes, in minutes (one day). */
export const MAX_STUCK_TASK_MINUTES = 1440;

/** One task executing for longer than the threshold. */
export interface StuckExecutingTask {
  readonly taskId: string;
  readonly attempt: number;
  readonly site: string;
  readonly claimedBy: string | undefined;
  /** `claimedAt` (or `queuedAt` for a record without one). */
  readonly executingSince: string;
  readonly ageMs: number;
}

export interface WorkerSweepResult {
  /** The instant the ages are measured from, ISO. */
  readonly now: string;
  readonly staleMultiple: number;
  readonly stuckAfterMs: number;
  /** Every worker of the registry with its status, sorted by site then worker id. */
  readonly workers: readonly WorkerRegistryView[];
  /** The offline ones, longest silent first. */
  readonly offline: readonly WorkerRegistryView[];
  /** The stuck tasks read, oldest first. */
  readonly stuck: readonly StuckExecutingTask[];
  /** Executing tasks beyond the read limit (0 unless the read was cut). */
  readonly unread: number;
  readonly counts: {
    readonly workers: number;
    readonly online: number;
    readonly offline: number;
    /** Deregistered on purpose (graceful shutdown): neither online nor offline. */
    readonly stopped: number;
    /** Tasks in `executing` (all of them, read or not). */
    readonly executing: number;
    /** What `WorkerTasksStuckExecuting` publishes: the stuck tasks read, plus the unread ones when the oldest read is stuck. */
    readonly stuckExecuting: number;
    readonly offlineBacklogFiles: number;
    readonly offlineBacklogBytes: number;
  };
  /** What the deadline check did (absent when the sweep has no `deadlines`). */
  readonly deadlines?: DeadlineSweepResult;
}

/** The deadline check of one sweep run. */
export interface DeadlineSweepResult {
  /** Overdue tasks read (at most the limit). */
  readonly overdue: number;
  /** Runs turned NeedsReview with `worker_result_missing` (their tasks closed). */
  readonly expired: readonly { readonly commandId: string; readonly taskId: string }[];
  /** Tasks closed whose run no longer waited on them (finished otherwise, or gone). */
  readonly tasksClosed: number;
  /** Left for a later run: not due yet, the run still being saved, or changed meanwhile. */
  readonly skipped: number;
  /** Tasks whose expiry failed (logged); the next run tries again. */
  readonly failed: number;
}

export interface SweepWorkersInput {
  readonly entries: readonly WorkerRegistryEntry[];
  /** Executing tasks as read (newest first), at most `limit`. */
  readonly executing: readonly WorkerTaskRecord[];
  /** How many tasks are executing in all. */
  readonly executingTotal: number;
  /** The read limit `executing` was read with. @default WORKER_SWEEP_EXECUTING_LIMIT */
  readonly limit?: number;
  readonly now: Date;
  /** Missed heartbeats before a worker is offline. */
  readonly staleMultiple: number;
  /** A task executing for longer than this is stuck, in ms. */
  readonly stuckAfterMs: number;
}

/**
 * Judges the registry and the executing tasks at `now`. Pure: no I/O, no clock of its own.
 *
 * @example
 * const result = sweepWorkers({ entries, executing, executingTotal: executing.length, now, staleMultiple: 3, stuckAfterMs: 900_000 });
 * result.counts.offline; // workers whose last heartbeat is older than 3 × their interval
 */
export function sweepWorkers(input: SweepWorkersInput): WorkerSweepResult {
  const { now, staleMultiple, stuckAfterMs } = input;
  if (Number.isNaN(now.getTime())) throw new RangeError('sweepWorkers: now must be a valid date');
  checkSettings('sweepWorkers', staleMultiple, stuckAfterMs);
  const limit = input.limit ?? WORKER_SWEEP_EXECUTING_LIMIT;

  const workers = workerViews(input.entries, now, staleMultiple);
  const offline = workers
    .filter((view) => view.status === 'offline')
    .sort((a, b) => b.heartbeatAgeMs - a.heartbeatAgeMs);
  const executing = input.executing.filter((task) => task.status === 'executing');
  const stuck = stuckCandidates(executing, now, stuckAfterMs)
    .map((task): StuckExecutingTask => {
      const since = task.claimedAt ?? task.queuedAt;
      return {
        taskId: task.taskId,
        attempt: task.attempt,
        site: task.site,
        claimedBy: task.claimedBy,
        executingSince: since,
        ageMs: now.getTime() - Date.parse(since),
      };
    })
    .sort((a, b) => b.ageMs - a.ageMs);

  // Only a read that hit its limit leaves tasks out; a count that grew after the read is new work.
  const unread =
    input.executing.length >= limit ? Math.max(0, input.executingTotal - input.executing.length) : 0;
  const oldestRead = [...executing].sort((a, b) => a.queuedAt.localeCompare(b.queuedAt))[0];
  const oldestReadIsStuck =
    oldestRead !== undefined && stuck.some((task) => task.taskId === oldestRead.taskId);
  const backlog = workers.reduce(
    (sum, view) => ({
      files: sum.files + view.offlineBacklog.files,
      bytes: sum.bytes + view.offlineBacklog.bytes,
    }),
    { files: 0, bytes: 0 },
  );

  return {
    now: now.toISOString(),
    staleMultiple,
    stuckAfterMs,
    workers,
    offline,
    stuck,
    unread,
    counts: {
      workers: workers.length,
      online: workers.filter((view) => view.status === 'online').length,
      offline: offline.length,
      stopped: workers.filter((view) => view.status === 'stopped').length,
      executing: Math.max(input.executingTotal, executing.length),
      stuckExecuting: stuck.length + (oldestReadIsStuck ? unread : 0),
      offlineBacklogFiles: backlog.files,
      offlineBacklogBytes: backlog.bytes,
    },
  };
}

export interface WorkerSweepOptions {
  /** The environment swept: the registry's and task store's environment, and the metrics' `Environment`. */
  readonly environment: string;
  readonly staleMultiple: number;
  readonly stuckAfterMs: number;
  readonly registry: Pick<WorkerRegistry, 'list'>;
  readonly tasks: Pick<WorkerTaskStore, 'listByStatus' | 'countByStatus'>;
  /** Where the four metrics go; its `Environment` must be `environment`. */
  readonly metrics: MetricsRecorder;
  readonly logger: WorkerLogger;
  /** @default systemClock */
  readonly clock?: Clock;
  /** @default WORKER_SWEEP_EXECUTING_LIMIT */
  readonly executingLimit?: number;
  /** Where overdue delegations are found and expired; without it the sweep only reads. */
  readonly deadlines?: DelegationDeadlines;
  /** @default WORKER_SWEEP_DEADLINE_LIMIT */
  readonly deadlineLimit?: number;
}

/**
 * The scheduled sweep: reads the registry and the executing tasks, records `WorkersOnline`,
 * `WorkersOffline`, `WorkerTasksStuckExecuting` and `WorkerOfflineBacklog` (0 included), and
 * logs one warning per offline worker (`worker_id`, `site`, `host`, `last_seen`) and per stuck
 * task (`task_id`, `site`, `claimed_by`, `executing_since`). A store failure is thrown and
 * nothing is recorded: the run fails and the alarms see a period without data (breaching).
 *
 * @example
 * const sweep = createWorkerSweep({ environment: 'prod', staleMultiple: 3, stuckAfterMs: 900_000, registry, tasks, metrics, logger });
 * const result = await sweep(); // result.counts.offline
 */
export function createWorkerSweep(options: WorkerSweepOptions): () => Promise<WorkerSweepResult> {
  const clock = options.clock ?? systemClock;
  const { environment, staleMultiple, stuckAfterMs, registry, tasks, metrics, logger } = options;
  const limit = options.executingLimit ?? WORKER_SWEEP_EXECUTING_LIMIT;
  // At construction, so a bad setting fails the cold start rather than each run.
  checkSettings('createWorkerSweep', staleMultiple, stuckAfterMs);
  if (!(Number.isInteger(limit) && limit >= 1)) {
    throw new RangeError(`createWorkerSweep: executingLimit must be a positive integer, got ${limit}`);
  }
  return async () => {
    const [entries, executing, executingTotal] = await Promise.all([
      registry.list(),
      tasks.listByStatus('executing', limit),
      tasks.countByStatus('executing'),
    ]);
    const result = sweepWorkers({
      entries,
      executing,
      executingTotal,
      limit,
      now: clock.now(),
      staleMultiple,
      stuckAfterMs,
    });
    metrics.record('workersOnline', result.counts.online, {});
    metrics.record('workersOffline', result.counts.offline, {});
    metrics.record('workerTasksStuckExecuting', result.counts.stuckExecuting, {});
    metrics.record('workerOfflineBacklog', result.counts.offlineBacklogFiles, {});
    for (const worker of result.offline) {
      logger.warn('worker offline', {
        environment,
        worker_id: worker.workerId,
        site: worker.site,
        host: worker.host,
        last_seen: worker.lastSeen,
        heartbeat_age_seconds: Math.floor(worker.heartbeatAgeMs / 1000),
        interval_ms: worker.intervalMs,
        offline_backlog: worker.offlineBacklog.files,
      });
    }
    for (const task of result.stuck) {
      logger.warn('worker task stuck in executing', {
        environment,
        task_id: task.taskId,
        attempt: task.attempt,
        site: task.site,
        claimed_by: task.claimedBy,
        executing_since: task.executingSince,
        age_seconds: Math.floor(task.ageMs / 1000),
      });
    }
    if (result.unread > 0) {
      logger.warn('executing tasks beyond the sweep read limit', {
        environment,
        executing: result.counts.executing,
        read: executing.length,
        unread: result.unread,
        counted_as_stuck: result.counts.stuckExecuting - result.stuck.length,
      });
    }
    const deadlines =
      options.deadlines === undefined
        ? undefined
        : await expireOverdueDelegations(options.deadlines, {
            now: clock.now(),
            limit: options.deadlineLimit ?? WORKER_SWEEP_DEADLINE_LIMIT,
            environment,
            logger,
          });
    logger.info('worker sweep', {
      environment,
      ...result.counts,
      ...(deadlines
        ? {
            delegations_overdue: deadlines.overdue,
            delegations_expired: deadlines.expired.length,
            delegation_tasks_closed: deadlines.tasksClosed,
            delegations_failed: deadlines.failed,
          }
        : {}),
    });
    return deadlines ? { ...result, deadlines } : result;
  };
}

/**
 * The deadline check: each overdue task (oldest deadline first, at most `limit`) expired through
 * `deadlines.expireOverdue`, one after another. One warning per expired run (`command_id`,
 * `task_id`, `site`, `deadline_at`); a failure is logged as an error and counted, and the check
 * goes on with the next task. Never throws.
 *
 * @example
 * const result = await expireOverdueDelegations(tasks, { now: new Date(), limit: 100, environment: 'prod', logger });
 * result.expired; // [{ commandId, taskId }]
 */
export async function expireOverdueDelegations(
  deadlines: DelegationDeadlines,
  input: {
    readonly now: Date;
    readonly limit: number;
    readonly environment: string;
    readonly logger: WorkerLogger;
  },
): Promise<DeadlineSweepResult> {
  const { now, limit, environment, logger } = input;
  let overdue: WorkerTaskRecord[];
  try {
    overdue = await deadlines.listOverdue(now, limit);
  } catch (error) {
    logger.error('overdue delegations could not be read', { environment, error: String(error) });
    return { overdue: 0, expired: [], tasksClosed: 0, skipped: 0, failed: 1 };
  }
  const expired: { commandId: string; taskId: string }[] = [];
  let tasksClosed = 0;
  let skipped = 0;
  let failed = 0;
  for (const task of overdue) {
    const fields = {
      environment,
      task_id: task.taskId,
      command_id: task.message.commandId,
      site: task.site,
      task_status: task.status,
      claimed_by: task.claimedBy,
      deadline_at: task.deadlineAt,
    };
    try {
      const outcome = await deadlines.expireOverdue(task, now);
      switch (outcome.outcome) {
        case 'expired':
          expired.push({ commandId: outcome.commandId, taskId: task.taskId });
          logger.warn('delegated run expired: no worker result by its deadline', fields);
          break;
        case 'task_closed':
          tasksClosed++;
          logger.info('overdue worker task closed; its run no longer waits on it', fields);
          break;
        case 'skipped':
          skipped++;
          break;
      }
    } catch (error) {
      failed++;
      logger.error('delegated run could not be expired', { ...fields, error: String(error) });
    }
  }
  return { overdue: overdue.length, expired, tasksClosed, skipped, failed };
}

function checkSettings(caller: string, staleMultiple: number, stuckAfterMs: number): void {
  if (!(Number.isFinite(staleMultiple) && staleMultiple > 0)) {
    throw new RangeError(`${caller}: staleMultiple must be a positive number, got ${staleMultiple}`);
  }
  if (
    !(Number.isFinite(stuckAfterMs) && stuckAfterMs > 0 && stuckAfterMs <= MAX_STUCK_TASK_MINUTES * 60_000)
  ) {
    throw new RangeError(
      `${caller}: stuckAfterMs must be above 0 and at most ${MAX_STUCK_TASK_MINUTES} minutes, got ${stuckAfterMs}`,
    );
  }
}
