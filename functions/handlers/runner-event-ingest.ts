import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context, EventBridgeEvent } from 'aws-lambda';
import { handlerTelemetry } from '#adapters/powertools/handler-telemetry.js';
import { flushMetricsAfterEachInvocation } from '#adapters/powertools/metrics-recorder.js';
import { fromPowertoolsLogger } from '#adapters/powertools/structured-logger.js';
import type { RunnerEventIngestResult } from '#core/runner/event-ingest.js';
import { awsClients } from '#wiring/clients.js';
import { buildRunnerEventIngest } from '#wiring/runner-event-ingest.js';
import { requireNumber, requireString } from './env.js';

/**
 * Target of the `runner-events` rule (invoked asynchronously by EventBridge):
 * validates the agent event (runner or supervisor), stores it (health: the
 * host's latest, if newer) and counts stalls and the supervisor metrics. A refused event
 * goes to the ingest DLQ and the invocation succeeds; a store failure throws,
 * so Lambda retries it and then sends it to the on-failure destination.
 */
const settings = {
  environment: requireString('environmentName'),
  tableName: requireString('lifecycleTableName'),
  deadLetterQueueUrl: requireString('runnerEventDeadLetterQueueUrl'),
  retentionDays: requireNumber('retentionDays'),
};

const SERVICE_NAME = 'runlane-runner-event-ingest';
// One event per invocation: each metric is written as its own EMF line with all its dimension sets, at the event's ts.
const { logger, metrics } = handlerTelemetry({
  serviceName: SERVICE_NAME,
  environment: settings.environment,
});
const ingest = buildRunnerEventIngest(settings, awsClients(), fromPowertoolsLogger(logger), { metrics });

export const handler = middy<EventBridgeEvent<string, unknown>, RunnerEventIngestResult, Error, Context>()
  .use(injectLambdaContext(logger))
  .use(flushMetricsAfterEachInvocation(metrics))
  .handler((event) => ingest(event));
