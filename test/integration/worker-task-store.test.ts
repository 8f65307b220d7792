import { randomUUID } from 'node:crypto';
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbActionExecutor } from '#adapters/dynamodb/action-executor.js';
import { DynamoDbLifecycleStore } from '#adapters/dynamodb/lifecycle-store.js';
import { DynamoDbWorkerTaskStore } from '#adapters/dynamodb/worker-task-store.js';
import { keys } from '#contracts/tables.js';
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

  async function statusPartition(status: string): Promise<string[]> {
    const page = await env.documentClient.send(
      new QueryCommand({
        TableName: env.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': `WTASKS#${WORKER_ENV_NAME}#${status}` },
        ConsistentRead: true,
      }),
    );
    return (page.Items ?? []).map((item) => String(item.taskId));
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

  it('stores a non-final result once per key and leaves the task as it is', async () => {
    const task = await anExecutingTask();
    const logs = aLogsEnvelope(task);
    expect(await tasks.recordResult(logs, LATER)).toMatchObject({ outcome: 'recorded', reconciled: false });
    expect(await tasks.recordResult({ ...logs, id: randomUUID() }, LATER)).toEqual({ outcome: 'duplicate' });
    expect(await tasks.listResultKeys(task.taskId)).toEqual([`${task.taskId}#1#logs`]);
    expect((await tasks.get(task.taskId))?.status).toBe('executing');
  });

  it('reconciles an execution_result into the task, its status entry, the action history and the run — once', async () => {
    const { run } = await aDelegatedRun(lifecycle);
    const task = await anExecutingTask({ commandId: run.commandId, input: { kind: 'collect_facts' } });
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
    expect(view?.run.stages.map((s) => [s.name, s.outcomeCode])).toEqual([
      ['execute', 'action_delegated'],
      ['worker_result', 'worker_task_succeeded'],
    ]);
    expect(view?.run.result).toMatchObject({ taskId: task.taskId, taskStatus: 'succeeded' });
  });

  it('fails the run closed on a failed task: NeedsReview with worker_task_failed, in the review queue', async () => {
    const { run } = await aDelegatedRun(lifecycle);
    const task = await anExecutingTask({ commandId: run.commandId });
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
    const queue = await lifecycle.listReviewQueue({ limit: 100 });
    expect(queue.runs.map((r) => r.runId)).toContain(run.commandId);
    expect(await tasks.countByStatus('failed')).toBeGreaterThanOrEqual(1);
    expect((await tasks.listByStatus('failed')).map((t) => t.taskId)).toContain(task.taskId);
  });

  it('reconciles exactly once when the same result arrives twice at the same moment', async () => {
    const { run } = await aDelegatedRun(lifecycle);
    const task = await anExecutingTask({ commandId: run.commandId });
    const result = anExecutionResult(task);
    const outcomes = await Promise.all([
      tasks.recordResult(result, LATER),
      tasks.recordResult(result, LATER),
    ]);
    expect(outcomes.map((o) => o.outcome).sort()).toEqual(['duplicate', 'recorded']);
    const view = await lifecycle.getRun(run.commandId);
    expect(view?.run.stages.filter((s) => s.name === 'worker_result')).toHaveLength(1);
    expect(await actions.history(task.message.householdId)).toHaveLength(1);
  });

  it('stores nothing while the run is still being executed (run_in_progress), and reconciles the resend after', async () => {
    const { run, finish } = await aDelegatedRun(lifecycle, { finished: false });
    const task = await anExecutingTask({ commandId: run.commandId });
    const result = anExecutionResult(task);
    expect(await tasks.recordResult(result, LATER)).toEqual({ outcome: 'run_in_progress' });
    expect(await tasks.listResultKeys(task.taskId)).toEqual([]);
    expect((await tasks.get(task.taskId))?.status).toBe('executing');

    await finish();
    expect(await tasks.recordResult(result, LATER)).toMatchObject({ outcome: 'recorded', reconciled: true });
    const view = await lifecycle.getRun(run.commandId);
    expect(view?.run.stages.map((s) => s.name)).toEqual(['execute', 'worker_result']);
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
});
