import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { toApiRequest } from '#adapters/apigateway/http-api-request.js';
import { handlerTelemetry } from '#adapters/powertools/handler-telemetry.js';
import { flushMetricsAfterEachInvocation } from '#adapters/powertools/metrics-recorder.js';
import { fromPowertoolsLogger } from '#adapters/powertools/structured-logger.js';
import { systemClock } from '#core/base/clock.js';
import { buildCommandApi, readApiAuthSettings } from '#wiring/api.js';
import { awsClients } from '#wiring/clients.js';
import { requireJsonStringMap, requireNumber, requireString } from './env.js';

const auth = readApiAuthSettings(process.env);
const settings = {
  tableName: requireString('lifecycleTableName'),
  queueUrls: requireJsonStringMap('commandQueueUrls'),
  maxBodyBytes: requireNumber('maxBodyBytes'),
  environment: requireString('environmentName'),
  authorization: auth.authorization,
  workerClockSkewSeconds: auth.workerClockSkewSeconds,
};
// Who the authorizer proved: JWT claims on household routes, the IAM caller ARN on the others.
const callerSettings = {
  environmentName: settings.environment,
  ...(auth.householdClaim ? { householdClaim: auth.householdClaim } : {}),
  ...(auth.roleClaim ? { roleClaim: auth.roleClaim } : {}),
};

const SERVICE_NAME = 'runlane-api';
// One API serves every lane: CommandsAccepted carries the command's Lane, so each is its own EMF line.
const { logger, metrics } = handlerTelemetry({
  serviceName: SERVICE_NAME,
  environment: settings.environment,
});
const api = buildCommandApi(settings, awsClients(), fromPowertoolsLogger(logger), systemClock, metrics);

export const handler = middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Error, Context>()
  .use(injectLambdaContext(logger))
  .use(flushMetricsAfterEachInvocation(metrics))
  .handler(async (event) => api(toApiRequest(event, callerSettings)));
