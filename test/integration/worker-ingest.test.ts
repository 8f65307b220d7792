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

  it('reconciles a WorkerResult into the task and the run once; a replay from the spool is a duplicate', async () => {
    const { run } = await aDelegatedRun(lifecycle);
    const task = await deps.tasks.createQueued(aTaskMessage({ commandId: run.commandId }), NOW);
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
    expect(view?.run.stages.filter((s) => s.name === 'worker_result')).toHaveLength(1);
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
