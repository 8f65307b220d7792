import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context, ScheduledEvent } from 'aws-lambda';
import { handlerTelemetry } from '#adapters/powertools/handler-telemetry.js';
import { flushMetricsAfterEachInvocation } from '#adapters/powertools/metrics-recorder.js';
import { fromPowertoolsLogger } from '#adapters/powertools/structured-logger.js';
import { readWorkerSettings } from '#core/workers/settings.js';
import type { WorkerSweepResult } from '#core/workers/sweep.js';
import { awsClients } from '#wiring/clients.js';
import { buildWorkerSweep } from '#wiring/worker-sweep.js';
import { requireString } from './env.js';

/**
 * Target of the `<prefix>-worker-sweep` schedule (every 5 minutes): reads the worker registry
 * and the executing tasks of this environment, records `WorkersOnline`, `WorkersOffline`,
 * `WorkerTasksStuckExecuting` and `WorkerOfflineBacklog` (0 included) and logs each offline
 * worker and stuck task. Returns the counts (for a manual invoke). A read failure throws: the
 * run fails and the next one sweeps again, nothing to keep.
 */
const workerSettings = readWorkerSettings(process.env);
const settings = {
  environment: requireString('environmentName'),
  tableName: requireString('lifecycleTableName'),
  staleMultiple: workerSettings.heartbeatStaleMultiple,
  stuckAfterMs: workerSettings.stuckTaskAfterMs,
};

const SERVICE_NAME = 'runlane-worker-sweep';
// Four values per run, [Environment] only: buffered and flushed after the invocation as one EMF line.
const { logger, metrics } = handlerTelemetry({
  serviceName: SERVICE_NAME,
  environment: settings.environment,
});
const sweep = buildWorkerSweep(settings, awsClients(), fromPowertoolsLogger(logger), metrics);

export type WorkerSweepHandlerResult = WorkerSweepResult['counts'] & {
  readonly environment: string;
  readonly staleMultiple: number;
  readonly stuckTaskMinutes: number;
};

export const handler = middy<ScheduledEvent, WorkerSweepHandlerResult, Error, Context>()
  .use(injectLambdaContext(logger))
  .use(flushMetricsAfterEachInvocation(metrics))
  .handler(async () => {
    const result = await sweep();
    return {
      environment: settings.environment,
      staleMultiple: result.staleMultiple,
      stuckTaskMinutes: result.stuckAfterMs / 60_000,
      ...result.counts,
    };
  });
