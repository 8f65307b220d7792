import type {
  WorkerHeartbeatEvent,
  WorkerHeartbeatKind,
  WorkerResultEnvelope,
  WorkerStatus,
  WorkerTaskMessage,
  WorkerTaskStatus,
} from '#contracts/worker-contract.js';

/**
 * Ports of worker delegation (seed 004) for the control plane. Adapters:
 * `functions/adapters/dynamodb-worker-*.ts`; the core that uses them has no AWS imports.
 */

/** A task record (the seed's `worker_tasks` row). */
export interface WorkerTaskRecord {
  readonly taskId: string;
  readonly attempt: number;
  readonly site: string;
  readonly status: WorkerTaskStatus;
  readonly message: WorkerTaskMessage;
  readonly queuedAt: string;
  /**
   * When the result is due: the delegated run's `delegation.deadlineAt`, fixed when the task is
   * queued. Absent on tasks queued before deadlines existed (never expired by the sweep).
   */
  readonly deadlineAt?: string;
  /** Set by the claim. */
  readonly claimedBy?: string;
  readonly claimedAt?: string;
  /** Set by the reconciled `execution_result`. */
  readonly finishedAt?: string;
  readonly errorCode?: string;
  /** The idempotency key of the result that finished it (seed: "matching idempotency key"). */
  readonly resultKey?: string;
}

export type ClaimOutcome =
  | {
      readonly outcome: 'claimed';
      readonly task: WorkerTaskRecord;
      /**
       * True when the claimer already held this claim (same worker, same attempt, task still
       * `executing`): nothing was written. A worker that kept a result it could not hand over
       * resends it; it never runs the task a second time.
       */
      readonly reclaimed?: boolean;
    }
  | {
      readonly outcome: 'already_claimed';
      readonly claimedBy: string | undefined;
      readonly status: WorkerTaskStatus;
    }
  | { readonly outcome: 'wrong_site'; readonly site: string }
  /** The message names another worker (`workerId`): only that one may claim it. */
  | { readonly outcome: 'wrong_worker'; readonly workerId: string }
  /** The claimer holds a message of another attempt than the record's (a superseded delegation). */
  | { readonly outcome: 'stale_attempt'; readonly attempt: number }
  | { readonly outcome: 'not_found' };

export type RecordResultOutcome =
  /** First time this key was seen: stored (and, for an execution_result, the task finished). */
  | {
      readonly outcome: 'recorded';
      readonly task?: WorkerTaskRecord;
      /**
       * True when this envelope finished the task and was reconciled into the run; false when it was
       * only stored (a non-final payload type, or a result the task's state does not accept).
       */
      readonly reconciled?: boolean;
    }
  /** Same key seen before: nothing changed (the sender may delete its spool file). */
  | { readonly outcome: 'duplicate' }
  | { readonly outcome: 'unknown_task' }
  /**
   * The task's command is still being executed by its lane worker (its run is not saved yet):
   * nothing was stored; send again later.
   */
  | { readonly outcome: 'run_in_progress' };

export interface WorkerTaskStore {
  /**
   * Writes the `queued` record (conditional: a task id is written once), with the result's
   * `deadlineAt` when given. For a task id that exists already (a retried delegation) it writes
   * nothing and returns the stored record.
   */
  createQueued(
    message: WorkerTaskMessage,
    now: Date,
    options?: { readonly deadlineAt?: string },
  ): Promise<WorkerTaskRecord>;
  /**
   * `queued` → `executing` for `workerId`, conditional on `queued` and the site (and `attempt`,
   * when given); a second claimer loses. The worker that holds the claim of an `executing` task
   * at that attempt claims it again (`reclaimed`, nothing written): its message came back.
   */
  claim(input: {
    taskId: string;
    workerId: string;
    site: string;
    now: Date;
    attempt?: number;
  }): Promise<ClaimOutcome>;
  /**
   * Stores a result envelope once per `resultIdempotencyKey`; an `execution_result` moves the
   * task `executing` → `succeeded` | `failed`.
   */
  recordResult(envelope: WorkerResultEnvelope, now: Date): Promise<RecordResultOutcome>;
  get(taskId: string): Promise<WorkerTaskRecord | undefined>;
  /** Tasks in `status` (newest first), e.g. `executing` for the stuck check. */
  listByStatus(status: WorkerTaskStatus, limit?: number): Promise<WorkerTaskRecord[]>;
  /** How many tasks are in `status` (e.g. `failed` for the metrics). */
  countByStatus(status: WorkerTaskStatus): Promise<number>;
  /** The idempotency keys of the results stored for a task (seed: "Check worker_results for matching idempotency key"). */
  listResultKeys(taskId: string): Promise<string[]>;
}

export type ExpireDelegationOutcome =
  /** The run was delegated to the task and due: now NeedsReview (`worker_result_missing`), the task `failed`. */
  | { readonly outcome: 'expired'; readonly commandId: string }
  /** The task's run is gone or no longer waits on it (finished, or never delegated): the task alone was closed. */
  | { readonly outcome: 'task_closed'; readonly commandId: string }
  /** Not due yet (the run's deadline is later), or the task or run changed meanwhile: nothing written. */
  | { readonly outcome: 'skipped'; readonly reason: 'not_due' | 'run_in_progress' | 'changed' };

/**
 * The result deadline of delegated runs (`delegation.deadlineAt`, also kept on the task record).
 * Adapter: `DynamoDbDelegationDeadlines` (the sparse `openRuns` index: the read follows the overdue
 * runs, not the table).
 */
export interface DelegationDeadlines {
  /** The tasks of the delegated runs whose deadline is at or before `now`, oldest deadline first, at most `limit`. */
  listOverdue(now: Date, limit: number): Promise<WorkerTaskRecord[]>;
  /**
   * For an overdue task: the delegated run → NeedsReview with `worker_result_missing`
   * (`expireDelegatedRun`) and the task → `failed` `worker_result_missing`, in one conditional
   * write (only while the run is Running, delegated to this task with its deadline passed, and the
   * task unchanged). A run still Reserved by its lane worker is left for the next sweep; a run that
   * no longer waits on the task lets the task alone be closed once its own `deadlineAt` passed.
   */
  expireOverdue(task: WorkerTaskRecord, now: Date): Promise<ExpireDelegationOutcome>;
}

/** A registry entry: the newest registration / heartbeat / deregistration of a worker. */
export interface WorkerRegistryEntry {
  readonly workerId: string;
  readonly site: string;
  readonly host: string;
  readonly version: string;
  readonly capabilities: WorkerHeartbeatEvent['capabilities'];
  readonly intervalMs: number;
  readonly lastSeen: string;
  readonly registeredAt: string;
  readonly offlineBacklog: WorkerHeartbeatEvent['offline_backlog'];
  readonly executing: number;
  /**
   * The newest report's kind; `deregistration` means the worker stopped on purpose (status
   * `stopped`) until a newer registration or heartbeat. Absent on entries stored before it was kept.
   */
  readonly lastKind?: WorkerHeartbeatKind;
  /** When it deregistered (its `last_seen`), while `lastKind` is `deregistration`. */
  readonly stoppedAt?: string;
}

export interface WorkerRegistryView extends WorkerRegistryEntry {
  readonly status: WorkerStatus;
  readonly heartbeatAgeMs: number;
}

export interface WorkerRegistry {
  /** Keeps the newest per worker (an older, replayed heartbeat never overwrites a newer one). */
  recordHeartbeat(event: WorkerHeartbeatEvent): Promise<void>;
  list(): Promise<WorkerRegistryEntry[]>;
}

/** Sends a task message to its site's lane. */
export interface WorkerTaskQueue {
  send(message: WorkerTaskMessage): Promise<void>;
  /** Messages waiting per site (approximate, as SQS reports it). */
  depth(): Promise<Record<string, { readonly visible: number; readonly inFlight: number }>>;
}

/** The runtime switch behind `WORKER_DELEGATION_ENABLED` (the env var is the deploy-time default). */
export interface DelegationFlagStore {
  get(): Promise<{ readonly enabled: boolean; readonly changedAt?: string; readonly changedBy?: string }>;
  set(input: { enabled: boolean; changedBy: string; now: Date }): Promise<void>;
}
