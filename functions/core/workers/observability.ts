import { resultIdempotencyKey, workerStatus } from '#contracts/worker-contract.js';
import { onlineWorkersOf } from './delegation.js';
import type { WorkerRegistryEntry, WorkerRegistryView, WorkerTaskRecord } from './ports.js';

/**
 * The figures behind `GET /api/workers/health` and `GET /api/workers/metrics` (seed 004
 * "Observability"), computed from what the stores and the queue report. Pure: no I/O, no clock.
 */
export type QueueDepth = Readonly<Record<string, { readonly visible: number; readonly inFlight: number }>>;

/** Registry entries with their status at `now`, sorted by site then worker id. */
export function workerViews(
  entries: readonly WorkerRegistryEntry[],
  now: Date,
  staleMultiple: number,
): WorkerRegistryView[] {
  return [...entries]
    .sort((a, b) => a.site.localeCompare(b.site) || a.workerId.localeCompare(b.workerId))
    .map((entry) => ({
      ...entry,
      status: workerStatus(entry, now, staleMultiple),
      heartbeatAgeMs: Math.max(0, now.getTime() - Date.parse(entry.lastSeen)),
    }));
}

/** Messages waiting (visible + in flight) over every site. */
export function totalQueueDepth(depth: QueueDepth): number {
  return Object.values(depth).reduce((sum, site) => sum + site.visible + site.inFlight, 0);
}

/**
 * The health read model: every worker with `online` / `offline` / `stopped` (deregistered on a
 * graceful shutdown, with `stopped_at`) and its `last_seen`, the queue depth per site, and
 * whether delegation is on.
 */
export function workerHealth(input: {
  readonly entries: readonly WorkerRegistryEntry[];
  readonly depth: QueueDepth;
  readonly delegationEnabled: boolean;
  readonly now: Date;
  readonly staleMultiple: number;
}) {
  return {
    workers: workerViews(input.entries, input.now, input.staleMultiple).map((view) => ({
      worker_id: view.workerId,
      site: view.site,
      host: view.host,
      status: view.status,
      last_seen: view.lastSeen,
      heartbeat_age_ms: view.heartbeatAgeMs,
      interval_ms: view.intervalMs,
      registered_at: view.registeredAt,
      version: view.version,
      executing: view.executing,
      offline_backlog: view.offlineBacklog,
      ...(view.status === 'stopped' ? { stopped_at: view.stoppedAt ?? view.lastSeen } : {}),
    })),
    queue: { depth: input.depth, total: totalQueueDepth(input.depth) },
    delegation: { enabled: input.delegationEnabled },
  };
}

/** Mean of `queuedAt → finishedAt` over finished tasks, in ms; null when none finished. */
export function averageTaskLatencyMs(finished: readonly WorkerTaskRecord[]): number | null {
  const latencies = finished.flatMap((task) =>
    task.finishedAt === undefined ? [] : [Date.parse(task.finishedAt) - Date.parse(task.queuedAt)],
  );
  if (latencies.length === 0) return null;
  return Math.round(latencies.reduce((sum, ms) => sum + ms, 0) / latencies.length);
}

export interface StuckTask {
  readonly task_id: string;
  readonly attempt: number;
  readonly site: string;
  readonly claimed_by: string | undefined;
  readonly executing_since: string;
  readonly age_ms: number;
  /**
   * The key of the task's `execution_result` if one was stored without finishing it (seed 004
   * "Check worker_results for matching idempotency key"); null when none arrived — look in the
   * worker's offline spool.
   */
  readonly result_key: string | null;
}

/**
 * Tasks `executing` for longer than `stuckAfterMs` (seed 004 "Tasks stuck in executing"), oldest
 * first, each with the matching result key if the control plane holds one.
 *
 * @example
 * findStuckTasks(executing, new Map([[taskId, ['<id>#1#logs']]]), now, 900_000);
 */
export function findStuckTasks(
  executing: readonly WorkerTaskRecord[],
  resultKeys: ReadonlyMap<string, readonly string[]>,
  now: Date,
  stuckAfterMs: number,
): StuckTask[] {
  return executing
    .filter((task) => task.status === 'executing')
    .map((task) => ({ task, since: task.claimedAt ?? task.queuedAt }))
    .filter(({ since }) => now.getTime() - Date.parse(since) > stuckAfterMs)
    .sort((a, b) => Date.parse(a.since) - Date.parse(b.since))
    .map(({ task, since }) => {
      const matching = resultIdempotencyKey({
        task_id: task.taskId,
        attempt: task.attempt,
        payload_type: 'execution_result',
        id: task.taskId,
      });
      return {
        task_id: task.taskId,
        attempt: task.attempt,
        site: task.site,
        claimed_by: task.claimedBy,
        executing_since: since,
        age_ms: now.getTime() - Date.parse(since),
        result_key: resultKeys.get(task.taskId)?.includes(matching) ? matching : null,
      };
    });
}

/** Executing tasks past the threshold: the ones whose stored result keys the metrics look up. */
export function stuckCandidates(
  executing: readonly WorkerTaskRecord[],
  now: Date,
  stuckAfterMs: number,
): WorkerTaskRecord[] {
  return executing.filter(
    (task) => now.getTime() - Date.parse(task.claimedAt ?? task.queuedAt) > stuckAfterMs,
  );
}

/** The metrics read model: queue depth, failures, average latency, heartbeat freshness and backlog per worker, stuck tasks. */
export function workerMetrics(input: {
  readonly entries: readonly WorkerRegistryEntry[];
  readonly depth: QueueDepth;
  readonly failureCount: number;
  /** Finished tasks the latency is averaged over (the newest ones). */
  readonly finished: readonly WorkerTaskRecord[];
  readonly stuck: readonly StuckTask[];
  readonly now: Date;
  readonly staleMultiple: number;
}) {
  return {
    queue_depth: totalQueueDepth(input.depth),
    queue_depth_by_site: input.depth,
    task_failure_count: input.failureCount,
    average_task_latency_ms: averageTaskLatencyMs(input.finished),
    latency_sample_size: input.finished.filter((task) => task.finishedAt !== undefined).length,
    workers: workerViews(input.entries, input.now, input.staleMultiple).map((view) => ({
      worker_id: view.workerId,
      site: view.site,
      status: view.status,
      heartbeat_freshness_ms: view.heartbeatAgeMs,
      offline_backlog: view.offlineBacklog,
    })),
    stuck_tasks: input.stuck,
  };
}

export type DelegationChange =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly reason: 'no_worker_online' };

/**
 * Seed 004: "Set delegation on control plane only after at least one worker is online".
 * Switching it off is always allowed.
 */
export function delegationChange(input: {
  readonly enable: boolean;
  readonly entries: readonly WorkerRegistryEntry[];
  readonly now: Date;
  readonly staleMultiple: number;
}): DelegationChange {
  if (!input.enable) return { allowed: true };
  return onlineWorkersOf(input.entries, undefined, input.now, input.staleMultiple).length > 0
    ? { allowed: true }
    : { allowed: false, reason: 'no_worker_online' };
}
