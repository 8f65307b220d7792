import { randomUUID } from 'node:crypto';
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbActionExecutor } from '#adapters/dynamodb/action-executor.js';
import { DynamoDbDelegationDeadlines } from '#adapters/dynamodb/delegation-deadlines.js';
import { DynamoDbLifecycleStore } from '#adapters/dynamodb/lifecycle-store.js';
import { DynamoDbOpenRuns } from '#adapters/dynamodb/open-runs.js';
import { DynamoDbWorkerTaskStore } from '#adapters/dynamodb/worker-task-store.js';
import { FLEET_SHARDS, keys, shardOf } from '#contracts/tables.js';
import type { WorkerResultEnvelope } from '#contracts/worker-contract.js';
import { createTestEnvironment, type TestEnvironment } from '../support/test-environment.js';
import {
  aLogsEnvelope,
  anExecutionResult,
  aTaskMessage,
  WORKER_ENV_NAME,
} from '../support/worker-fixtures.js';
import { aDelegatedRun } from '../support/worker-integration.js';

/**
 * `DynamoDbWorkerTaskStore` on DynamoDB Local in the real lifecycle table layout: the queued
 * record and its status entry, the conditional claim, results stored once per idempotency key
 * and the `execution_result` reconciled into the task, the action history and the run in one
 * transaction.
 */
describe('DynamoDbWorkerTaskStore on DynamoDB Local', () => {
  let env: TestEnvironment<string>;
  let tasks: DynamoDbWorkerTaskStore;
  let lifecycle: DynamoDbLifecycleStore;
  let actions: DynamoDbActionExecutor;
  const NOW = new Date('2026-01-01T00:00:01.000Z');
  const LATER = new Date('2026-01-01T00:00:06.000Z');

  beforeAll(async () => {
    env = await createTestEnvironment({ lanes: [] });
    const table = { client: env.documentClient, tableName: env.tableName ?? '' };
    tasks = new DynamoDbWorkerTaskStore({ ...table, environment: WORKER_ENV_NAME });
    lifecycle = new DynamoDbLifecycleStore(table);
    actions = new DynamoDbActionExecutor(table);
  });
  afterAll(() => env?.cleanup());

  async function aQueuedTask(overrides: Parameters<typeof aTaskMessage>[0] = {}) {
    return tasks.createQueued(
      aTaskMessage({ householdId: `hh-${randomUUID().slice(0, 8)}`, ...overrides }),
      NOW,
    );
  }

  async function anExecutingTask(overrides: Parameters<typeof aTaskMessage>[0] = {}) {
    const task = await aQueuedTask(overrides);
    const claim = await tasks.claim({ taskId: task.taskId, workerId: 'worker-1', site: task.site, now: NOW });
    if (claim.outcome !== 'claimed') throw new Error(`claim: ${claim.outcome}`);
    return claim.task;
  }

  /**
   * A task of `collect_facts`, claimed by worker-1 (unless `claimed: false`), whose command's run
   * waits on it: Running, delegated until `deadlineAt` (kept on the task too).
   */
  async function aWaitingTask(
    options: { readonly deadlineAt?: string; readonly claimed?: boolean; readonly finished?: boolean } = {},
  ) {
    const message = aTaskMessage({
      householdId: `hh-${randomUUID().slice(0, 8)}`,
      input: { kind: 'collect_facts' },
    });
    const deadlineAt = options.deadlineAt ?? '2026-01-01T01:00:00.000Z';
    const { run, finish } = await aDelegatedRun(lifecycle, {
      commandId: message.commandId,
      taskId: message.taskId,
      deadlineAt,
      ...(options.finished === false ? { finished: false } : {}),
    });
    const queued = await tasks.createQueued(message, NOW, { deadlineAt });
    if (options.claimed === false) return { run, task: queued, finish };
    const claim = await tasks.claim({ taskId: message.taskId, workerId: 'worker-1', site: 'lab', now: NOW });
    if (claim.outcome !== 'claimed') throw new Error(`claim: ${claim.outcome}`);
    return { run, task: claim.task, finish };
  }

  /** The task ids of the status entries of `status`: its shards `#0`…`#7` and its unsharded partition. */
  async function statusPartition(status: string, environment = WORKER_ENV_NAME): Promise<string[]> {
    const base = `WTASKS#${environment}#${status}`;
    const partitions = [...Array.from({ length: FLEET_SHARDS }, (_, shard) => `${base}#${shard}`), base];
    return (await Promise.all(partitions.map(entriesOf))).flat().map((item) => String(item.taskId));
  }

  /** The items of one partition, as stored. */
  async function entriesOf(pk: string): Promise<Record<string, unknown>[]> {
    const page = await env.documentClient.send(
      new QueryCommand({
        TableName: env.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': pk },
        ConsistentRead: true,
      }),
    );
    return page.Items ?? [];
  }

  it('writes the queued record and its status entry once per task id', async () => {
    const message = aTaskMessage({ queuedAt: '2026-01-01T01:00:00+01:00' });
    const created = await tasks.createQueued(message, NOW);
    expect(created).toEqual({
      taskId: message.taskId,
      attempt: 1,
      site: 'lab',
      status: 'queued',
      message,
      queuedAt: '2026-01-01T00:00:00.000Z',
    });
    const item = (
      await env.documentClient.send(
        new GetCommand({ TableName: env.tableName, Key: keys.workerTask(message.taskId) }),
      )
    ).Item;
    expect(item).toMatchObject({
      pk: `WTASK#${message.taskId}`,
      sk: 'WTASK',
      entity: 'WorkerTask',
      status: 'queued',
    });
    expect(item?.expiresAt).toBe(Math.floor(NOW.getTime() / 1000) + 30 * 86_400);
    expect(await statusPartition('queued')).toContain(message.taskId);

    const again = await tasks.createQueued({ ...message, queuedAt: '2026-02-02T00:00:00.000Z' }, LATER);
    expect(again).toEqual(created);
    expect(await tasks.get(message.taskId)).toEqual(created);
  });

  it('claims queued → executing for one worker; a second claimer learns who has it', async () => {
    const task = await aQueuedTask();
    const claim = await tasks.claim({
      taskId: task.taskId,
      workerId: 'worker-1',
      site: 'lab',
      now: NOW,
      attempt: 1,
    });
    expect(claim).toEqual({
      outcome: 'claimed',
      task: { ...task, status: 'executing', claimedBy: 'worker-1', claimedAt: NOW.toISOString() },
    });
    expect(await tasks.claim({ taskId: task.taskId, workerId: 'worker-2', site: 'lab', now: LATER })).toEqual(
      {
        outcome: 'already_claimed',
        claimedBy: 'worker-1',
        status: 'executing',
      },
    );
    expect(await tasks.get(task.taskId)).toMatchObject({ status: 'executing', claimedBy: 'worker-1' });
    expect(await statusPartition('queued')).not.toContain(task.taskId);
    expect(await statusPartition('executing')).toContain(task.taskId);
  });

  it('lets exactly one of many parallel claimers win', async () => {
    const task = await aQueuedTask();
    const claims = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        tasks.claim({ taskId: task.taskId, workerId: `worker-${i}`, site: 'lab', now: NOW }),
      ),
    );
    const winners = claims.filter((c) => c.outcome === 'claimed');
    expect(winners).toHaveLength(1);
    const winner = winners[0]?.outcome === 'claimed' ? winners[0].task.claimedBy : undefined;
    for (const loser of claims.filter((c) => c.outcome !== 'claimed')) {
      expect(loser).toEqual({ outcome: 'already_claimed', claimedBy: winner, status: 'executing' });
    }
    expect((await tasks.get(task.taskId))?.claimedBy).toBe(winner);
    expect((await statusPartition('executing')).filter((id) => id === task.taskId)).toHaveLength(1);
  });

  it('refuses a claim from another site, by another worker than the named one, of another attempt, or of no task', async () => {
    const task = await aQueuedTask({ workerId: 'worker-7' });
    const claim = (input: Partial<Parameters<typeof tasks.claim>[0]>) =>
      tasks.claim({ taskId: task.taskId, workerId: 'worker-7', site: 'lab', now: NOW, ...input });
    expect(await claim({ site: 'edge' })).toEqual({ outcome: 'wrong_site', site: 'lab' });
    expect(await claim({ workerId: 'worker-1' })).toEqual({ outcome: 'wrong_worker', workerId: 'worker-7' });
    expect(await claim({ attempt: 2 })).toEqual({ outcome: 'stale_attempt', attempt: 1 });
    expect(await claim({ taskId: randomUUID() })).toEqual({ outcome: 'not_found' });
    expect((await tasks.get(task.taskId))?.status).toBe('queued');
    expect(await claim({})).toMatchObject({ outcome: 'claimed' });
  });

  it('lets the claimant claim its executing task again (reclaimed, nothing written); nobody else, and not once finished', async () => {
    const task = await anExecutingTask();
    const again = await tasks.claim({
      taskId: task.taskId,
      workerId: 'worker-1',
      site: 'lab',
      now: LATER,
      attempt: 1,
    });
    // The first claim stands: same claim time, still executing, one status entry.
    expect(again).toEqual({ outcome: 'claimed', task, reclaimed: true });
    expect(await tasks.get(task.taskId)).toEqual(task);
    expect((await statusPartition('executing')).filter((id) => id === task.taskId)).toHaveLength(1);
    expect(await tasks.claim({ taskId: task.taskId, workerId: 'worker-2', site: 'lab', now: LATER })).toEqual(
      {
        outcome: 'already_claimed',
        claimedBy: 'worker-1',
        status: 'executing',
      },
    );
    expect(
      await tasks.claim({ taskId: task.taskId, workerId: 'worker-1', site: 'lab', now: LATER, attempt: 2 }),
    ).toEqual({ outcome: 'stale_attempt', attempt: 1 });
    await tasks.recordResult(anExecutionResult(task), LATER);
    expect(await tasks.claim({ taskId: task.taskId, workerId: 'worker-1', site: 'lab', now: LATER })).toEqual(
      {
        outcome: 'already_claimed',
        claimedBy: 'worker-1',
        status: 'succeeded',
      },
    );
  });

  it('stores a non-final result once per key and leaves the task as it is', async () => {
    const task = await anExecutingTask();
    const logs = aLogsEnvelope(task);
    expect(await tasks.recordResult(logs, LATER)).toMatchObject({ outcome: 'recorded', reconciled: false });
    expect(await tasks.recordResult({ ...logs, id: randomUUID() }, LATER)).toEqual({ outcome: 'duplicate' });
    expect(await tasks.listResultKeys(task.taskId)).toEqual([`${task.taskId}#1#logs`]);
    expect((await tasks.get(task.taskId))?.status).toBe('executing');
  });

  it('reconciles an execution_result into the task, its status entry, the action history and the waiting run — once', async () => {
    const { run, task } = await aWaitingTask();
    expect(run).toMatchObject({ status: 'Running', delegation: { taskId: task.taskId } });
    const result = anExecutionResult(task);

    const recorded = await tasks.recordResult(result, LATER);
    expect(recorded).toMatchObject({
      outcome: 'recorded',
      reconciled: true,
      task: {
        status: 'succeeded',
        finishedAt: LATER.toISOString(),
        resultKey: `${task.taskId}#1#execution_result`,
      },
    });
    expect(await tasks.recordResult(result, new Date(LATER.getTime() + 1000))).toEqual({
      outcome: 'duplicate',
    });

    expect(await tasks.get(task.taskId)).toMatchObject({
      status: 'succeeded',
      finishedAt: LATER.toISOString(),
    });
    expect(await statusPartition('executing')).not.toContain(task.taskId);
    expect(await statusPartition('succeeded')).toContain(task.taskId);
    const history = await actions.history(task.message.householdId);
    expect(history).toEqual([
      {
        idempotencyKey: `${run.commandId}:${task.message.approvalId}`,
        approvalId: task.message.approvalId,
        commandId: run.commandId,
        action: 'collect_facts',
        executedAt: LATER.toISOString(),
        worker: expect.objectContaining({ taskId: task.taskId, workerId: 'worker-1', status: 'succeeded' }),
      },
    ]);
    const view = await lifecycle.getRun(run.commandId);
    expect(view?.run.status).toBe('Completed');
    expect(view?.run.delegation).toBeUndefined();
    expect(view?.run.stages.map((s) => [s.name, s.outcomeCode])).toEqual([
      ['execute', 'action_delegated'],
      ['delegated', 'worker_task_succeeded'],
    ]);
    expect(view?.run.result).toMatchObject({ taskId: task.taskId, taskStatus: 'succeeded' });
  });

  it('appends a worker_result stage to a run delegated before runs waited for their result (Completed)', async () => {
    const { run } = await aDelegatedRun(lifecycle);
    const task = await anExecutingTask({ commandId: run.commandId });
    expect(await tasks.recordResult(anExecutionResult(task), LATER)).toMatchObject({ reconciled: true });
    const view = await lifecycle.getRun(run.commandId);
    expect(view?.run.status).toBe('Completed');
    expect(view?.run.stages.map((s) => [s.name, s.outcomeCode])).toEqual([
      ['execute', 'action_delegated'],
      ['worker_result', 'worker_task_succeeded'],
    ]);
  });

  it('fails the run closed on a failed task: NeedsReview with worker_task_failed, in the review queue', async () => {
    const { run, task } = await aWaitingTask();
    const failed = anExecutionResult(task, {
      payload: { status: 'failed', errorCode: 'timeout', error: 'hung' },
    });
    expect(await tasks.recordResult(failed, LATER)).toMatchObject({
      outcome: 'recorded',
      task: { status: 'failed', errorCode: 'timeout' },
    });
    const view = await lifecycle.getRun(run.commandId);
    expect(view?.run).toMatchObject({ status: 'NeedsReview', needsReviewSince: LATER.toISOString() });
    expect(view?.signals).toEqual([
      expect.objectContaining({ type: 'worker_task_failed', RequiresHumanReview: true, code: 'timeout' }),
    ]);
    expect(view?.run.delegation).toBeUndefined();
    expect(view?.run.stages.at(-1)).toMatchObject({ name: 'delegated', outcomeCode: 'worker_task_failed' });
    const queue = await lifecycle.listReviewQueue({ limit: 100 });
    expect(queue.runs.map((r) => r.runId)).toContain(run.commandId);
    expect(await tasks.countByStatus('failed')).toBeGreaterThanOrEqual(1);
    expect((await tasks.listByStatus('failed')).map((t) => t.taskId)).toContain(task.taskId);
  });

  it('reconciles exactly once when the same result arrives twice at the same moment', async () => {
    const { run, task } = await aWaitingTask();
    const result = anExecutionResult(task);
    const outcomes = await Promise.all([
      tasks.recordResult(result, LATER),
      tasks.recordResult(result, LATER),
    ]);
    expect(outcomes.map((o) => o.outcome).sort()).toEqual(['duplicate', 'recorded']);
    const view = await lifecycle.getRun(run.commandId);
    expect(view?.run.status).toBe('Completed');
    expect(view?.run.stages.map((s) => s.name)).toEqual(['execute', 'delegated']);
    expect(await actions.history(task.message.householdId)).toHaveLength(1);
  });

  it('stores nothing while the run is still being executed (run_in_progress), and reconciles the resend after', async () => {
    const { run, task, finish } = await aWaitingTask({ finished: false });
    const result = anExecutionResult(task);
    expect(await tasks.recordResult(result, LATER)).toEqual({ outcome: 'run_in_progress' });
    expect(await tasks.listResultKeys(task.taskId)).toEqual([]);
    expect((await tasks.get(task.taskId))?.status).toBe('executing');

    await finish();
    expect(await tasks.recordResult(result, LATER)).toMatchObject({ outcome: 'recorded', reconciled: true });
    const view = await lifecycle.getRun(run.commandId);
    expect(view?.run.status).toBe('Completed');
    expect(view?.run.stages.map((s) => s.name)).toEqual(['execute', 'delegated']);
  });

  it('keeps, without reconciling, a result the task does not accept: its key is what the stuck check finds', async () => {
    const task = await anExecutingTask();
    const fromAnother = anExecutionResult(task, { worker_id: 'worker-9' });
    expect(await tasks.recordResult(fromAnother, LATER)).toMatchObject({
      outcome: 'recorded',
      reconciled: false,
      task: { status: 'executing' },
    });
    expect(await tasks.listResultKeys(task.taskId)).toEqual([`${task.taskId}#1#execution_result`]);
    expect(await actions.history(task.message.householdId)).toEqual([]);
  });

  it('reconciles a task whose run is gone (expired) into the task and history only', async () => {
    const task = await anExecutingTask();
    expect(await tasks.recordResult(anExecutionResult(task), LATER)).toMatchObject({ reconciled: true });
    expect(await lifecycle.getRun(task.message.commandId)).toBeUndefined();
    expect(await actions.history(task.message.householdId)).toHaveLength(1);
  });

  it('answers unknown_task for a result of no task and stores a task-less health envelope once', async () => {
    expect(await tasks.recordResult(anExecutionResult({ taskId: randomUUID() }), LATER)).toEqual({
      outcome: 'unknown_task',
    });
    const health: WorkerResultEnvelope = {
      schemaVersion: 1,
      id: randomUUID(),
      environment: WORKER_ENV_NAME,
      worker_id: 'worker-1',
      site: 'lab',
      ts: LATER.toISOString(),
      payload_type: 'health',
      payload: { ok: true },
    };
    expect(await tasks.recordResult(health, LATER)).toEqual({ outcome: 'recorded', reconciled: false });
    expect(await tasks.recordResult(health, LATER)).toEqual({ outcome: 'duplicate' });
    const item = await env.documentClient.send(
      new GetCommand({ TableName: env.tableName, Key: keys.workerResult(`health#${health.id}`, undefined) }),
    );
    expect(item.Item).toMatchObject({ entity: 'WorkerResult', payloadType: 'health', envelope: health });
  });

  it('lists a status newest first up to a limit and counts it', async () => {
    const store = new DynamoDbWorkerTaskStore({
      client: env.documentClient,
      tableName: env.tableName ?? '',
      environment: `list-${randomUUID().slice(0, 6)}`,
    });
    const queuedAts = ['2026-01-01T00:00:01.000Z', '2026-01-01T00:00:03.000Z', '2026-01-01T00:00:02.000Z'];
    const created = [];
    for (const queuedAt of queuedAts) created.push(await store.createQueued(aTaskMessage({ queuedAt }), NOW));
    expect((await store.listByStatus('queued')).map((t) => t.queuedAt)).toEqual([
      '2026-01-01T00:00:03.000Z',
      '2026-01-01T00:00:02.000Z',
      '2026-01-01T00:00:01.000Z',
    ]);
    expect(await store.listByStatus('queued', 2)).toHaveLength(2);
    expect(await store.countByStatus('queued')).toBe(3);
    expect(await store.countByStatus('executing')).toBe(0);
  });
  describe('result deadlines', () => {
    const DUE = '2026-01-01T00:10:00.000Z';
    const AFTER_DUE = new Date('2026-01-01T00:10:00.000Z');

    it('keeps the run’s deadline on the task', async () => {
      const { run, task } = await aWaitingTask({ deadlineAt: DUE });
      expect(run.delegation?.deadlineAt).toBe(DUE);
      expect(task.deadlineAt).toBe(DUE);
      expect((await tasks.get(task.taskId))?.deadlineAt).toBe(DUE);
    });

    it('lists the tasks of the delegated runs past their deadline from the openRuns index, oldest deadline first; expires them', async () => {
      const deadlines = new DynamoDbDelegationDeadlines({
        openRuns: new DynamoDbOpenRuns({ client: env.documentClient, tableName: env.tableName ?? '' }),
        tasks,
      });
      const early = await aWaitingTask({ deadlineAt: '2026-01-01T00:02:00.000Z' });
      const late = await aWaitingTask({ deadlineAt: '2026-01-01T00:04:00.000Z', claimed: false });
      // Answered in time: its run left the index.
      const answered = await aWaitingTask({ deadlineAt: '2026-01-01T00:01:00.000Z' });
      await tasks.recordResult(anExecutionResult(answered.task), LATER);
      const notYet = await aWaitingTask({ deadlineAt: '2026-01-01T00:08:00.000Z' });
      // A task whose run never waited on it (delegated before runs waited): not a delegated run.
      const { run: legacy } = await aDelegatedRun(lifecycle);
      await tasks.createQueued(aTaskMessage({ commandId: legacy.commandId }), NOW, {
        deadlineAt: '2026-01-01T00:01:00.000Z',
      });

      const at = new Date('2026-01-01T00:05:00.000Z');
      const overdue = await deadlines.listOverdue(at, 10);
      expect(overdue.map((t) => [t.taskId, t.status])).toEqual([
        [early.task.taskId, 'executing'],
        [late.task.taskId, 'queued'],
      ]);
      // At most the limit (which of them first follows the index's shards).
      const one = await deadlines.listOverdue(at, 1);
      expect(one).toHaveLength(1);
      expect([early.task.taskId, late.task.taskId]).toContain(one[0]?.taskId);
      expect(await deadlines.listOverdue(new Date('2026-01-01T00:01:59.999Z'), 10)).toEqual([]);

      for (const task of overdue) {
        expect(await deadlines.expireOverdue(task, at)).toMatchObject({ outcome: 'expired' });
      }
      expect(await deadlines.listOverdue(at, 10)).toEqual([]);
      expect((await lifecycle.getRun(notYet.run.commandId))?.run.status).toBe('Running');
      expect((await lifecycle.getRun(early.run.commandId))?.run.status).toBe('NeedsReview');
    });

    it('expires a due delegation: run NeedsReview with worker_result_missing, task failed; a late result is still reconciled', async () => {
      const { run, task } = await aWaitingTask({ deadlineAt: DUE });
      expect(await tasks.expireOverdue(task, new Date('2026-01-01T00:09:59.000Z'))).toEqual({
        outcome: 'skipped',
        reason: 'not_due',
      });
      expect(await tasks.expireOverdue(task, AFTER_DUE)).toEqual({
        outcome: 'expired',
        commandId: run.commandId,
      });

      const view = await lifecycle.getRun(run.commandId);
      expect(view?.run).toMatchObject({
        status: 'NeedsReview',
        keyStatus: 'Completed',
        needsReviewSince: AFTER_DUE.toISOString(),
      });
      expect(view?.run.delegation).toBeUndefined();
      expect(view?.run.stages.map((s) => [s.name, s.outcomeCode])).toEqual([
        ['execute', 'action_delegated'],
        ['delegated', 'worker_result_missing'],
      ]);
      expect(view?.signals).toEqual([
        expect.objectContaining({
          type: 'worker_result_missing',
          RequiresHumanReview: true,
          code: 'worker_result_missing',
        }),
      ]);
      expect((await lifecycle.listReviewQueue({ limit: 1000 })).runs.map((r) => r.runId)).toContain(
        run.commandId,
      );
      expect(await tasks.get(task.taskId)).toMatchObject({
        status: 'failed',
        errorCode: 'worker_result_missing',
        finishedAt: AFTER_DUE.toISOString(),
      });
      expect(await statusPartition('executing')).not.toContain(task.taskId);
      expect(await statusPartition('failed')).toContain(task.taskId);
      // A second sweep finds nothing to do.
      expect(await tasks.expireOverdue(task, AFTER_DUE)).toEqual({ outcome: 'skipped', reason: 'changed' });

      // The claimant's result arrives after all: task, history and a worker_result stage; still NeedsReview.
      const late = new Date('2026-01-01T00:11:00.000Z');
      expect(await tasks.recordResult(anExecutionResult(task), late)).toMatchObject({
        outcome: 'recorded',
        reconciled: true,
        task: { status: 'succeeded' },
      });
      expect(await actions.history(task.message.householdId)).toHaveLength(1);
      const after = await lifecycle.getRun(run.commandId);
      expect(after?.run.status).toBe('NeedsReview');
      expect(after?.run.stages.at(-1)).toMatchObject({
        name: 'worker_result',
        outcomeCode: 'worker_task_succeeded',
        rationale: expect.stringContaining('after its deadline'),
      });
      // Another worker's result for it is only stored.
      expect(
        await tasks.recordResult(anExecutionResult(task, { worker_id: 'worker-9', id: randomUUID() }), late),
      ).toMatchObject({ outcome: 'duplicate' });
    });

    it('closes a task that was never claimed; the late claim then loses', async () => {
      const { run, task } = await aWaitingTask({ deadlineAt: DUE, claimed: false });
      expect(await tasks.expireOverdue(task, AFTER_DUE)).toEqual({
        outcome: 'expired',
        commandId: run.commandId,
      });
      expect(
        await tasks.claim({ taskId: task.taskId, workerId: 'worker-1', site: 'lab', now: AFTER_DUE }),
      ).toEqual({
        outcome: 'already_claimed',
        claimedBy: undefined,
        status: 'failed',
      });
      expect(await statusPartition('queued')).not.toContain(task.taskId);
    });

    it('leaves a run its lane worker still holds, and writes nothing when the result won the race', async () => {
      const reserved = await aWaitingTask({ deadlineAt: DUE, finished: false });
      expect(await tasks.expireOverdue(reserved.task, AFTER_DUE)).toEqual({
        outcome: 'skipped',
        reason: 'run_in_progress',
      });
      await reserved.finish();
      expect(await tasks.expireOverdue(reserved.task, AFTER_DUE)).toMatchObject({ outcome: 'expired' });

      // Listed as overdue, then its result lands first: the expiry re-reads and stops.
      const raced = await aWaitingTask({ deadlineAt: DUE });
      const listed = await tasks.get(raced.task.taskId);
      if (!listed) throw new Error('no task');
      await tasks.recordResult(anExecutionResult(raced.task), LATER);
      expect(await tasks.expireOverdue(listed, AFTER_DUE)).toEqual({ outcome: 'skipped', reason: 'changed' });
      expect((await lifecycle.getRun(raced.run.commandId))?.run.status).toBe('Completed');
    });

    it('closes only the task when its run no longer waits on it (delegated before runs waited), and respects the run’s own deadline', async () => {
      const { run } = await aDelegatedRun(lifecycle);
      const legacy = await tasks.createQueued(aTaskMessage({ commandId: run.commandId }), NOW, {
        deadlineAt: DUE,
      });
      expect(await tasks.expireOverdue(legacy, AFTER_DUE)).toEqual({
        outcome: 'task_closed',
        commandId: run.commandId,
      });
      expect((await lifecycle.getRun(run.commandId))?.run).toMatchObject({ status: 'Completed' });
      expect((await tasks.get(legacy.taskId))?.status).toBe('failed');

      // The run waits longer than the task says (a deadline changed in between): not yet.
      const message = aTaskMessage();
      await aDelegatedRun(lifecycle, {
        commandId: message.commandId,
        taskId: message.taskId,
        deadlineAt: '2026-01-01T02:00:00.000Z',
      });
      const early = await tasks.createQueued(message, NOW, { deadlineAt: DUE });
      expect(await tasks.expireOverdue(early, AFTER_DUE)).toEqual({ outcome: 'skipped', reason: 'not_due' });
      expect((await tasks.get(early.taskId))?.status).toBe('queued');
    });
  });

  describe('status entries sharded over FLEET_SHARDS', () => {
    /** A store of an environment of its own, so its status partitions hold only this test's tasks. */
    function aStore(environment = `shard-${randomUUID().slice(0, 6)}`) {
      return new DynamoDbWorkerTaskStore({
        client: env.documentClient,
        tableName: env.tableName ?? '',
        environment,
      });
    }

    /**
     * Task ids fixed (`series` tells apart the tests: task records are not per environment), so
     * the shards they land on are fixed too; queued one second apart.
     */
    function fixedMessages(environment: string, series: number, count: number) {
      return Array.from({ length: count }, (_, i) =>
        aTaskMessage({
          environment,
          taskId: `00000000-0000-4000-800${series}-${String(i).padStart(12, '0')}`,
          queuedAt: new Date(Date.parse('2026-01-01T00:00:00.000Z') + i * 1000).toISOString(),
        }),
      );
    }

    /**
     * Turns a task written by this code into one written before the sharding: its status entry
     * moved to the unsharded partition, and no `statusShard` on its record.
     */
    async function unshard(environment: string, task: { taskId: string; status: string; queuedAt: string }) {
      const sharded = keys.workerTaskStatus(environment, task.status, task.queuedAt, task.taskId);
      const stored = await env.documentClient.send(
        new GetCommand({ TableName: env.tableName, Key: sharded, ConsistentRead: true }),
      );
      if (!stored.Item) throw new Error(`no status entry for ${task.taskId}`);
      await env.documentClient.send(new DeleteCommand({ TableName: env.tableName, Key: sharded }));
      await env.documentClient.send(
        new PutCommand({
          TableName: env.tableName,
          Item: { ...stored.Item, pk: `WTASKS#${environment}#${task.status}` },
        }),
      );
      await env.documentClient.send(
        new UpdateCommand({
          TableName: env.tableName,
          Key: keys.workerTask(task.taskId),
          UpdateExpression: 'REMOVE statusShard',
        }),
      );
    }

    it('spreads the status entries of 64 tasks over the shards of their task ids; lists and counts each task once, newest first', async () => {
      const environment = `shard-${randomUUID().slice(0, 6)}`;
      const store = aStore(environment);
      const messages = fixedMessages(environment, 0, 64);
      for (const message of messages) await store.createQueued(message, NOW);

      const perShard = await Promise.all(
        Array.from({ length: FLEET_SHARDS }, (_, n) => entriesOf(`WTASKS#${environment}#queued#${n}`)),
      );
      expect(perShard.filter((items) => items.length > 0).length).toBeGreaterThan(1);
      expect(perShard.flat()).toHaveLength(64);
      for (const [n, items] of perShard.entries()) {
        for (const item of items) expect(shardOf(String(item.taskId), FLEET_SHARDS)).toBe(n);
      }
      expect(await entriesOf(`WTASKS#${environment}#queued`)).toEqual([]);
      const record = await env.documentClient.send(
        new GetCommand({ TableName: env.tableName, Key: keys.workerTask(messages[0]?.taskId ?? '') }),
      );
      expect(record.Item?.statusShard).toBe(shardOf(messages[0]?.taskId ?? '', FLEET_SHARDS));

      const newestFirst = messages.map((m) => m.taskId).reverse();
      expect((await store.listByStatus('queued', 100)).map((t) => t.taskId)).toEqual(newestFirst);
      // The newest five lie in several shards: the merge takes them across shards, in order.
      expect((await store.listByStatus('queued', 5)).map((t) => t.taskId)).toEqual(newestFirst.slice(0, 5));
      expect(await store.countByStatus('queued')).toBe(64);

      for (const message of messages.slice(0, 10)) {
        await store.claim({ taskId: message.taskId, workerId: 'worker-1', site: 'lab', now: LATER });
      }
      expect(await store.countByStatus('queued')).toBe(54);
      expect(await store.countByStatus('executing')).toBe(10);
      expect((await store.listByStatus('executing')).map((t) => t.taskId)).toEqual(
        messages
          .slice(0, 10)
          .map((m) => m.taskId)
          .reverse(),
      );
      expect(await statusPartition('queued', environment)).toHaveLength(54);
    });

    it('reads the status entries written before the sharding, and moves each to its shard on its next transition', async () => {
      const environment = `shard-${randomUUID().slice(0, 6)}`;
      const [old, recent, another] = fixedMessages(environment, 1, 3);
      if (!old || !recent || !another) throw new Error('three messages');
      const writer = aStore(environment);
      for (const message of [old, recent, another]) await writer.createQueued(message, NOW);
      for (const message of [old, another]) {
        await unshard(environment, { taskId: message.taskId, status: 'queued', queuedAt: message.queuedAt });
      }
      // A store started after the sharding, reading what the one before left.
      const store = aStore(environment);

      expect((await store.listByStatus('queued')).map((t) => t.taskId)).toEqual([
        another.taskId,
        recent.taskId,
        old.taskId,
      ]);
      expect(await store.countByStatus('queued')).toBe(3);

      // Claimed: the old entry leaves the unsharded partition, the new one is in the task's shard.
      expect(
        await store.claim({ taskId: old.taskId, workerId: 'worker-1', site: 'lab', now: LATER }),
      ).toMatchObject({ outcome: 'claimed' });
      expect((await entriesOf(`WTASKS#${environment}#queued`)).map((item) => item.taskId)).toEqual([
        another.taskId,
      ]);
      const shard = shardOf(old.taskId, FLEET_SHARDS);
      expect(
        (await entriesOf(`WTASKS#${environment}#executing#${shard}`)).map((item) => item.taskId),
      ).toEqual([old.taskId]);
      expect(await store.countByStatus('queued')).toBe(2);
      expect((await store.listByStatus('executing')).map((t) => t.taskId)).toEqual([old.taskId]);

      // Its result moves it again, from its shard now.
      const claimed = await store.get(old.taskId);
      if (!claimed) throw new Error('no task');
      expect(await store.recordResult(anExecutionResult(claimed), LATER)).toMatchObject({ reconciled: true });
      expect(await statusPartition('executing', environment)).toEqual([]);
      expect(await statusPartition('succeeded', environment)).toEqual([old.taskId]);

      // A status entry listed in both places (written by a release before the sharding during the
      // rollout) is one task.
      const entry = await env.documentClient.send(
        new GetCommand({
          TableName: env.tableName,
          Key: keys.workerTaskStatus(environment, 'queued', recent.queuedAt, recent.taskId),
        }),
      );
      await env.documentClient.send(
        new PutCommand({
          TableName: env.tableName,
          Item: { ...entry.Item, pk: `WTASKS#${environment}#queued` },
        }),
      );
      expect((await store.listByStatus('queued')).map((t) => t.taskId)).toEqual([
        another.taskId,
        recent.taskId,
      ]);
    });

    it('expires a task whose status entry was written before the sharding, from a record it did not read itself', async () => {
      const { run, task } = await aWaitingTask({ deadlineAt: '2026-01-01T00:10:00.000Z', claimed: false });
      await unshard(WORKER_ENV_NAME, task);
      // `task` came from another store instance (it wrote the entry in its shard): this one reads it again.
      const sweep = aStore(WORKER_ENV_NAME);
      expect(await sweep.expireOverdue(task, new Date('2026-01-01T00:10:00.000Z'))).toEqual({
        outcome: 'expired',
        commandId: run.commandId,
      });
      expect(await statusPartition('queued')).not.toContain(task.taskId);
      expect((await statusPartition('failed')).filter((id) => id === task.taskId)).toHaveLength(1);
      const shard = shardOf(task.taskId, FLEET_SHARDS);
      expect(
        (await entriesOf(`WTASKS#${WORKER_ENV_NAME}#failed#${shard}`)).map((item) => item.taskId),
      ).toContain(task.taskId);
    });
  });
});
