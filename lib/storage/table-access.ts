import type { CommandType, LaneDefinition } from '#contracts/lanes.js';
import {
  keys,
  type LIFECYCLE_TABLE,
  SUPERVISOR_PARTITION_PREFIX,
  supervisorHealthPartitions,
} from '#contracts/tables.js';
import { WORKER_TASK_STATUSES, type WorkerTaskStatus } from '#contracts/worker-contract.js';

/**
 * Least privilege on the lifecycle table: the one declared map of what each function may do to
 * it, read by the constructs (`LifecycleStorage.grantTableAccess`) and by the test that checks
 * the synthesized roles (test/infra/least-privilege.test.ts).
 *
 * Each entry lists the DynamoDB actions the function's code sends (read from the adapters in
 * functions/adapters/dynamodb and the wiring in functions/wiring), each limited by
 * `dynamodb:LeadingKeys` to the partitions the function touches, and the indexes it queries
 * (`dynamodb:Query` on `<table>/index/<name>` only). A `TransactWriteItems` is authorized item
 * by item, so its Put / Update / Delete / ConditionCheck items appear as those actions. No
 * function gets `Scan` (only `runlane trace`, with the operator's credentials, scans), nor any
 * table-management action; `DeleteItem` only where a worker-task status entry moves between
 * status partitions or a registry entry leaves the unsharded partition, limited to those
 * partitions.
 *
 * | function | actions | partitions |
 * |---|---|---|
 * | API (`api`) | GetItem, PutItem, UpdateItem, DeleteItem, Query, BatchGetItem; Query on `byCorrelation`, `reviewQueue` | `RUN#*`, `CLIENTKEY#*`, `APPROVAL#*` (read), `ACTION#*` (put), `WTASK#*`, `WRESULT#*`, `WTASKS#<env>#<status>[#n]`, `WORKERS#<env>[#n]`, `WCONFIG#<env>` |
 * | lane `runtime-ingestion-completed` | PutItem, UpdateItem, Query | `RUN#*` |
 * | lane `runtime-agent-message-posted` | GetItem, PutItem, UpdateItem, Query | `RUN#*`, `CONV#*`, `APPROVAL#*`, `ACTION#*`, `WTASK#*`, `WTASKS#<env>#queued[#n]`, `WORKERS#<env>[#n]`, `WCONFIG#<env>` |
 * | lane `runtime-nightly-anomaly-sweep` | PutItem, UpdateItem, Query; Query on `openRuns`, `reviewQueue` | `RUN#*` |
 * | replay dispatcher (`replayDispatcher`) | GetItem, PutItem, UpdateItem, Query | `RUN#*`, `REPLAYBODY#*`, `DRILL#*`, `DEADLETTER#*` |
 * | runner event ingest (`runnerEventIngest`) | PutItem | `RUNNER#<env>#*`, `SUPERVISOR#<env>#*` |
 * | supervisor silent-hosts check (`supervisorSilentHosts`) | Query | `SUPERVISOR#<env>[#n]` |
 * | worker event ingest (`workerIngest`) | GetItem, PutItem, UpdateItem, DeleteItem | `RUN#*`, `ACTION#*`, `WTASK#*`, `WRESULT#*`, `WTASKS#<env>#<status>[#n]`, `WORKERS#<env>[#n]` |
 * | worker sweep (`workerSweep`) | GetItem, PutItem, UpdateItem, DeleteItem, ConditionCheckItem, Query, BatchGetItem; Query on `openRuns` | `WORKERS#<env>[#n]`, `WTASKS#<env>#queued\|executing\|failed[#n]`, `WTASK#*`, `RUN#*` |
 *
 * (`[#n]`: every shard `#0`…`#7` and the unsharded partition, named one by one.)
 */

/** The DynamoDB item actions a Runlane function may be granted (never Scan, never table management). */
export type TableAction =
  | 'GetItem'
  | 'PutItem'
  | 'UpdateItem'
  | 'DeleteItem'
  | 'ConditionCheckItem'
  | 'Query'
  | 'BatchGetItem';

export type LifecycleIndex = keyof typeof LIFECYCLE_TABLE.indexes;

/** Actions on the table's items, only in partitions matching `partitions` (`dynamodb:LeadingKeys`). */
export interface ItemAccess {
  /** Statement id: what the statement is for. */
  readonly sid: string;
  readonly actions: readonly TableAction[];
  /** Partition key values or patterns (`*` matches any characters). */
  readonly partitions: readonly string[];
}

/** What one function may do to the lifecycle table. */
export interface TableAccess {
  readonly items: readonly ItemAccess[];
  /**
   * Indexes the function queries: `dynamodb:Query` on `<table>/index/<name>`, without a
   * LeadingKeys condition (IAM's `dynamodb:LeadingKeys` is the table's partition key).
   */
  readonly indexes: readonly LifecycleIndex[];
}

// Partition patterns, from the key builders of contracts/tables.ts where they exist.
const RUNS = keys.runPartition('*');
const CONVERSATIONS = keys.conversationMessage('*', '', '').pk;
const APPROVALS = keys.approval('*').pk;
const ACTION_HISTORY = keys.actionHistory('*', '').pk;
const CLIENT_KEYS = keys.clientKey('*').pk;
const WORKER_TASKS = keys.workerTaskPartition('*');
const WORKER_RESULTS = keys.workerResult('*', undefined).pk;
// The replay drill's records (functions/adapters/dynamodb/replay-records.ts).
const REPLAY_BODIES = 'REPLAYBODY#*';
const DRILL_EVIDENCE = 'DRILL#*';
const DISCARDED_DEAD_LETTERS = 'DEADLETTER#*';
// The runner event store's day partitions (functions/adapters/dynamodb/runner-event-store.ts).
const RUNNER_EVENT_PREFIX = 'RUNNER#';

function statusPartitions(environment: string, statuses: readonly WorkerTaskStatus[]): string[] {
  return statuses.flatMap((status) => keys.workerTaskStatusPartitions(environment, status));
}

/** The statuses whose entries the sweep moves when it expires a delegation (from queued or executing to failed). */
const SWEEP_MOVED_STATUSES: readonly WorkerTaskStatus[] = ['queued', 'executing', 'failed'];

/**
 * A lane worker's own run item, whatever its lane: read the run (`getRun`, a Query of its
 * partition), reserve or take over the key and save the attempt (conditional puts), mark a
 * duplicate delivery or a dead-lettered command (updates).
 */
const LANE_RUNS: ItemAccess = {
  sid: 'Runs',
  actions: ['Query', 'PutItem', 'UpdateItem'],
  partitions: [RUNS],
};

/** What each command's handler adds to its lane worker's access. */
function commandAccess(commandType: CommandType, environment: string): TableAccess {
  switch (commandType) {
    case 'ingestion.completed':
      return { items: [], indexes: [] };
    case 'agent.message.posted':
      // The conversation message and the approval request, each created once.
      return {
        items: [{ sid: 'ConversationRecords', actions: ['PutItem'], partitions: [CONVERSATIONS, APPROVALS] }],
        indexes: [],
      };
    case 'agent.approval.decided':
      return {
        items: [
          // decide: the request and its requesting run read, then the conditional update.
          { sid: 'DecideApprovals', actions: ['GetItem', 'UpdateItem'], partitions: [APPROVALS] },
          { sid: 'RequestingRuns', actions: ['GetItem'], partitions: [RUNS] },
          { sid: 'ExecuteActions', actions: ['PutItem'], partitions: [ACTION_HISTORY] },
          // Delegation: the task (read, created with its queued status entry), the flag, the registry.
          { sid: 'DelegateTasks', actions: ['GetItem', 'PutItem'], partitions: [WORKER_TASKS] },
          {
            sid: 'QueuedTaskEntries',
            actions: ['PutItem'],
            partitions: statusPartitions(environment, ['queued']),
          },
          { sid: 'DelegationFlag', actions: ['GetItem'], partitions: [keys.delegationFlag(environment).pk] },
          {
            sid: 'WorkerRegistry',
            actions: ['Query'],
            partitions: keys.workerRegistryPartitions(environment),
          },
        ],
        indexes: [],
      };
    case 'anomaly.sweep':
      // Retried and delegated runs from openRuns, stale reviews from reviewQueue; findings and
      // abandoned-run closes are puts of RUN# items (LANE_RUNS).
      return { items: [], indexes: ['openRuns', 'reviewQueue'] };
  }
}

/** Every table user of a Runlane environment, by function. */
export const TABLE_ACCESS = {
  /**
   * The command API (functions/wiring/api.ts): runs (`getRun`, `findRunsByCorrelationId`: get,
   * Query of the index, batch get), the review queue index, client idempotency keys (put once),
   * the approval item the approvals route reads, and the worker routes (claim, results,
   * heartbeats, health, metrics, the delegation flag) through the worker adapters.
   */
  api: (environment: string): TableAccess => ({
    items: [
      { sid: 'Runs', actions: ['GetItem', 'Query', 'BatchGetItem'], partitions: [RUNS] },
      { sid: 'ClientKeys', actions: ['PutItem'], partitions: [CLIENT_KEYS] },
      { sid: 'Approvals', actions: ['GetItem'], partitions: [APPROVALS] },
      // A worker result reconciled through the API: the run, the action history.
      { sid: 'ReconcileResults', actions: ['PutItem'], partitions: [RUNS, ACTION_HISTORY] },
      {
        sid: 'WorkerTasks',
        actions: ['GetItem', 'PutItem', 'UpdateItem', 'Query', 'BatchGetItem'],
        partitions: [WORKER_TASKS],
      },
      { sid: 'WorkerResults', actions: ['GetItem', 'PutItem'], partitions: [WORKER_RESULTS] },
      {
        sid: 'WorkerTaskStatusEntries',
        actions: ['Query', 'PutItem', 'DeleteItem'],
        partitions: statusPartitions(environment, WORKER_TASK_STATUSES),
      },
      {
        sid: 'WorkerRegistry',
        actions: ['Query', 'GetItem', 'UpdateItem', 'DeleteItem'],
        partitions: keys.workerRegistryPartitions(environment),
      },
      {
        sid: 'DelegationFlag',
        actions: ['GetItem', 'PutItem'],
        partitions: [keys.delegationFlag(environment).pk],
      },
    ],
    indexes: ['byCorrelation', 'reviewQueue'],
  }),

  /** A lane worker (functions/wiring/lane-worker.ts): its run items plus what its lane's commands do. */
  laneWorker: (lane: Pick<LaneDefinition, 'commandTypes'>, environment: string): TableAccess =>
    mergeAccess([
      { items: [LANE_RUNS], indexes: [] },
      ...lane.commandTypes.map((commandType) => commandAccess(commandType, environment)),
    ]),

  /** The replay drill's dispatcher (functions/wiring/replay.ts): runs read and linked, replay bodies and evidence. */
  replayDispatcher: (): TableAccess => ({
    items: [
      { sid: 'Runs', actions: ['Query', 'GetItem', 'UpdateItem'], partitions: [RUNS] },
      { sid: 'ReplayRecords', actions: ['GetItem', 'PutItem'], partitions: [REPLAY_BODIES, DRILL_EVIDENCE] },
      { sid: 'DiscardedDeadLetters', actions: ['PutItem'], partitions: [DISCARDED_DEAD_LETTERS] },
    ],
    indexes: [],
  }),

  /**
   * The runner event ingest (functions/wiring/runner-event-ingest.ts): puts this environment's
   * runner events and supervisor reports (events naming another environment are refused).
   */
  runnerEventIngest: (environment: string): TableAccess => ({
    items: [
      {
        sid: 'AgentEvents',
        actions: ['PutItem'],
        partitions: [
          `${RUNNER_EVENT_PREFIX}${environment}#*`,
          `${SUPERVISOR_PARTITION_PREFIX}${environment}#*`,
        ],
      },
    ],
    indexes: [],
  }),

  /** The silent-host check (functions/wiring/supervisor-silent-hosts.ts): queries the latest health partitions. */
  supervisorSilentHosts: (environment: string): TableAccess => ({
    items: [
      { sid: 'SupervisorHealth', actions: ['Query'], partitions: supervisorHealthPartitions(environment) },
    ],
    indexes: [],
  }),

  /**
   * The worker event ingest (functions/wiring/worker-ingest.ts): heartbeats into the registry,
   * results into the task store, reconciled with the run and the action history in one
   * transaction (the task's status entry moves: delete and put).
   */
  workerIngest: (environment: string): TableAccess => ({
    items: [
      { sid: 'Runs', actions: ['GetItem', 'PutItem'], partitions: [RUNS] },
      { sid: 'ActionHistory', actions: ['PutItem'], partitions: [ACTION_HISTORY] },
      { sid: 'WorkerTasks', actions: ['GetItem', 'PutItem', 'UpdateItem'], partitions: [WORKER_TASKS] },
      { sid: 'WorkerResults', actions: ['GetItem', 'PutItem'], partitions: [WORKER_RESULTS] },
      {
        sid: 'WorkerTaskStatusEntries',
        actions: ['PutItem', 'DeleteItem'],
        partitions: statusPartitions(environment, WORKER_TASK_STATUSES),
      },
      {
        sid: 'WorkerRegistry',
        actions: ['GetItem', 'UpdateItem', 'DeleteItem'],
        partitions: keys.workerRegistryPartitions(environment),
      },
    ],
    indexes: [],
  }),

  /**
   * The worker sweep (functions/wiring/worker-sweep.ts): reads the registry and the executing
   * entries and those tasks, the overdue delegated runs of the openRuns index; expires an overdue
   * delegation in one transaction (task, status entry moved, run put or condition-checked).
   */
  workerSweep: (environment: string): TableAccess => ({
    items: [
      {
        sid: 'ListWorkersAndExecutingTasks',
        actions: ['Query'],
        partitions: [
          ...keys.workerRegistryPartitions(environment),
          ...keys.workerTaskStatusPartitions(environment, 'executing'),
        ],
      },
      { sid: 'ReadTasks', actions: ['BatchGetItem'], partitions: [WORKER_TASKS] },
      {
        sid: 'ExpireOverdueDelegations',
        actions: ['GetItem', 'PutItem', 'UpdateItem', 'ConditionCheckItem'],
        partitions: [WORKER_TASKS, RUNS],
      },
      {
        sid: 'MoveTaskStatusEntries',
        actions: ['PutItem', 'DeleteItem'],
        partitions: statusPartitions(environment, SWEEP_MOVED_STATUSES),
      },
    ],
    indexes: ['openRuns'],
  }),
} as const;

/** The union of several accesses: statements with the same sid merged (actions and partitions). */
function mergeAccess(accesses: readonly TableAccess[]): TableAccess {
  const bySid = new Map<string, { actions: Set<TableAction>; partitions: Set<string> }>();
  for (const item of accesses.flatMap((access) => access.items)) {
    const merged = bySid.get(item.sid) ?? { actions: new Set(), partitions: new Set() };
    for (const action of item.actions) merged.actions.add(action);
    for (const partition of item.partitions) merged.partitions.add(partition);
    bySid.set(item.sid, merged);
  }
  return {
    items: [...bySid].map(([sid, merged]) => ({
      sid,
      actions: [...merged.actions],
      partitions: [...merged.partitions],
    })),
    indexes: [...new Set(accesses.flatMap((access) => access.indexes))],
  };
}

/** Every action of an access, sorted (what the role may do to the table, indexes included). */
export function actionsOf(access: TableAccess): TableAction[] {
  const actions = new Set<TableAction>(access.items.flatMap((item) => item.actions));
  if (access.indexes.length > 0) actions.add('Query');
  return [...actions].sort();
}
