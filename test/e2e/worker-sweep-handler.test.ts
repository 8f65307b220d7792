import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbLifecycleStore } from '#adapters/dynamodb/lifecycle-store.js';
import { DynamoDbWorkerRegistry } from '#adapters/dynamodb/worker-registry.js';
import { DynamoDbWorkerTaskStore } from '#adapters/dynamodb/worker-task-store.js';
import { METRICS_NAMESPACE } from '#contracts/metrics.js';
import { WORKER_RUNTIME_ENV } from '#core/workers/settings.js';
import type { WorkerSweepHandlerResult } from '#handlers/worker-sweep.js';
import { emfLines, warnLines } from '../support/handler-output.js';
import { type ScheduledHandler, startScheduledHandler } from '../support/scheduled-handler.js';
import { aHeartbeat, aTaskMessage } from '../support/worker-fixtures.js';
import { aDelegatedRun } from '../support/worker-integration.js';

/**
 * `functions/handlers/worker-sweep.ts` exactly as deployed: settings read from the environment
 * at load (`WORKER_HEARTBEAT_STALE_MULTIPLE` = 3, `WORKER_STUCK_TASK_MINUTES` = 15 as the stack
 * sets them), the SDK pointed at DynamoDB Local, middy + Powertools, invoked with the event the
 * `rate(5 minutes)` rule sends. Its output is captured: the EMF line is what CloudWatch turns
 * into the four worker metrics, the warnings what Logs keeps.
 */
const ENVIRONMENT = 'e2e-sweep';
const MINUTE = 60_000;

describe('worker sweep handler as deployed, on DynamoDB Local', () => {
  let sweep: ScheduledHandler<WorkerSweepHandlerResult>;
  let registry: DynamoDbWorkerRegistry;
  let elsewhere: DynamoDbWorkerRegistry;
  let tasks: DynamoDbWorkerTaskStore;

  const run = () => sweep.run();
  const emf = emfLines;
  const warnings = warnLines;

  beforeAll(async () => {
    sweep = await startScheduledHandler({
      prefix: 'wsh',
      environment: ENVIRONMENT,
      rule: `runlane-${ENVIRONMENT}-worker-sweep`,
      variables: {
        [WORKER_RUNTIME_ENV.heartbeatStaleMultiple]: '3',
        [WORKER_RUNTIME_ENV.stuckTaskMinutes]: '15',
        // The offline workers and stuck tasks are the point here; the prepared environment logs only errors.
        POWERTOOLS_LOG_LEVEL: 'WARN',
      },
      load: () => import('#handlers/worker-sweep.js'),
    });
    const table = { client: sweep.documents, tableName: sweep.tableName, environment: ENVIRONMENT };
    registry = new DynamoDbWorkerRegistry(table);
    elsewhere = new DynamoDbWorkerRegistry({ ...table, environment: 'elsewhere' });
    tasks = new DynamoDbWorkerTaskStore(table);
  });
  afterAll(() => sweep?.stop());

  it('publishes all four worker metrics as 0 when no worker has registered, so the alarms have data', async () => {
    const before = Date.now();
    const { result, lines } = await run();

    expect(result).toEqual({
      environment: ENVIRONMENT,
      staleMultiple: 3,
      stuckTaskMinutes: 15,
      workers: 0,
      online: 0,
      offline: 0,
      stopped: 0,
      executing: 0,
      stuckExecuting: 0,
      offlineBacklogFiles: 0,
      offlineBacklogBytes: 0,
    });
    const [line, ...more] = emf(lines);
    expect(more).toEqual([]);
    expect(line?._aws?.CloudWatchMetrics).toEqual([
      {
        Namespace: METRICS_NAMESPACE,
        Dimensions: [['Environment']],
        Metrics: [
          { Name: 'WorkersOnline', Unit: 'Count' },
          { Name: 'WorkersOffline', Unit: 'Count' },
          { Name: 'WorkerTasksStuckExecuting', Unit: 'Count' },
          { Name: 'WorkerOfflineBacklog', Unit: 'Count' },
        ],
      },
    ]);
    expect(line).toMatchObject({
      Environment: ENVIRONMENT,
      WorkersOnline: 0,
      WorkersOffline: 0,
      WorkerTasksStuckExecuting: 0,
      WorkerOfflineBacklog: 0,
    });
    expect(line).not.toHaveProperty('service');
    expect(line?._aws?.Timestamp).toBeGreaterThanOrEqual(before);
    expect(warnings(lines)).toEqual([]);
  });

  it('counts online and offline workers, tasks stuck past 15 min and the reported backlog, and names them', async () => {
    const now = Date.now();
    await registry.putHeartbeat(
      aHeartbeat({
        environment: ENVIRONMENT,
        worker_id: 'w-fresh',
        ts: new Date(now - 10_000).toISOString(),
        offline_backlog: { files: 1, bytes: 100 },
      }),
    );
    const silent = aHeartbeat({
      environment: ENVIRONMENT,
      worker_id: 'w-silent',
      site: 'east',
      host: 'host-east',
      ts: new Date(now - 10 * MINUTE).toISOString(),
      interval_ms: 30_000,
      offline_backlog: { files: 4, bytes: 4096 },
    });
    await registry.putHeartbeat(silent);
    // Another environment's workers are not this sweep's.
    await elsewhere.putHeartbeat(
      aHeartbeat({
        environment: 'elsewhere',
        worker_id: 'w-x',
        ts: new Date(now - 60 * MINUTE).toISOString(),
      }),
    );
    const stuck = await tasks.createQueued(
      aTaskMessage({ environment: ENVIRONMENT, queuedAt: new Date(now - 30 * MINUTE).toISOString() }),
      new Date(now - 30 * MINUTE),
    );
    await tasks.claim({
      taskId: stuck.taskId,
      workerId: 'w-silent',
      site: 'lab',
      now: new Date(now - 20 * MINUTE),
    });
    const running = await tasks.createQueued(
      aTaskMessage({ environment: ENVIRONMENT, queuedAt: new Date(now - 2 * MINUTE).toISOString() }),
      new Date(now - 2 * MINUTE),
    );
    await tasks.claim({
      taskId: running.taskId,
      workerId: 'w-fresh',
      site: 'lab',
      now: new Date(now - MINUTE),
    });
    // Queued, never claimed: the queue alarms watch it, not the stuck count.
    await tasks.createQueued(
      aTaskMessage({ environment: ENVIRONMENT, queuedAt: new Date(now - 60 * MINUTE).toISOString() }),
      new Date(now - 60 * MINUTE),
    );

    const { result, lines } = await run();

    expect(result).toMatchObject({
      workers: 2,
      online: 1,
      offline: 1,
      executing: 2,
      stuckExecuting: 1,
      offlineBacklogFiles: 5,
      offlineBacklogBytes: 4196,
    });
    expect(emf(lines)).toHaveLength(1);
    expect(emf(lines)[0]).toMatchObject({
      Environment: ENVIRONMENT,
      WorkersOnline: 1,
      WorkersOffline: 1,
      WorkerTasksStuckExecuting: 1,
      WorkerOfflineBacklog: 5,
    });
    expect(warnings(lines)).toEqual([
      expect.objectContaining({
        message: 'worker offline',
        service: 'runlane-worker-sweep',
        environment: ENVIRONMENT,
        worker_id: 'w-silent',
        site: 'east',
        host: 'host-east',
        last_seen: silent.ts,
        offline_backlog: 4,
      }),
      expect.objectContaining({
        message: 'worker task stuck in executing',
        task_id: stuck.taskId,
        site: 'lab',
        claimed_by: 'w-silent',
        age_seconds: expect.any(Number),
      }),
    ]);
    expect(warnings(lines)[1]?.age_seconds).toBeGreaterThanOrEqual(20 * 60);

    // The worker comes back and sends its result: the next sweep counts 0 offline, 0 stuck.
    await registry.putHeartbeat({ ...silent, id: randomUUID(), ts: new Date().toISOString() });
    await tasks.recordResult(
      {
        schemaVersion: 1,
        id: randomUUID(),
        environment: ENVIRONMENT,
        worker_id: 'w-silent',
        site: 'lab',
        ts: new Date().toISOString(),
        task_id: stuck.taskId,
        attempt: 1,
        payload_type: 'execution_result',
        payload: { status: 'succeeded', durationMs: 5 },
      },
      new Date(),
    );
    const again = await run();
    expect(again.result).toMatchObject({ online: 2, offline: 0, stuckExecuting: 0, executing: 1 });
    expect(emf(again.lines)[0]).toMatchObject({ WorkersOffline: 0, WorkerTasksStuckExecuting: 0 });
    expect(warnings(again.lines)).toEqual([]);
  });
  it('expires a delegated run whose result is past its deadline: NeedsReview with worker_result_missing, one warning', async () => {
    const lifecycle = new DynamoDbLifecycleStore({ client: sweep.documents, tableName: sweep.tableName });
    const now = Date.now();
    const waiting = async (deadlineAt: string) => {
      const message = aTaskMessage({ environment: ENVIRONMENT });
      const { run } = await aDelegatedRun(lifecycle, {
        commandId: message.commandId,
        taskId: message.taskId,
        deadlineAt,
      });
      await tasks.createQueued(message, new Date(now - 2 * MINUTE), { deadlineAt });
      await tasks.claim({
        taskId: message.taskId,
        workerId: 'w-lost',
        site: 'lab',
        now: new Date(now - MINUTE),
      });
      return { run, taskId: message.taskId };
    };
    const overdue = await waiting(new Date(now - 1_000).toISOString());
    const inTime = await waiting(new Date(now + 60 * MINUTE).toISOString());

    const { lines } = await run();

    expect(warnings(lines)).toContainEqual(
      expect.objectContaining({
        message: 'delegated run expired: no worker result by its deadline',
        service: 'runlane-worker-sweep',
        environment: ENVIRONMENT,
        command_id: overdue.run.commandId,
        task_id: overdue.taskId,
        claimed_by: 'w-lost',
      }),
    );
    const expired = await lifecycle.getRun(overdue.run.commandId);
    expect(expired?.run).toMatchObject({ status: 'NeedsReview' });
    expect(expired?.run.delegation).toBeUndefined();
    expect(expired?.signals).toEqual([
      expect.objectContaining({ type: 'worker_result_missing', RequiresHumanReview: true }),
    ]);
    expect(await tasks.get(overdue.taskId)).toMatchObject({
      status: 'failed',
      errorCode: 'worker_result_missing',
    });
    expect((await lifecycle.getRun(inTime.run.commandId))?.run).toMatchObject({
      status: 'Running',
      delegation: { taskId: inTime.taskId },
    });
    // Nothing left to expire: the next run is quiet about it.
    const again = await run();
    expect(warnings(again.lines).map((line) => line.message)).not.toContain(
      'delegated run expired: no worker result by its deadline',
    );
  });
});
