import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { handlerTelemetry } from '#adapters/powertools/handler-telemetry.js';
import { flushMetricsAfterEachInvocation } from '#adapters/powertools/metrics-recorder.js';
import { fromPowertoolsLogger } from '#adapters/powertools/structured-logger.js';
import { RUNTIME_ENV } from '#contracts/runtime-env.js';
import { awsClients } from '#wiring/clients.js';
import { buildLaneWorker } from '#wiring/lane-worker.js';
import { optionalNumber, requireNumber, requireString } from './env.js';

// Read once at load: a misconfigured function fails at cold start, naming the variable.
const settings = {
  environment: requireString('environmentName'),
  laneName: requireString('laneName'),
  tableName: requireString('lifecycleTableName'),
  deadLetterQueueUrl: requireString('laneDeadLetterQueueUrl'),
  telemetryBusName: requireString('telemetryBusName'),
  maxReceiveCount: requireNumber('laneMaxReceiveCount'),
  fallbackLockMs: requireNumber('attemptLockFallbackMs'),
  retentionDays: requireNumber('retentionDays'),
  commandSettings: {
    ingestionErrorRatioThreshold: optionalNumber('ingestionErrorRatioThreshold', 0.05),
    stuckRunningMinutes: optionalNumber('stuckRunningMinutes', 60),
    staleReviewHours: optionalNumber('staleReviewHours', 24),
    abandonAfterMinutes: optionalNumber('abandonAfterMinutes', 60),
  },
  ...(process.env[RUNTIME_ENV.laneQueueUrl] ? { laneQueueUrl: requireString('laneQueueUrl') } : {}),
};

const SERVICE_NAME = 'runlane-lane-worker';
// EMF on stdout; the batch's counts are flushed as one line per invocation.
const { logger, metrics } = handlerTelemetry({
  serviceName: SERVICE_NAME,
  environment: settings.environment,
  persistentKeys: { lane: settings.laneName },
  bufferedDimensions: { Lane: settings.laneName },
});
const processBatch = buildLaneWorker(settings, awsClients(), fromPowertoolsLogger(logger), { metrics });

/** SQS event source handler: returns the partial batch response and never throws. */
export const handler = middy<SQSEvent, SQSBatchResponse, Error, Context>()
  .use(injectLambdaContext(logger))
  .use(flushMetricsAfterEachInvocation(metrics))
  .handler((event, context) => processBatch(event.Records, context));
