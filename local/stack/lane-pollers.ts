/**
 * One event-source-mapping poller per lane, running the same lane worker code as the deployed
 * Lambda with the lane's batch size, batching window, concurrency and timeout. The drill lane
 * also knows the local-only drill commands.
 */
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { LANES, type LaneName, laneByName } from '#contracts/lanes.js';
import type { WorkerSettings } from '#core/workers/settings.js';
import { buildLaneWorker } from '#wiring/lane-worker.js';
import { LocalEventSourceMapping } from '../emulators/event-source-mapping.js';
import type { StackContext } from './context.js';
import { DRILL_LANE, drillCommands } from './drill-commands.js';
import { LOCAL_BUS_NAME, LOCAL_ENVIRONMENT, LOCAL_QUEUE_PREFIX, LOCAL_TABLE_NAME } from './options.js';
import type { LaneQueues } from './provision.js';
import { flushingAfter } from './telemetry.js';

export interface LanePollerSettings {
  readonly lanes: Readonly<Record<LaneName, LaneQueues>>;
  readonly workers: WorkerSettings;
  /** Where the lane workers publish their telemetry events. */
  readonly eventBridge: EventBridgeClient;
}

/** Starts polling every lane; stopping lets in-flight batches finish (bounded). */
export function startLanePollers(context: StackContext, settings: LanePollerSettings): void {
  const mappings = LANES.map((lane) => {
    const mapping = lanePoller(context, settings, lane);
    mapping.start();
    return mapping;
  });
  context.shutdown.add(async () => {
    await Promise.all(mappings.map((m) => m.stop()));
  });
}

function lanePoller(
  context: StackContext,
  settings: LanePollerSettings,
  lane: (typeof LANES)[number],
): LocalEventSourceMapping {
  const { config } = context.options;
  const laneSettings = config.lanes;
  const queues = settings.lanes[lane.name];
  const drill =
    lane.name === DRILL_LANE
      ? drillCommands(laneByName(lane.name) ?? lane, { dataDir: context.options.dataDir })
      : undefined;
  const metrics = context.telemetry.metrics('runlane-lane-worker', {
    bufferedDimensions: { Lane: lane.name },
  });
  const process = buildLaneWorker(
    {
      environment: LOCAL_ENVIRONMENT,
      laneName: lane.name,
      tableName: LOCAL_TABLE_NAME,
      deadLetterQueueUrl: queues.dlqUrl,
      telemetryBusName: LOCAL_BUS_NAME,
      maxReceiveCount: laneSettings.maxReceiveCount,
      fallbackLockMs: laneSettings.functionTimeoutSeconds * 1000,
      retentionDays: config.lifecycle.retentionDays,
      commandSettings: config.commands,
      workers: settings.workers,
      // The lane's own queue, as LANE_QUEUE_URL in AWS: hiding lock-held messages, sweep continuations.
      laneQueueUrl: queues.queueUrl,
    },
    { ...context.clients, eventBridge: settings.eventBridge },
    context.telemetry.log('runlane-lane-worker'),
    { ...(drill ? { commands: drill.commands, lane: drill.lane } : {}), ...(metrics ? { metrics } : {}) },
  );
  return new LocalEventSourceMapping({
    sqs: context.clients.sqs,
    queueUrl: queues.queueUrl,
    queueArn: queues.queueArn,
    handler: (event, lambdaContext) => flushingAfter(metrics, () => process(event.Records, lambdaContext)),
    batchSize: laneSettings.batchSize,
    maximumBatchingWindowMs: laneSettings.maxBatchingWindowSeconds * 1000,
    maxConcurrency: laneSettings.maxConcurrency,
    functionTimeoutMs: laneSettings.functionTimeoutSeconds * 1000,
    functionName: `${LOCAL_QUEUE_PREFIX}${lane.id}-worker`,
    waitTimeSeconds: 1,
  });
}
