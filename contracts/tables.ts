/**
 * Physical layout of the lifecycle table, declared once for the CDK construct,
 * the local provisioning and the DynamoDB adapter.
 *
 * One item per command holds the idempotency key, the run, its stages and its
 * signals, so a successful command costs one item written twice (DESIGN §3
 * "Cost shape"). Other entities (conversation messages, approval requests,
 * action history, client idempotency keys) share the table under their own
 * partition prefixes.
 *
 * Worker delegation (seed 004) adds no index: task records (`WTASK#<taskId>`),
 * results (`WRESULT#<key>` in the task's partition), registry entries
 * (`WORKERS#<env>#<shard>`), the delegation flag (`WCONFIG#<env>`) and, in place of a
 * status index, one small item per task in a per-status partition
 * (`WTASKS#<env>#<status>#<shard>`), moved in the same transaction as the status. See
 * `functions/adapters/dynamodb/worker-task-store.ts`.
 *
 * Nothing that grows with the fleet or the task count sits in one partition: the registry, the
 * task status entries and the supervisor partitions are spread over {@link FLEET_SHARDS} shards
 * (see {@link partitionOf} and {@link partitionsOf}).
 */
export const LIFECYCLE_TABLE = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** TTL attribute, epoch seconds. Expired idempotency keys and their runs are removed by DynamoDB. */
  timeToLiveAttribute: 'expiresAt',
  indexes: {
    /**
     * Sparse: only runs whose correlation id does not already name their own
     * commandId carry `correlationKey`, so the happy path writes no index entry.
     */
    byCorrelation: { name: 'byCorrelation', partitionKey: 'correlationKey', sortKey: 'issuedAt' },
    /** Sparse: only NeedsReview runs carry `reviewQueue`; sorted oldest first by `needsReviewSince`. */
    reviewQueue: { name: 'reviewQueue', partitionKey: 'reviewQueue', sortKey: 'needsReviewSince' },
    /**
     * Sparse: the open runs that need watching, read by the anomaly sweep instead of a table scan.
     * A run carries `openShard` (`OPEN#<n>`, see {@link openRunsShard}) and `openDueAt` (see
     * {@link openRunsDueKey}) only while it is
     * - `R`: key Reserved after a retry or takeover (`attempts > 1`): an attempt died or failed;
     *   due when its lock lapses (or, without a lock, when it was last written);
     * - `D`: Running with key Completed and a `delegation`: waiting on a worker host; due at
     *   `delegation.deadlineAt`.
     * A first attempt (reserve, then completion) never carries them, so the happy path writes
     * no index entry (DESIGN §3 "Cost shape"); a first attempt that dies comes back with its
     * message, and the takeover indexes it. Partitions are spread over
     * {@link OPEN_RUNS_SHARDS} shards so no partition grows with the fleet.
     */
    openRuns: { name: 'openRuns', partitionKey: 'openShard', sortKey: 'openDueAt' },
  },
} as const;

/**
 * Shards of the `openRuns` index. Readers query every shard; a run stays in its shard for life
 * (a hash of its runId), so raising this later needs readers that also read the old shards.
 */
export const OPEN_RUNS_SHARDS = 8;

/** Why an open run is in the `openRuns` index: `R` retried and still Reserved, `D` delegated. */
export const OPEN_RUN_KINDS = { reserved: 'R', delegated: 'D' } as const;
export type OpenRunKind = (typeof OPEN_RUN_KINDS)[keyof typeof OPEN_RUN_KINDS];

/** Digits of an epoch-ms due time in `openDueAt`: fixed width, so string order is time order. */
const DUE_DIGITS = 15;

/**
 * The `openRuns` partition of shard `shard`.
 *
 * @example
 * openRunsPartition(3); // 'OPEN#3'
 */
export function openRunsPartition(shard: number): string {
  return `OPEN#${shard}`;
}

/**
 * A stable shard for `key` among `shards`: 32-bit FNV-1a of its UTF-16 code units, modulo `shards`.
 * The same on every process and release, so a writer and its readers always agree.
 *
 * @example
 * shardOf('run-1', 8); // an integer 0..7, always the same one
 */
export function shardOf(key: string, shards: number): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < key.length; index++) {
    hash ^= key.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % shards;
}

/**
 * Shards of each partition that grows with the fleet or the task count: the worker registry
 * (`WORKERS#<env>#<n>`), the worker-task status entries (`WTASKS#<env>#<status>#<n>`), the latest
 * supervisor health (`SUPERVISOR#<env>#<n>`) and a day of supervisor child events
 * (`SUPERVISOR#<env>#<day>#<n>`). An item's shard is {@link shardOf} its natural id (worker id,
 * task id, host, event id), so it stays in one shard for life and a writer and its readers agree.
 * Readers query every shard and the unsharded partition (items written before the sharding), see
 * {@link partitionsOf}; raising this later needs readers that also read the old shards.
 */
export const FLEET_SHARDS = 8;

/**
 * Shard `shard` of a partition that is spread over {@link FLEET_SHARDS} shards.
 *
 * @example
 * shardedPartition('WORKERS#prod', 3); // 'WORKERS#prod#3'
 */
function shardedPartition(partition: string, shard: number): string {
  return `${partition}#${shard}`;
}

/**
 * The partition of `id`'s item among the shards of `partition`.
 *
 * @example
 * partitionOf('WORKERS#prod', 'worker-1'); // 'WORKERS#prod#<0..7>', always the same one
 */
export function partitionOf(partition: string, id: string): string {
  return shardedPartition(partition, shardOf(id, FLEET_SHARDS));
}

/**
 * Every partition a reader of a sharded `partition` queries: each shard, then the unsharded
 * partition itself, where items written before the sharding stay until they expire. Also the
 * exact `dynamodb:LeadingKeys` of an IAM grant to read it.
 *
 * @example
 * partitionsOf('WORKERS#prod'); // ['WORKERS#prod#0', …, 'WORKERS#prod#7', 'WORKERS#prod']
 */
export function partitionsOf(partition: string): string[] {
  return [
    ...Array.from({ length: FLEET_SHARDS }, (_, shard) => shardedPartition(partition, shard)),
    partition,
  ];
}

/** The shard of a run in the `openRuns` index. */
export function openRunsShard(runId: string): number {
  return shardOf(runId, OPEN_RUNS_SHARDS);
}

/**
 * The `openDueAt` sort key: the kind, then the due time as zero-padded epoch ms, so one shard
 * answers "runs of this kind due by T" with a range condition.
 *
 * @example
 * openRunsDueKey('R', 1_700_000_000_000); // 'R#001700000000000'
 */
export function openRunsDueKey(kind: OpenRunKind, dueAtMs: number): string {
  // An unreadable time counts as due at once: the sweep looks at it rather than never.
  const ms = Number.isFinite(dueAtMs) ? Math.max(0, Math.floor(dueAtMs)) : 0;
  return `${kind}#${String(ms).padStart(DUE_DIGITS, '0')}`;
}

/** Attribute type of each key attribute above (S = string, N = number). */
export const LIFECYCLE_KEY_ATTRIBUTE_TYPES: Record<string, 'S' | 'N'> = {
  pk: 'S',
  sk: 'S',
  correlationKey: 'S',
  issuedAt: 'S',
  reviewQueue: 'S',
  needsReviewSince: 'S',
  openShard: 'S',
  openDueAt: 'S',
};

/**
 * Prefix of the supervisor partitions (`DynamoDbSupervisorEventStore`):
 * `SUPERVISOR#<environment>#<shard>` holds the latest health report of the hosts of a shard,
 * `SUPERVISOR#<environment>#<yyyy-mm-dd>#<shard>` a day of child events (both without the
 * `#<shard>` before the sharding).
 */
export const SUPERVISOR_PARTITION_PREFIX = 'SUPERVISOR#';

/**
 * The unsharded partition of an environment's latest supervisor health, one item per host, as
 * written before the sharding; its shards are `<it>#<n>` ({@link partitionOf} the host).
 *
 * @example
 * supervisorHealthPartition('prod'); // 'SUPERVISOR#prod'
 */
export function supervisorHealthPartition(environment: string): string {
  return `${SUPERVISOR_PARTITION_PREFIX}${environment}`;
}

/**
 * Every partition of an environment's latest supervisor health: what the silent-host check
 * queries, and all its role may read.
 *
 * @example
 * supervisorHealthPartitions('prod'); // ['SUPERVISOR#prod#0', …, 'SUPERVISOR#prod#7', 'SUPERVISOR#prod']
 */
export function supervisorHealthPartitions(environment: string): string[] {
  return partitionsOf(supervisorHealthPartition(environment));
}

/**
 * The lifecycle table's keys: every entity lives under its own partition prefix. Read by the
 * DynamoDB adapters and by the constructs that scope an IAM policy to a partition.
 */
export const RUN_SORT_KEY = 'RUN';
export const REVIEW_QUEUE_PARTITION = 'NeedsReview';

export const keys = {
  run: (runId: string) => ({ pk: `RUN#${runId}`, sk: RUN_SORT_KEY }),
  runPartition: (runId: string) => `RUN#${runId}`,
  findingSignal: (runId: string, index: number) => ({
    pk: `RUN#${runId}`,
    sk: `SIGNAL#${String(index).padStart(5, '0')}`,
  }),
  conversationMessage: (conversationId: string, postedAt: string, commandId: string) => ({
    pk: `CONV#${conversationId}`,
    sk: `MSG#${postedAt}#${commandId}`,
  }),
  approval: (approvalId: string) => ({ pk: `APPROVAL#${approvalId}`, sk: 'APPROVAL' }),
  actionHistory: (householdId: string, idempotencyKey: string) => ({
    pk: `ACTION#${householdId}`,
    sk: `EXEC#${idempotencyKey}`,
  }),
  clientKey: (key: string) => ({ pk: `CLIENTKEY#${key}`, sk: 'CLIENTKEY' }),
  /** A delegated task (seed 004's `worker_tasks` row); its stored results share its partition. */
  workerTask: (taskId: string) => ({ pk: keys.workerTaskPartition(taskId), sk: WORKER_TASK_SORT_KEY }),
  workerTaskPartition: (taskId: string) => `WTASK#${taskId}`,
  /**
   * One per task in its current status, in the shard of its task id (`queuedAt` first, so a
   * partition lists oldest → newest).
   */
  workerTaskStatus: (environment: string, status: string, queuedAt: string, taskId: string) => ({
    pk: partitionOf(keys.workerTaskStatusPartition(environment, status), taskId),
    sk: `${queuedAt}#${taskId}`,
  }),
  /** A status entry as written before the sharding, in the unsharded partition. */
  unshardedWorkerTaskStatus: (environment: string, status: string, queuedAt: string, taskId: string) => ({
    pk: keys.workerTaskStatusPartition(environment, status),
    sk: `${queuedAt}#${taskId}`,
  }),
  /** `WTASKS#<env>#<status>`: the unsharded partition of a status, and its shards' prefix. */
  workerTaskStatusPartition: (environment: string, status: string) => `WTASKS#${environment}#${status}`,
  /** Every partition of a status: its shards, then the unsharded one ({@link partitionsOf}). */
  workerTaskStatusPartitions: (environment: string, status: string) =>
    partitionsOf(keys.workerTaskStatusPartition(environment, status)),
  /**
   * A stored result envelope (seed 004's `worker_results`), once per idempotency key: in its task's
   * partition when it names a task, else (a health envelope) a partition of its own.
   */
  workerResult: (key: string, taskId: string | undefined) =>
    taskId === undefined
      ? { pk: `WRESULT#${key}`, sk: 'WRESULT' }
      : { pk: keys.workerTaskPartition(taskId), sk: `${WORKER_RESULT_SORT_KEY_PREFIX}${key}` },
  /** The registry: one item per worker of an environment, in the shard of its worker id. */
  worker: (environment: string, workerId: string) => ({
    pk: partitionOf(keys.workerRegistryPartition(environment), workerId),
    sk: `WORKER#${workerId}`,
  }),
  /** A registry entry as written before the sharding, in the unsharded partition. */
  unshardedWorker: (environment: string, workerId: string) => ({
    pk: keys.workerRegistryPartition(environment),
    sk: `WORKER#${workerId}`,
  }),
  /** `WORKERS#<env>`: the unsharded registry partition, and its shards' prefix. */
  workerRegistryPartition: (environment: string) => `WORKERS#${environment}`,
  /** Every partition of an environment's registry: its shards, then the unsharded one. */
  workerRegistryPartitions: (environment: string) => partitionsOf(keys.workerRegistryPartition(environment)),
  /** The runtime delegation flag of an environment. */
  delegationFlag: (environment: string) => ({ pk: `WCONFIG#${environment}`, sk: 'DELEGATION' }),
} as const;

export const WORKER_TASK_SORT_KEY = 'WTASK';
export const WORKER_RESULT_SORT_KEY_PREFIX = 'WRESULT#';
