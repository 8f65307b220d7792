import {
  BatchGetCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { KEY_STATUS, RUN_STATUS, type RunRecord } from '#contracts/lifecycle.js';
import { FLEET_SHARDS, keys, shardOf, WORKER_RESULT_SORT_KEY_PREFIX } from '#contracts/tables.js';
import {
  resultIdempotencyKey,
  type WorkerResultEnvelope,
  type WorkerTaskMessage,
  type WorkerTaskStatus,
} from '#contracts/worker-contract.js';
import { expireDelegatedRun, isDelegatedTo, isDelegationDue } from '#core/lifecycle/delegation.js';
import { WorkerTaskContentionError } from '#core/workers/errors.js';
import type {
  ClaimOutcome,
  DelegationDeadlines,
  ExpireDelegationOutcome,
  RecordResultOutcome,
  WorkerTaskRecord,
  WorkerTaskStore,
} from '#core/workers/ports.js';
import {
  type ExecutionResultEnvelope,
  finishTask,
  isExpiredClaimedTask,
  RESULT_MISSING_ERROR_CODE,
  reconcileRefusal,
  reconcileRun,
  workerActionHistoryEntry,
} from '#core/workers/reconcile.js';
import { type Item, itemToRun, runToItem } from './items.js';
import { retentionSeconds } from './retention.js';
import { compareKeys, queryPartitions } from './sharded-query.js';

export interface DynamoDbWorkerTaskStoreOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  /** The control plane's environment: status entries are per environment. */
  readonly environment: string;
  /**
   * Days a task, its results and status entry are kept (TTL `expiresAt`).
   * @default 30
   */
  readonly retentionDays?: number;
}

const MAX_RACES = 5;
const DEFAULT_LIST_LIMIT = 100;
/** The statuses of a task whose result has not arrived: what the deadline check reads. */
const UNFINISHED_STATUSES = ['queued', 'executing'] as const satisfies readonly WorkerTaskStatus[];

/**
 * `WorkerTaskStore` on the lifecycle table (single-table design).
 *
 * Items:
 * - task record: `pk` = `WTASK#<taskId>`, `sk` = `WTASK` — the message, status, claim and finish;
 * - result envelope: `pk` = `WTASK#<taskId>`, `sk` = `WRESULT#<resultIdempotencyKey>` (a health
 *   envelope without a task: `pk` = `WRESULT#<key>`, `sk` = `WRESULT`), put on
 *   `attribute_not_exists(pk)`: each key is stored once, a resend is a `duplicate`; a task's
 *   results are one Query of its partition (the stuck-task check);
 * - status entry: `pk` = `WTASKS#<env>#<status>#<shard>` (the task id's shard among
 *   `FLEET_SHARDS`), `sk` = `<queuedAt>#<taskId>`; the task record keeps that shard
 *   (`statusShard`).
 *
 * Why status entries and not a GSI: the table's two indexes are sparse and keyed for runs, and a
 * new GSI would be a table migration plus an index write on every task write anyway. A status
 * entry is one small item, moved (Delete old + Put new) in the same TransactWriteItems as the
 * status change, so `listByStatus` reads the base table with a consistent Query per shard and can
 * never see a task in two statuses. The cost is two extra item writes per transition; a status's
 * entries are spread over `FLEET_SHARDS` partitions, so none grows with the task count alone.
 *
 * Status entries written before the sharding sit in `WTASKS#<env>#<status>`, and their task
 * records carry no `statusShard`: readers query that partition too, and the next transition of
 * such a task deletes its old entry there (and puts the new one in its shard, marking the record).
 *
 * `recordResult` of an `execution_result` is one transaction: put the result (once per key),
 * move the task `executing → succeeded | failed` (conditional on the claim and attempt), move
 * its status entry, write the action history entry and put the run of the task's command with a
 * `worker_result` stage (conditional on the run being unchanged and no attempt holding it).
 * A resend fails on the result's condition and changes nothing; a retry after any failure finds
 * nothing half-applied.
 *
 * A delegated run waits for its task's result until its `delegation.deadlineAt`, also kept on the
 * task record (`deadlineAt`, so a retried delegation keeps it). `expireOverdue` closes an overdue
 * task (`failed`, `worker_result_missing`) and turns its run NeedsReview in one transaction, off
 * the command path (the worker sweep finds the overdue runs in the `openRuns` index:
 * `DynamoDbDelegationDeadlines`). The claimant's late result is still reconciled (a
 * `worker_result` stage).
 *
 * A claim by the worker that already holds an `executing` task's claim at that attempt answers
 * `claimed` again (`reclaimed`, nothing written): the message of a task whose result the worker
 * could neither deliver nor spool comes back, and the worker resends the result it kept.
 *
 * Every item carries `expiresAt` (TTL, `retentionDays` after it was written).
 *
 * @example
 * const tasks = new DynamoDbWorkerTaskStore({ client: documents, tableName, environment: 'prod' });
 * await tasks.createQueued(message, now);
 * await tasks.claim({ taskId, workerId: 'w-1', site: 'lab', now }); // { outcome: 'claimed', task }
 */
export class DynamoDbWorkerTaskStore implements WorkerTaskStore, Pick<DelegationDeadlines, 'expireOverdue'> {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #environment: string;
  readonly #retentionSeconds: number;
  /**
   * Where the status entry of each task record this store read or wrote is: in its shard, or
   * (`unsharded`) where it was written before the sharding. A transition deletes it there.
   */
  readonly #statusEntries = new WeakMap<WorkerTaskRecord, 'sharded' | 'unsharded'>();

  public constructor(options: DynamoDbWorkerTaskStoreOptions) {
    this.#client = options.client;
    this.#tableName = options.tableName;
    this.#environment = options.environment;
    this.#retentionSeconds = retentionSeconds(options.retentionDays ?? 30);
  }

  public async createQueued(
    message: WorkerTaskMessage,
    now: Date,
    options: { readonly deadlineAt?: string } = {},
  ): Promise<WorkerTaskRecord> {
    const record: WorkerTaskRecord = {
      taskId: message.taskId,
      attempt: message.attempt,
      site: message.site,
      status: 'queued',
      message,
      queuedAt: new Date(message.queuedAt).toISOString(),
      ...(options.deadlineAt !== undefined ? { deadlineAt: new Date(options.deadlineAt).toISOString() } : {}),
    };
    for (let race = 0; race < MAX_RACES; race++) {
      const reasons = await this.#transact(
        [
          {
            Put: {
              TableName: this.#tableName,
              Item: this.#taskItem(record, now),
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
          { Put: { TableName: this.#tableName, Item: this.#statusItem(record, now) } },
        ],
        race,
      );
      if (reasons === undefined) return this.#known(record, 'sharded');
      if (reasons[0] === 'ConditionalCheckFailed') {
        const existing = await this.get(message.taskId);
        if (existing) return existing;
      }
    }
    throw new WorkerTaskContentionError(message.taskId, 'createQueued');
  }

  public async claim(input: {
    taskId: string;
    workerId: string;
    site: string;
    now: Date;
    attempt?: number;
  }): Promise<ClaimOutcome> {
    for (let race = 0; race < MAX_RACES; race++) {
      const task = await this.get(input.taskId);
      if (!task) return { outcome: 'not_found' };
      if (task.site !== input.site) return { outcome: 'wrong_site', site: task.site };
      if (task.message.workerId !== undefined && task.message.workerId !== input.workerId) {
        return { outcome: 'wrong_worker', workerId: task.message.workerId };
      }
      if (input.attempt !== undefined && input.attempt !== task.attempt) {
        return { outcome: 'stale_attempt', attempt: task.attempt };
      }
      if (task.status === 'executing' && task.claimedBy === input.workerId) {
        // The claimant's message came back (it kept it to resend a result): its claim stands.
        return { outcome: 'claimed', task, reclaimed: true };
      }
      if (task.status !== 'queued') {
        return { outcome: 'already_claimed', claimedBy: task.claimedBy, status: task.status };
      }
      const claimed: WorkerTaskRecord = {
        ...task,
        status: 'executing',
        claimedBy: input.workerId,
        claimedAt: input.now.toISOString(),
      };
      const reasons = await this.#transact(
        [
          {
            Update: {
              TableName: this.#tableName,
              Key: keys.workerTask(task.taskId),
              UpdateExpression:
                'SET #status = :executing, #claimedBy = :worker, #claimedAt = :at, #statusShard = :statusShard',
              ConditionExpression: '#status = :queued AND #site = :site AND #attempt = :attempt',
              ExpressionAttributeNames: {
                '#status': 'status',
                '#claimedBy': 'claimedBy',
                '#claimedAt': 'claimedAt',
                '#site': 'site',
                '#attempt': 'attempt',
                '#statusShard': 'statusShard',
              },
              ExpressionAttributeValues: {
                ':executing': 'executing',
                ':queued': 'queued',
                ':worker': input.workerId,
                ':at': claimed.claimedAt,
                ':site': input.site,
                ':attempt': task.attempt,
                ':statusShard': statusShard(task.taskId),
              },
            },
          },
          { Delete: { TableName: this.#tableName, Key: this.#storedStatusKey(task) } },
          { Put: { TableName: this.#tableName, Item: this.#statusItem(claimed, input.now) } },
        ],
        race,
      );
      if (reasons === undefined) return { outcome: 'claimed', task: this.#known(claimed, 'sharded') };
      // Lost to another claimer (or a conflicting transaction): read again and answer from the record.
    }
    throw new WorkerTaskContentionError(input.taskId, 'claim');
  }

  public async recordResult(envelope: WorkerResultEnvelope, now: Date): Promise<RecordResultOutcome> {
    const key = resultIdempotencyKey(envelope);
    if (envelope.task_id === undefined) {
      return (await this.#putResult(envelope, key, now))
        ? { outcome: 'recorded', reconciled: false }
        : { outcome: 'duplicate' };
    }
    for (let race = 0; race < MAX_RACES; race++) {
      const task = await this.get(envelope.task_id);
      if (!task) return { outcome: 'unknown_task' };
      if (envelope.payload_type !== 'execution_result' || reconcileRefusal(task, envelope) !== undefined) {
        const stored = await this.#putResult(envelope, key, now);
        return stored ? { outcome: 'recorded', task, reconciled: false } : { outcome: 'duplicate' };
      }
      const run = await this.#getRun(task.message.commandId);
      if (run?.keyStatus === KEY_STATUS.Reserved) {
        // Its lane worker has not saved the run yet: a stage written now would be overwritten.
        return (await this.#resultExists(envelope, key))
          ? { outcome: 'duplicate' }
          : { outcome: 'run_in_progress' };
      }
      const finished = finishTask(task, envelope, now);
      const reasons = await this.#transact(
        this.#reconcileItems(task, finished, run, envelope, key, now),
        race,
      );
      if (reasons === undefined) {
        return { outcome: 'recorded', task: this.#known(finished, 'sharded'), reconciled: true };
      }
      if (reasons[0] === 'ConditionalCheckFailed') return { outcome: 'duplicate' };
      // The task or the run changed since they were read: read again.
    }
    throw new WorkerTaskContentionError(envelope.task_id, 'recordResult');
  }

  public async get(taskId: string): Promise<WorkerTaskRecord | undefined> {
    const result = await this.#client.send(
      new GetCommand({ TableName: this.#tableName, Key: keys.workerTask(taskId), ConsistentRead: true }),
    );
    return result.Item ? this.#toTask(result.Item) : undefined;
  }

  /**
   * Newest first (by `queuedAt`), at most `limit`: the newest `limit` entries of each shard of the
   * status (and of its unsharded partition), in parallel, merged, each task once.
   */
  public async listByStatus(
    status: WorkerTaskStatus,
    limit = DEFAULT_LIST_LIMIT,
  ): Promise<WorkerTaskRecord[]> {
    const entries = await queryPartitions(
      this.#client,
      keys.workerTaskStatusPartitions(this.#environment, status),
      (pk) => ({
        TableName: this.#tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': pk },
        ScanIndexForward: false,
        ProjectionExpression: 'sk, taskId',
        ConsistentRead: true,
      }),
      { limit },
    );
    entries.sort((a, b) => compareKeys(String(b.sk), String(a.sk)));
    const taskIds = [...new Set(entries.map((entry) => String(entry.taskId)))].slice(0, limit);
    const tasks = new Map((await this.#batchGetTasks(taskIds)).map((task) => [task.taskId, task]));
    return taskIds.flatMap((id) => {
      const task = tasks.get(id);
      return task && task.status === status ? [task] : [];
    });
  }

  /** The status entries of `status`: a count per shard (and the unsharded partition), in parallel. */
  public async countByStatus(status: WorkerTaskStatus): Promise<number> {
    const counts = await Promise.all(
      keys.workerTaskStatusPartitions(this.#environment, status).map(async (pk) => {
        let count = 0;
        let cursor: Record<string, unknown> | undefined;
        do {
          const page = await this.#client.send(
            new QueryCommand({
              TableName: this.#tableName,
              KeyConditionExpression: 'pk = :pk',
              ExpressionAttributeValues: { ':pk': pk },
              Select: 'COUNT',
              ConsistentRead: true,
              ExclusiveStartKey: cursor,
            }),
          );
          count += page.Count ?? 0;
          cursor = page.LastEvaluatedKey;
        } while (cursor);
        return count;
      }),
    );
    return counts.reduce((sum, count) => sum + count, 0);
  }

  public async listResultKeys(taskId: string): Promise<string[]> {
    const items = await this.#query({
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: {
        ':pk': keys.workerTaskPartition(taskId),
        ':prefix': WORKER_RESULT_SORT_KEY_PREFIX,
      },
      ProjectionExpression: 'sk',
    });
    return items.map((item) => String(item.sk).slice(WORKER_RESULT_SORT_KEY_PREFIX.length));
  }

  /** The task records of `taskIds` that exist (one BatchGetItem per 100), in no particular order. */
  public getMany(taskIds: readonly string[]): Promise<WorkerTaskRecord[]> {
    return this.#batchGetTasks(taskIds);
  }

  /**
   * For a task whose result is overdue: its run, if Running and delegated to it with its deadline
   * at or before `now`, turns NeedsReview with `worker_result_missing` (`expireDelegatedRun`) and
   * the task `failed` `worker_result_missing`, in one transaction conditional on the task and the
   * run being as read. A run that no longer waits on the task (finished otherwise, gone) leaves the
   * task alone to close once the task's own `deadlineAt` passed; a run its lane worker still holds
   * is left for the next sweep.
   */
  public async expireOverdue(listed: WorkerTaskRecord, now: Date): Promise<ExpireDelegationOutcome> {
    for (let race = 0; race < MAX_RACES; race++) {
      // A record this store did not read or write is read again: where its status entry is.
      const task = race === 0 && this.#statusEntries.has(listed) ? listed : await this.get(listed.taskId);
      if (!task || !isUnfinished(task)) return { outcome: 'skipped', reason: 'changed' };
      const commandId = task.message.commandId;
      const run = await this.#getRun(commandId);
      // Its lane worker has not saved the run yet: the next sweep finds it delegated (or finished).
      if (run?.keyStatus === KEY_STATUS.Reserved) return { outcome: 'skipped', reason: 'run_in_progress' };
      const delegated = run !== undefined && isDelegatedTo(run, task.taskId);
      // The run's deadline decides while it waits on the task; else the task's own.
      const due = delegated
        ? isDelegationDue(run, now)
        : task.deadlineAt !== undefined && Date.parse(task.deadlineAt) <= now.getTime();
      if (!due) return { outcome: 'skipped', reason: 'not_due' };
      const closed: WorkerTaskRecord = {
        ...task,
        status: 'failed',
        finishedAt: now.toISOString(),
        errorCode: RESULT_MISSING_ERROR_CODE,
      };
      const reasons = await this.#transact(
        [
          {
            Update: {
              TableName: this.#tableName,
              Key: keys.workerTask(task.taskId),
              UpdateExpression:
                'SET #status = :failed, #finishedAt = :at, #errorCode = :code, #statusShard = :statusShard',
              ConditionExpression: '#status = :seen AND #attempt = :attempt',
              ExpressionAttributeNames: {
                '#status': 'status',
                '#finishedAt': 'finishedAt',
                '#errorCode': 'errorCode',
                '#attempt': 'attempt',
                '#statusShard': 'statusShard',
              },
              ExpressionAttributeValues: {
                ':failed': closed.status,
                ':at': closed.finishedAt,
                ':code': closed.errorCode,
                ':seen': task.status,
                ':attempt': task.attempt,
                ':statusShard': statusShard(task.taskId),
              },
            },
          },
          { Delete: { TableName: this.#tableName, Key: this.#storedStatusKey(task) } },
          { Put: { TableName: this.#tableName, Item: this.#statusItem(closed, now) } },
          run === undefined
            ? {
                ConditionCheck: {
                  TableName: this.#tableName,
                  Key: keys.run(commandId),
                  ConditionExpression: 'attribute_not_exists(pk)',
                },
              }
            : delegated
              ? {
                  Put: {
                    TableName: this.#tableName,
                    Item: runToItem(expireDelegatedRun(run, task.taskId, now)),
                    ...runUnchanged(run, task.taskId),
                  },
                }
              : {
                  ConditionCheck: {
                    TableName: this.#tableName,
                    Key: keys.run(commandId),
                    ...runUnchanged(run),
                  },
                },
        ],
        race,
      );
      if (reasons === undefined) return { outcome: delegated ? 'expired' : 'task_closed', commandId };
      // The task or the run changed since they were read: read again.
    }
    throw new WorkerTaskContentionError(listed.taskId, 'expireOverdue');
  }

  #reconcileItems(
    task: WorkerTaskRecord,
    finished: WorkerTaskRecord,
    run: RunRecord | undefined,
    envelope: ExecutionResultEnvelope,
    key: string,
    now: Date,
  ): NonNullable<TransactWriteCommandInput['TransactItems']> {
    const failed = finished.status === 'failed';
    const history = workerActionHistoryEntry(task, envelope, now);
    const { householdId: _h, ...historyFields } = history;
    return [
      {
        Put: {
          TableName: this.#tableName,
          Item: this.#resultItem(envelope, key, now),
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      {
        Update: {
          TableName: this.#tableName,
          Key: keys.workerTask(task.taskId),
          UpdateExpression: failed
            ? 'SET #status = :final, #finishedAt = :at, #resultKey = :key, #errorCode = :code, #statusShard = :statusShard'
            : 'SET #status = :final, #finishedAt = :at, #resultKey = :key, #statusShard = :statusShard REMOVE #errorCode',
          // Executing — or closed by the sweep at its deadline (a late result) — as it was read.
          ConditionExpression: isExpiredClaimedTask(task)
            ? '#status = :failed AND #errorCode = :missing AND attribute_not_exists(#resultKey) AND #claimedBy = :worker AND #attempt = :attempt'
            : '#status = :executing AND #claimedBy = :worker AND #attempt = :attempt',
          ExpressionAttributeNames: {
            '#status': 'status',
            '#finishedAt': 'finishedAt',
            '#resultKey': 'resultKey',
            '#errorCode': 'errorCode',
            '#claimedBy': 'claimedBy',
            '#attempt': 'attempt',
            '#statusShard': 'statusShard',
          },
          ExpressionAttributeValues: {
            ':final': finished.status,
            ':statusShard': statusShard(task.taskId),
            ':at': finished.finishedAt,
            ':key': key,
            ...(isExpiredClaimedTask(task)
              ? { ':failed': 'failed', ':missing': RESULT_MISSING_ERROR_CODE }
              : { ':executing': 'executing' }),
            ':worker': envelope.worker_id,
            ':attempt': envelope.attempt,
            ...(failed ? { ':code': finished.errorCode } : {}),
          },
        },
      },
      { Delete: { TableName: this.#tableName, Key: this.#storedStatusKey(task) } },
      { Put: { TableName: this.#tableName, Item: this.#statusItem(finished, now) } },
      {
        Put: {
          TableName: this.#tableName,
          Item: {
            ...keys.actionHistory(history.householdId, history.idempotencyKey),
            entity: 'ActionHistory',
            ...historyFields,
          },
        },
      },
      ...(run
        ? [
            {
              Put: {
                TableName: this.#tableName,
                Item: runToItem(reconcileRun(run, task, envelope, now)),
                // A run waiting on this task is finished only while it still waits on it.
                ...runUnchanged(run, isDelegatedTo(run, task.taskId) ? task.taskId : undefined),
              },
            },
          ]
        : []),
    ];
  }

  /** Runs the transaction; undefined on success, else each item's cancellation code. */
  async #transact(
    items: NonNullable<TransactWriteCommandInput['TransactItems']>,
    race: number,
  ): Promise<string[] | undefined> {
    if (race > 0) await sleep(10 * 2 ** race + Math.floor(Math.random() * 10));
    try {
      await this.#client.send(new TransactWriteCommand({ TransactItems: items }));
      return undefined;
    } catch (error) {
      if (!(error instanceof Error) || error.name !== 'TransactionCanceledException') throw error;
      const reasons = (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
      return items.map((_item, index) => reasons[index]?.Code ?? 'None');
    }
  }

  /** Puts the result once; false when its key is already stored. */
  async #putResult(envelope: WorkerResultEnvelope, key: string, now: Date): Promise<boolean> {
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#tableName,
          Item: this.#resultItem(envelope, key, now),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof Error && error.name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }

  async #resultExists(envelope: WorkerResultEnvelope, key: string): Promise<boolean> {
    const result = await this.#client.send(
      new GetCommand({
        TableName: this.#tableName,
        Key: keys.workerResult(key, envelope.task_id),
        ConsistentRead: true,
        ProjectionExpression: 'pk',
      }),
    );
    return result.Item !== undefined;
  }

  async #getRun(commandId: string): Promise<RunRecord | undefined> {
    const result = await this.#client.send(
      new GetCommand({ TableName: this.#tableName, Key: keys.run(commandId), ConsistentRead: true }),
    );
    return result.Item ? itemToRun(result.Item) : undefined;
  }

  async #batchGetTasks(taskIds: readonly string[]): Promise<WorkerTaskRecord[]> {
    const found: WorkerTaskRecord[] = [];
    for (let start = 0; start < taskIds.length; start += 100) {
      let pending: Item[] = taskIds.slice(start, start + 100).map((id) => keys.workerTask(id));
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 6) throw new Error(`${pending.length} task(s) left unprocessed by BatchGetItem`);
        if (attempt > 0) await sleep(25 * 2 ** attempt);
        const result = await this.#client.send(
          new BatchGetCommand({
            RequestItems: { [this.#tableName]: { Keys: pending, ConsistentRead: true } },
          }),
        );
        found.push(...(result.Responses?.[this.#tableName] ?? []).map((item) => this.#toTask(item)));
        pending = (result.UnprocessedKeys?.[this.#tableName]?.Keys ?? []) as Item[];
      }
    }
    return found;
  }

  async #query(
    input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey' | 'Limit'>,
    limit = Number.POSITIVE_INFINITY,
  ): Promise<Item[]> {
    const items: Item[] = [];
    let cursor: Record<string, unknown> | undefined;
    do {
      const page = await this.#client.send(
        new QueryCommand({
          ...input,
          TableName: this.#tableName,
          ConsistentRead: true,
          ExclusiveStartKey: cursor,
          ...(Number.isFinite(limit) ? { Limit: limit - items.length } : {}),
        }),
      );
      items.push(...(page.Items ?? []));
      cursor = page.LastEvaluatedKey;
    } while (cursor && items.length < limit);
    return items;
  }

  #expiresAt(now: Date): number {
    return Math.floor(now.getTime() / 1000) + this.#retentionSeconds;
  }

  #taskItem(record: WorkerTaskRecord, now: Date): Item {
    return {
      ...keys.workerTask(record.taskId),
      entity: 'WorkerTask',
      environment: this.#environment,
      commandId: record.message.commandId,
      ...record,
      statusShard: statusShard(record.taskId),
      expiresAt: this.#expiresAt(now),
    };
  }

  /** A task record from its item, remembering where its status entry is. */
  #toTask(item: Item): WorkerTaskRecord {
    return this.#known(itemToTask(item), typeof item.statusShard === 'number' ? 'sharded' : 'unsharded');
  }

  #known(record: WorkerTaskRecord, statusEntry: 'sharded' | 'unsharded'): WorkerTaskRecord {
    this.#statusEntries.set(record, statusEntry);
    return record;
  }

  /** Where a record's status entry goes: the shard of its task id. */
  #statusKey(record: WorkerTaskRecord) {
    return keys.workerTaskStatus(this.#environment, record.status, record.queuedAt, record.taskId);
  }

  /** Where the status entry of a record as read is: its shard, or the unsharded partition. */
  #storedStatusKey(task: WorkerTaskRecord) {
    return this.#statusEntries.get(task) === 'unsharded'
      ? keys.unshardedWorkerTaskStatus(this.#environment, task.status, task.queuedAt, task.taskId)
      : this.#statusKey(task);
  }

  #statusItem(record: WorkerTaskRecord, now: Date): Item {
    return {
      ...this.#statusKey(record),
      entity: 'WorkerTaskStatus',
      taskId: record.taskId,
      status: record.status,
      queuedAt: record.queuedAt,
      expiresAt: this.#expiresAt(now),
    };
  }

  #resultItem(envelope: WorkerResultEnvelope, key: string, now: Date): Item {
    return {
      ...keys.workerResult(key, envelope.task_id),
      entity: 'WorkerResult',
      key,
      payloadType: envelope.payload_type,
      workerId: envelope.worker_id,
      site: envelope.site,
      ...(envelope.task_id !== undefined ? { taskId: envelope.task_id, attempt: envelope.attempt } : {}),
      envelope,
      receivedAt: now.toISOString(),
      expiresAt: this.#expiresAt(now),
    };
  }
}

function itemToTask(item: Item): WorkerTaskRecord {
  const optional = (name: string) => (typeof item[name] === 'string' ? { [name]: item[name] as string } : {});
  return {
    taskId: String(item.taskId),
    attempt: Number(item.attempt),
    site: String(item.site),
    status: item.status as WorkerTaskStatus,
    message: item.message as WorkerTaskMessage,
    queuedAt: String(item.queuedAt),
    ...optional('deadlineAt'),
    ...optional('claimedBy'),
    ...optional('claimedAt'),
    ...optional('finishedAt'),
    ...optional('errorCode'),
    ...optional('resultKey'),
  };
}

/** The shard of a task's status entries, kept on its record as `statusShard`. */
function statusShard(taskId: string): number {
  return shardOf(taskId, FLEET_SHARDS);
}

function isUnfinished(task: WorkerTaskRecord): boolean {
  return (UNFINISHED_STATUSES as readonly WorkerTaskStatus[]).includes(task.status);
}

/**
 * The condition of a write over a run read as `run`: unchanged since (its `updatedAt`, and the
 * counters other writers add without touching it: duplicate deliveries, replay links), no attempt
 * holding it — and, with `delegatedTaskId`, still Running and waiting on that task.
 */
function runUnchanged(
  run: RunRecord,
  delegatedTaskId?: string,
): {
  ConditionExpression: string;
  ExpressionAttributeNames: Record<string, string>;
  ExpressionAttributeValues: Record<string, unknown>;
} {
  const conditions = ['#updatedAt = :seen', '#keyStatus <> :reserved'];
  const names: Record<string, string> = {
    '#updatedAt': 'updatedAt',
    '#keyStatus': 'keyStatus',
    '#duplicates': 'duplicateDeliveries',
    '#replayedAs': 'replayedAs',
  };
  const values: Record<string, unknown> = { ':seen': run.updatedAt, ':reserved': KEY_STATUS.Reserved };
  if (run.duplicateDeliveries === undefined) conditions.push('attribute_not_exists(#duplicates)');
  else {
    conditions.push('#duplicates = :duplicates');
    values[':duplicates'] = run.duplicateDeliveries;
  }
  if (run.replayedAs === undefined) conditions.push('attribute_not_exists(#replayedAs)');
  else {
    conditions.push('size(#replayedAs) = :replayed');
    values[':replayed'] = run.replayedAs.length;
  }
  if (delegatedTaskId !== undefined) {
    conditions.push('#status = :running', '#delegation.#taskId = :taskId');
    Object.assign(names, { '#status': 'status', '#delegation': 'delegation', '#taskId': 'taskId' });
    Object.assign(values, { ':running': RUN_STATUS.Running, ':taskId': delegatedTaskId });
  }
  return {
    ConditionExpression: conditions.join(' AND '),
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
