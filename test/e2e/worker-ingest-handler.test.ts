import { randomUUID } from 'node:crypto';
import type { EventBridgeEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbLifecycleStore } from '#adapters/dynamodb/lifecycle-store.js';
import { DynamoDbWorkerRegistry } from '#adapters/dynamodb/worker-registry.js';
import { DynamoDbWorkerTaskStore } from '#adapters/dynamodb/worker-task-store.js';
import { matchesEventPattern } from '#contracts/event-pattern.js';
import { WORKER_EVENTS_RULE } from '#contracts/event-rules.js';
import { RUNTIME_ENV } from '#contracts/runtime-env.js';
import { type ProvisionedQueue, provisionDeadLetterQueue } from '#local/stack/provision.js';
import type { WorkerEventIngestResult } from '#wiring/worker-ingest.js';
import { receiveDeadLetterMessages } from '../support/dead-letters.js';
import { aLambdaContext } from '../support/factories.js';
import {
  type AgentEventHandler,
  startTelemetryHandlerEnvironment,
  type TelemetryHandlerEnvironment,
} from '../support/handler-environment.js';
import { aHeartbeat, anExecutionResult, aTaskMessage } from '../support/worker-fixtures.js';
import { aDelegatedRun } from '../support/worker-integration.js';

/**
 * `functions/handlers/worker-ingest.ts` exactly as deployed: settings read from the environment
 * at load (`WORKER_EVENT_DLQ_URL` among them), SDK clients from `AWS_ENDPOINT_URL_*`, middy +
 * Powertools; invoked with the events the `worker-events` rule delivers. The registry, tasks and
 * runs are on DynamoDB Local, the DLQ on the SQS emulator.
 */
const ENVIRONMENT = 'e2e-workers';

function busEvent(
  detailType: string,
  detail: unknown,
  source = 'runlane.agent',
): EventBridgeEvent<string, unknown> {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': detailType,
    source,
    account: '000000000000',
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: [],
    detail,
  };
}

describe('worker ingest handler as deployed, pointed at the emulators', () => {
  let deployed: TelemetryHandlerEnvironment;
  let handler: AgentEventHandler<WorkerEventIngestResult>;
  let dlq: ProvisionedQueue;
  let registry: DynamoDbWorkerRegistry;
  let tasks: DynamoDbWorkerTaskStore;
  let lifecycle: DynamoDbLifecycleStore;

  beforeAll(async () => {
    deployed = await startTelemetryHandlerEnvironment({ prefix: 'wih', environment: ENVIRONMENT });
    dlq = await provisionDeadLetterQueue(deployed.sqs, `wih${randomUUID().slice(0, 6)}-worker-events-dlq`);
    process.env[RUNTIME_ENV.workerEventDeadLetterQueueUrl] = dlq.queueUrl;
    const table = { client: deployed.documents, tableName: deployed.tableName, environment: ENVIRONMENT };
    registry = new DynamoDbWorkerRegistry(table);
    tasks = new DynamoDbWorkerTaskStore(table);
    lifecycle = new DynamoDbLifecycleStore(table);
    handler = (await import('#handlers/worker-ingest.js')).handler as never;
  });
  afterAll(() => deployed?.stop());

  it('keeps a WorkerHeartbeat in the registry, the newest per worker', async () => {
    // Heartbeats are refused further than WORKER_CLOCK_SKEW_SECONDS (300) from their receipt.
    const sent = Date.now();
    const heartbeat = aHeartbeat({
      environment: ENVIRONMENT,
      worker_id: 'w-e2e',
      ts: new Date(sent).toISOString(),
      offline_backlog: { files: 2, bytes: 512 },
      executing: 1,
    });
    const event = busEvent('WorkerHeartbeat', heartbeat);
    expect(matchesEventPattern(WORKER_EVENTS_RULE.pattern, event)).toBe(true);

    await expect(handler(event, aLambdaContext())).resolves.toEqual({
      outcome: 'heartbeat_recorded',
      workerId: 'w-e2e',
    });
    // An older heartbeat replayed from a spool is taken and changes nothing.
    await handler(
      busEvent('WorkerHeartbeat', {
        ...heartbeat,
        id: randomUUID(),
        ts: new Date(sent - 10_000).toISOString(),
        executing: 0,
      }),
      aLambdaContext(),
    );
    expect(await registry.list()).toMatchObject([
      {
        workerId: 'w-e2e',
        site: 'lab',
        lastSeen: heartbeat.ts,
        executing: 1,
        offlineBacklog: { files: 2, bytes: 512 },
      },
    ]);
  });

  it('reconciles a WorkerResult into the task and its waiting run once; the resend is a duplicate', async () => {
    const message = aTaskMessage({ environment: ENVIRONMENT });
    const { run } = await aDelegatedRun(lifecycle, { commandId: message.commandId, taskId: message.taskId });
    expect(run.status).toBe('Running');
    const task = await tasks.createQueued(message, new Date('2026-01-01T00:00:01.000Z'));
    await tasks.claim({
      taskId: task.taskId,
      workerId: 'worker-1',
      site: 'lab',
      now: new Date('2026-01-01T00:00:02.000Z'),
    });
    const result = anExecutionResult(task, { environment: ENVIRONMENT });

    await expect(handler(busEvent('WorkerResult', result), aLambdaContext())).resolves.toEqual({
      outcome: 'result_recorded',
      key: `${task.taskId}#1#execution_result`,
      duplicate: false,
      reconciled: true,
    });
    await expect(handler(busEvent('WorkerResult', result), aLambdaContext())).resolves.toMatchObject({
      outcome: 'result_recorded',
      duplicate: true,
      reconciled: false,
    });

    expect(await tasks.get(task.taskId)).toMatchObject({
      status: 'succeeded',
      resultKey: `${task.taskId}#1#execution_result`,
    });
    const view = await lifecycle.getRun(run.commandId);
    expect(view?.run.status).toBe('Completed');
    expect(view?.run.stages.map((stage) => [stage.name, stage.outcomeCode])).toEqual([
      ['execute', 'action_delegated'],
      ['delegated', 'worker_task_succeeded'],
    ]);
  });

  it('throws while the task’s run is still held by its lane worker, storing nothing, so Lambda retries', async () => {
    const { run } = await aDelegatedRun(lifecycle, { finished: false });
    const task = await tasks.createQueued(
      aTaskMessage({ environment: ENVIRONMENT, commandId: run.commandId }),
      new Date('2026-01-01T00:00:01.000Z'),
    );
    await tasks.claim({ taskId: task.taskId, workerId: 'worker-1', site: 'lab', now: new Date() });

    await expect(
      handler(
        busEvent('WorkerResult', anExecutionResult(task, { environment: ENVIRONMENT })),
        aLambdaContext(),
      ),
    ).rejects.toMatchObject({ name: 'WorkerResultNotYetAcceptedError' });
    expect(await tasks.listResultKeys(task.taskId)).toEqual([]);
    expect((await tasks.get(task.taskId))?.status).toBe('executing');
  });

  it('acknowledges what it refuses and puts it on the worker events DLQ with its reason and field paths', async () => {
    const task = await tasks.createQueued(aTaskMessage({ environment: ENVIRONMENT }), new Date());
    const unknownPayload = busEvent('WorkerResult', {
      ...anExecutionResult(task, { environment: ENVIRONMENT }),
      payload_type: 'metrics',
      payload: {},
    });
    const elsewhere = busEvent('WorkerHeartbeat', aHeartbeat({ environment: 'prod' }));
    const badHeartbeat = busEvent('WorkerHeartbeat', {
      ...aHeartbeat({ environment: ENVIRONMENT }),
      interval_ms: 5,
    });
    const notAgent = busEvent('WorkerHeartbeat', aHeartbeat({ environment: ENVIRONMENT }), 'someone.else');

    const results = await Promise.all(
      [unknownPayload, elsewhere, badHeartbeat, notAgent].map((event) => handler(event, aLambdaContext())),
    );
    expect(results.map((result) => (result.outcome === 'rejected' ? result.reason : result.outcome))).toEqual(
      ['unknown_payload_type', 'wrong_environment', 'invalid_heartbeat', 'unknown_detail_type'],
    );
    expect(await tasks.listResultKeys(task.taskId)).toEqual([]);

    const letters: Record<
      string,
      { reason?: string; rationale?: string; detailType?: string; body: unknown }
    > = {};
    for (let attempt = 0; attempt < 5 && Object.keys(letters).length < 4; attempt++) {
      for (const message of await receiveDeadLetterMessages(deployed.sqs, dlq.queueUrl)) {
        const busEventId = message.MessageAttributes?.busEventId?.StringValue ?? '';
        letters[busEventId] = {
          ...(message.MessageAttributes?.reason?.StringValue
            ? { reason: message.MessageAttributes.reason.StringValue }
            : {}),
          ...(message.MessageAttributes?.rationale?.StringValue
            ? { rationale: message.MessageAttributes.rationale.StringValue }
            : {}),
          ...(message.MessageAttributes?.detailType?.StringValue
            ? { detailType: message.MessageAttributes.detailType.StringValue }
            : {}),
          body: JSON.parse(message.Body ?? 'null'),
        };
      }
    }
    expect(letters[unknownPayload.id]).toEqual({
      reason: 'unknown_payload_type',
      rationale: expect.stringContaining('detail.payload_type'),
      detailType: 'WorkerResult',
      body: unknownPayload,
    });
    expect(letters[elsewhere.id]).toMatchObject({
      reason: 'wrong_environment',
      rationale: expect.stringContaining('detail.environment'),
    });
    expect(letters[badHeartbeat.id]).toMatchObject({
      reason: 'invalid_heartbeat',
      rationale: expect.stringContaining('detail.interval_ms'),
    });
    expect(letters[notAgent.id]).toMatchObject({
      reason: 'unknown_detail_type',
      rationale: 'source: "someone.else" is not runlane.agent',
    });
  });
});
