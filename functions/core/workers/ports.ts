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
  | { readonly outcome: 'claimed'; readonly task: WorkerTaskRecord }
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
   * Writes the `queued` record (conditional: a task id is written once). For a task id that
   * exists already (a retried delegation) it writes nothing and returns the stored record.
   */
  createQueued(message: WorkerTaskMessage, now: Date): Promise<WorkerTaskRecord>;
  /**
   * `queued` → `executing` for `workerId`, conditional on `queued` and the site (and `attempt`,
   * when given); a second claimer loses.
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
