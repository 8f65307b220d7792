import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context, EventBridgeEvent } from 'aws-lambda';
import { fromPowertoolsLogger } from '#adapters/powertools/structured-logger.js';
import type { WorkerEventIngestResult } from '#core/workers/ingest.js';
import { DEFAULT_WORKER_CLOCK_SKEW_SECONDS } from '#core/workers/validation.js';
import { awsClients } from '#wiring/clients.js';
import { buildWorkerEventIngest } from '#wiring/worker-ingest.js';
import { optionalNumber, requireNumber, requireString } from './env.js';

/**
 * Target of the `worker-events` rule (invoked asynchronously by EventBridge): a
 * `WorkerHeartbeat` goes to the registry, a `WorkerResult` to the task store (an
 * `execution_result` is reconciled into the task and its run). A refused event goes to the
 * worker events DLQ with its reason and the invocation succeeds; a result whose run is still in
 * progress, or a store failure, throws, so Lambda retries it and then sends it to the
 * on-failure destination (the same DLQ).
 */
const settings = {
  environment: requireString('environmentName'),
  tableName: requireString('lifecycleTableName'),
  deadLetterQueueUrl: requireString('workerEventDeadLetterQueueUrl'),
  retentionDays: requireNumber('retentionDays'),
  clockSkewSeconds: optionalNumber('workerClockSkewSeconds', DEFAULT_WORKER_CLOCK_SKEW_SECONDS),
};

const SERVICE_NAME = 'runlane-worker-ingest';
const logger = new Logger({ serviceName: SERVICE_NAME });
logger.appendPersistentKeys({ environment: settings.environment });
const ingest = buildWorkerEventIngest(settings, awsClients(), fromPowertoolsLogger(logger));

export const handler = middy<EventBridgeEvent<string, unknown>, WorkerEventIngestResult, Error, Context>()
  .use(injectLambdaContext(logger))
  .handler((event) => ingest(event));
