import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { buildCommandApi } from '../adapters/api-factory.js';
import { awsClients } from '../adapters/clients.js';
import { toApiRequest } from '../adapters/http-api-request.js';
import { fromPowertoolsLogger } from '../adapters/structured-logger.js';
import { requireJsonStringMap, requireNumber, requireString } from './env.js';

const settings = {
  tableName: requireString('lifecycleTableName'),
  queueUrls: requireJsonStringMap('commandQueueUrls'),
  maxBodyBytes: requireNumber('maxBodyBytes'),
};

const logger = new Logger({ serviceName: 'runlane-api' });
logger.appendPersistentKeys({ environment: process.env.RUNLANE_ENVIRONMENT });
const api = buildCommandApi(settings, awsClients(), fromPowertoolsLogger(logger));

export const handler = middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Error, Context>()
  .use(injectLambdaContext(logger))
  .handler(async (event) => api(toApiRequest(event)));
