import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { buildCommandApi } from '../adapters/api-factory.js';
import { awsClients } from '../adapters/clients.js';
import { fromPowertoolsLogger } from '../adapters/structured-logger.js';
import type { ApiRequest } from '../core/api/command-api.js';
import { requireJsonStringMap, requireNumber, requireString } from './env.js';

const settings = {
  tableName: requireString('lifecycleTableName'),
  queueUrls: requireJsonStringMap('commandQueueUrls'),
  maxBodyBytes: requireNumber('maxBodyBytes'),
};

const logger = new Logger({ serviceName: 'runlane-api' });
logger.appendPersistentKeys({ environment: process.env.RUNLANE_ENVIRONMENT });
const api = buildCommandApi(settings, awsClients(), fromPowertoolsLogger(logger));

/** Turns an HTTP API (payload v2) event into the API's request shape. */
export function toApiRequest(event: APIGatewayProxyEventV2): ApiRequest {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) headers[name.toLowerCase()] = value;
  const body =
    event.body === undefined
      ? undefined
      : event.isBase64Encoded
        ? Buffer.from(event.body, 'base64').toString('utf8')
        : event.body;
  return {
    method: event.requestContext.http.method,
    path: event.rawPath,
    headers,
    query: event.queryStringParameters ?? {},
    ...(body !== undefined ? { body } : {}),
    requestId: event.requestContext.requestId,
  };
}

export const handler = middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Error, Context>()
  .use(injectLambdaContext(logger))
  .handler(async (event) => api(toApiRequest(event)));
