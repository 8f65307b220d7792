import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { ApiRequest } from '#core/api/command-api.js';
import { type CallerSettings, callerOf } from './caller.js';

/**
 * Turns an API Gateway HTTP API (payload 2.0) event into the API's request
 * shape: header names in lower case, base64 bodies decoded, and the caller
 * the route's authorizer proved (`callerOf`: JWT claims or the IAM caller ARN).
 *
 * @example
 * const response = await api(toApiRequest(event, { environmentName: 'dev' }));
 */
export function toApiRequest(event: APIGatewayProxyEventV2, callerSettings: CallerSettings): ApiRequest {
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
    caller: callerOf(event, callerSettings),
  };
}
