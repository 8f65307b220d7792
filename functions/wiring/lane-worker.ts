import { AsyncLocalStorage } from 'node:async_hooks';
import type { Context } from 'aws-lambda';
import { DynamoDbActionExecutor } from '#adapters/dynamodb/action-executor.js';
import { DynamoDbApprovalStore } from '#adapters/dynamodb/approval-store.js';
import { DynamoDbLifecycleStore } from '#adapters/dynamodb/lifecycle-store.js';
import { DynamoDbOpenRuns } from '#adapters/dynamodb/open-runs.js';
import { EventBridgeTelemetryPublisher } from '#adapters/eventbridge/telemetry-publisher.js';
import type { StructuredLogger } from '#adapters/powertools/structured-logger.js';
import { SqsCommandQueue } from '#adapters/sqs/command-queue.js';
import { SqsDeadLetterSink } from '#adapters/sqs/dead-letter-sink.js';
import { SqsLaneMessageVisibility } from '#adapters/sqs/lane-message-visibility.js';
import { laneByName } from '#contracts/lanes.js';
import { type Clock, systemClock } from '#core/base/clock.js';
import type { AnomalySweepPorts } from '#core/commands/ports.js';
import { COMMAND_DEFINITIONS } from '#core/commands/registry.js';
import type { CommandSettings } from '#core/commands/types.js';
import { createLaneWorker, type LaneWorkerOptions } from '#core/lifecycle/lane-worker.js';
import type { MetricsRecorder, TelemetryPublisher } from '#core/telemetry/ports.js';
import type { WorkerSettings } from '#core/workers/settings.js';
import type { AwsClients } from './clients.js';
import { buildWorkerAdapters } from './worker-api.js';

export interface LaneWorkerSettings {
  readonly environment: string;
  readonly laneName: string;
  readonly tableName: string;
  readonly deadLetterQueueUrl: string;
  readonly telemetryBusName: string;
  readonly maxReceiveCount: number;
  readonly fallbackLockMs: number;
  readonly retentionDays: number;
  readonly commandSettings: CommandSettings;
  /**
   * This lane's own queue (`LANE_QUEUE_URL`): the worker hides a message whose command another
   * attempt still holds until that lock lapses, and `anomaly.sweep` enqueues the continuation of a
   * pass that ran out of time there. Without it, such a message comes back after the visibility
   * timeout and such a pass ends, reported as `sweep_incomplete`.
   * @default undefined
   */
  readonly laneQueueUrl?: string;
  /**
   * Worker delegation settings (`WORKER_*`, worker-settings.ts): approved worker-eligible actions
   * go to a site's task lane while the delegation flag is on.
   * @default readWorkerSettings(process.env)
   */
  readonly workers?: WorkerSettings;
}

/**
 * Wires the lane worker to AWS (or the emulators) — the one place handlers,
 * the local runtime and the tests build it, so they all run the same code.
 */
export function buildLaneWorker(
  settings: LaneWorkerSettings,
  clients: Pick<AwsClients, 'documents' | 'sqs' | 'eventBridge'>,
  logger: StructuredLogger,
  overrides: {
    readonly commands?: LaneWorkerOptions['commands'];
    readonly lane?: LaneWorkerOptions['lane'] | undefined;
    readonly dependencies?: LaneWorkerOptions['dependencies'];
    readonly deadLetters?: LaneWorkerOptions['deadLetters'];
    readonly clock?: Clock;
    readonly telemetry?: TelemetryPublisher;
    /** Where the worker's metrics go; the Lambda handler passes a `PowertoolsMetricsRecorder`. @default no metrics */
    readonly metrics?: MetricsRecorder;
  } = {},
) {
  const lane = overrides.lane ?? laneByName(settings.laneName);
  if (!lane) throw new Error(`unknown lane ${settings.laneName}`);
  const table = { client: clients.documents, tableName: settings.tableName };
  const store = new DynamoDbLifecycleStore(table);
  // The invocation each command runs in, so the sweep can read the Lambda's remaining time.
  const invocation = new AsyncLocalStorage<Context>();
  const sweep: AnomalySweepPorts = {
    openRuns: new DynamoDbOpenRuns(table),
    ...(settings.laneQueueUrl
      ? {
          continuations: new SqsCommandQueue({
            client: clients.sqs,
            queueUrls: { [lane.name]: settings.laneQueueUrl },
          }),
        }
      : {}),
    timeLeftMs: () => {
      const remaining = invocation.getStore()?.getRemainingTimeInMillis();
      // 0 is what a context without a deadline reads (as Powertools treats it): unknown.
      return remaining !== undefined && remaining > 0 ? remaining : undefined;
    },
  };
  const processBatch = createLaneWorker({
    environment: settings.environment,
    lane,
    maxReceiveCount: settings.maxReceiveCount,
    fallbackLockMs: settings.fallbackLockMs,
    retentionSeconds: settings.retentionDays * 24 * 60 * 60,
    commands: overrides.commands ?? COMMAND_DEFINITIONS,
    store,
    ...(settings.laneQueueUrl
      ? { visibility: new SqsLaneMessageVisibility({ client: clients.sqs, queueUrl: settings.laneQueueUrl }) }
      : {}),
    deadLetters:
      overrides.deadLetters ??
      new SqsDeadLetterSink({ client: clients.sqs, queueUrl: settings.deadLetterQueueUrl }),
    telemetry:
      overrides.telemetry ??
      new EventBridgeTelemetryPublisher({ client: clients.eventBridge, busName: settings.telemetryBusName }),
    dependencies: overrides.dependencies ?? {
      approvals: new DynamoDbApprovalStore(table),
      actions: new DynamoDbActionExecutor(table),
      sweep,
      settings: settings.commandSettings,
      workers: buildWorkerAdapters(
        {
          environment: settings.environment,
          tableName: settings.tableName,
          retentionDays: settings.retentionDays,
          ...(settings.workers ? { settings: settings.workers } : {}),
        },
        clients,
      ).delegationPorts,
    },
    clock: overrides.clock ?? systemClock,
    logger,
    ...(overrides.metrics ? { metrics: overrides.metrics } : {}),
  });
  return (records: Parameters<typeof processBatch>[0], context: Context): ReturnType<typeof processBatch> =>
    invocation.run(context, () => processBatch(records, context));
}
