import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbLifecycleStore } from '#adapters/dynamodb/lifecycle-store.js';
import { DynamoDbWorkerRegistry } from '#adapters/dynamodb/worker-registry.js';
import { DynamoDbWorkerTaskStore } from '#adapters/dynamodb/worker-task-store.js';
import { ingestWorkerEvent, type WorkerIngestDependencies } from '#core/workers/ingest.js';
import { createTestEnvironment, type TestEnvironment } from '../support/test-environment.js';
import { aHeartbeat, anExecutionResult, aTaskMessage, WORKER_ENV_NAME } from '../support/worker-fixtures.js';
import { aDelegatedRun } from '../support/worker-integration.js';

/**
 * The bus ingest of worker events (`ingestWorkerEvent`) on the real stores and DynamoDB Local:
 * what the WorkerHeartbeat / WorkerResult rule's Lambda will do once wired.
 */
describe('ingestWorkerEvent on DynamoDB Local', () => {
  let env: TestEnvironment<string>;
  let deps: WorkerIngestDependencies & { tasks: DynamoDbWorkerTaskStore; registry: DynamoDbWorkerRegistry };
  let lifecycle: DynamoDbLifecycleStore;
  const NOW = new Date('2026-01-01T00:00:06.000Z');

  beforeAll(async () => {
    env = await createTestEnvironment({ lanes: [] });
    const table = {
      client: env.documentClient,
      tableName: env.tableName ?? '',
      environment: WORKER_ENV_NAME,
    };
    deps = {
      environment: WORKER_ENV_NAME,
      tasks: new DynamoDbWorkerTaskStore(table),
      registry: new DynamoDbWorkerRegistry(table),
      clock: { now: () => NOW },
    };
    lifecycle = new DynamoDbLifecycleStore(table);
  });
  afterAll(() => env?.cleanup());

  it('keeps the newest WorkerHeartbeat per worker in the registry', async () => {
    const newer = aHeartbeat({ ts: '2026-01-01T00:00:05.000Z', executing: 1 });
    await ingestWorkerEvent({ detailType: 'WorkerHeartbeat', detail: newer }, deps);
    await ingestWorkerEvent(
      { detailType: 'WorkerHeartbeat', detail: aHeartbeat({ ts: '2026-01-01T00:00:01.000Z', executing: 0 }) },
      deps,
    );
    expect(await deps.registry.list()).toMatchObject([
      { workerId: 'worker-1', lastSeen: newer.ts, executing: 1 },
    ]);
  });

  it('finishes the waiting run from a WorkerResult once; a replay from the spool is a duplicate', async () => {
    const message = aTaskMessage();
    const { run } = await aDelegatedRun(lifecycle, { commandId: message.commandId, taskId: message.taskId });
    expect(run.status).toBe('Running');
    const task = await deps.tasks.createQueued(message, NOW, { deadlineAt: run.delegation?.deadlineAt });
    await deps.tasks.claim({ taskId: task.taskId, workerId: 'worker-1', site: 'lab', now: NOW });
    const event = { detailType: 'WorkerResult', detail: anExecutionResult(task) };
    expect(await ingestWorkerEvent(event, deps)).toMatchObject({
      outcome: 'result_recorded',
      duplicate: false,
      reconciled: true,
    });
    expect(await ingestWorkerEvent(event, deps)).toMatchObject({
      outcome: 'result_recorded',
      duplicate: true,
    });
    const view = await lifecycle.getRun(run.commandId);
    expect(view?.run.status).toBe('Completed');
    expect(view?.run.delegation).toBeUndefined();
    expect(view?.run.stages.map((s) => [s.name, s.outcomeCode])).toEqual([
      ['execute', 'action_delegated'],
      ['delegated', 'worker_task_succeeded'],
    ]);
  });

  it('moves the waiting run to NeedsReview with worker_task_failed from a failed WorkerResult', async () => {
    const message = aTaskMessage();
    const { run } = await aDelegatedRun(lifecycle, { commandId: message.commandId, taskId: message.taskId });
    const task = await deps.tasks.createQueued(message, NOW);
    await deps.tasks.claim({ taskId: task.taskId, workerId: 'worker-1', site: 'lab', now: NOW });
    const failed = anExecutionResult(task, { payload: { status: 'failed', errorCode: 'plugin_failed' } });
    expect(await ingestWorkerEvent({ detailType: 'WorkerResult', detail: failed }, deps)).toMatchObject({
      reconciled: true,
    });
    const view = await lifecycle.getRun(run.commandId);
    expect(view?.run.status).toBe('NeedsReview');
    expect(view?.signals).toEqual([
      expect.objectContaining({
        type: 'worker_task_failed',
        RequiresHumanReview: true,
        code: 'plugin_failed',
      }),
    ]);
  });

  it('leaves the run waiting when the result is refused (another worker’s): only the deadline moves it then', async () => {
    const message = aTaskMessage();
    const { run } = await aDelegatedRun(lifecycle, { commandId: message.commandId, taskId: message.taskId });
    const task = await deps.tasks.createQueued(message, NOW);
    await deps.tasks.claim({ taskId: task.taskId, workerId: 'worker-1', site: 'lab', now: NOW });
    const foreign = anExecutionResult(task, { worker_id: 'worker-9' });
    expect(await ingestWorkerEvent({ detailType: 'WorkerResult', detail: foreign }, deps)).toMatchObject({
      outcome: 'result_recorded',
      reconciled: false,
    });
    const view = await lifecycle.getRun(run.commandId);
    expect(view?.run).toMatchObject({ status: 'Running', delegation: { taskId: task.taskId } });
  });

  it('rejects an unknown payload_type and stores nothing', async () => {
    const task = await deps.tasks.createQueued(aTaskMessage(), NOW);
    const outcome = await ingestWorkerEvent(
      {
        detailType: 'WorkerResult',
        detail: { ...anExecutionResult(task), payload_type: 'metrics', payload: {} },
      },
      deps,
    );
    expect(outcome).toMatchObject({
      outcome: 'rejected',
      reason: 'unknown_payload_type',
      rationale: expect.stringContaining('detail.payload_type'),
    });
    expect(await deps.tasks.listResultKeys(task.taskId)).toEqual([]);
  });

  it('asks for a retry, storing nothing, while the task’s command is still being executed', async () => {
    const { run } = await aDelegatedRun(lifecycle, { finished: false });
    const task = await deps.tasks.createQueued(aTaskMessage({ commandId: run.commandId }), NOW);
    await deps.tasks.claim({ taskId: task.taskId, workerId: 'worker-1', site: 'lab', now: NOW });
    expect(
      await ingestWorkerEvent({ detailType: 'WorkerResult', detail: anExecutionResult(task) }, deps),
    ).toMatchObject({
      outcome: 'retry',
      reason: 'run_in_progress',
    });
    expect(await deps.tasks.listResultKeys(task.taskId)).toEqual([]);
  });
});
