import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { JWTPayload } from 'jose';
import {
  API_ROUTES,
  type ApiMethod,
  compileRoutePath,
  ROUTE_GROUP_AUTH,
  type RouteGroup,
} from '#contracts/api-routes.js';
import { LOCAL_ACCOUNT_ID, type LocalAuth, principalUserId } from '../auth/auth-folder.js';
import { mayInvoke } from '../auth/iam-policy.js';
import { verifyLocalToken } from '../auth/jwt.js';
import { verifySignedRequest } from '../auth/sigv4.js';
import { PortInUseError } from '../errors.js';

export type HttpApiHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

/** A route served by the local stack itself (not part of the public API), e.g. `/_local/info`. */
export type LocalRoute = (request: { method: string; path: string; body: string }) => Promise<{
  statusCode: number;
  body: unknown;
}>;

export interface LocalApiGatewayOptions {
  readonly port: number;
  readonly handler: HttpApiHandler;
  /** The auth folder the authorizers verify against: its JWT issuer key and IAM principals. */
  readonly auth: Pick<LocalAuth, 'signingKey' | 'principalByAccessKey'>;
  /**
   * `api.authorization` of the environment: `none` (sandboxes) puts no IAM authorizer on the
   * operator and worker routes; household routes keep their JWT authorizer either way.
   * @default 'iam'
   */
  readonly authorization?: 'iam' | 'none';
  /** Paths under `/_local/` answered by the local stack. */
  readonly localRoutes?: Readonly<Record<string, LocalRoute>>;
  /** API Gateway HTTP APIs refuse payloads over 10 MB before the function sees them. */
  readonly maxPayloadBytes?: number;
}

export interface LocalApiGateway {
  readonly url: string;
  readonly port: number;
  /** Stops accepting connections and waits for in-flight requests. */
  stop(): Promise<void>;
}

const API_GATEWAY_MAX_PAYLOAD = 10 * 1024 * 1024;

/**
 * Serves an HTTP API (payload format 2.0) on 127.0.0.1 as API Gateway serves the deployed one:
 * the route table (`API_ROUTES`) first (no route: 404 `{"message":"Not Found"}`), then the route
 * group's authorizer: household routes a JWT from the local issuer (missing or invalid: 401
 * `{"message":"Unauthorized"}`), operator and worker routes SigV4 against the auth folder's
 * credentials and the principal's emulated IAM policy (unsigned, bad or not allowed: 403
 * `{"message":"Forbidden"}`). What passes becomes an `APIGatewayProxyEventV2` with
 * `requestContext.authorizer` filled as API Gateway fills it, for the same handler code that runs
 * in Lambda.
 */
export async function startLocalApiGateway(options: LocalApiGatewayOptions): Promise<LocalApiGateway> {
  const maxPayload = options.maxPayloadBytes ?? API_GATEWAY_MAX_PAYLOAD;
  const server: Server = createServer((request, response) => {
    void handle(request, response).catch((error: unknown) => {
      // The handler already turns its own errors into responses; this is the adapter failing.
      reply(
        response,
        500,
        { 'content-type': 'application/json' },
        JSON.stringify({ message: 'Internal Server Error' }),
      );
      console.error('local API gateway error', error);
    });
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of request) {
      size += (chunk as Buffer).length;
      if (size > maxPayload) {
        reply(
          response,
          413,
          { 'content-type': 'application/json' },
          JSON.stringify({ message: 'Request Entity Too Large' }),
        );
        return;
      }
      chunks.push(chunk as Buffer);
    }
    const body = Buffer.concat(chunks);
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const local = url.pathname.startsWith('/_local/') ? options.localRoutes?.[url.pathname] : undefined;
    if (url.pathname.startsWith('/_local/')) {
      if (!local)
        return reply(
          response,
          404,
          { 'content-type': 'application/json' },
          JSON.stringify({ message: 'Not Found' }),
        );
      const result = await local({
        method: request.method ?? 'GET',
        path: url.pathname,
        body: body.toString('utf8'),
      });
      return reply(
        response,
        result.statusCode,
        { 'content-type': 'application/json' },
        JSON.stringify(result.body),
      );
    }
    const route = matchRoute(request.method ?? 'GET', url.pathname);
    if (!route) return replyMessage(response, 404, 'Not Found');
    const authorized = await authorize(options, route, request, url, body);
    if (authorized.status !== 200)
      return replyMessage(response, authorized.status, authorized.message, authorized.headers);
    const event = toHttpApiEvent(request, url, body);
    const result = await options.handler({
      ...event,
      routeKey: route.routeKey,
      ...(Object.keys(route.params).length > 0 ? { pathParameters: decodedParams(route.params) } : {}),
      requestContext: {
        ...event.requestContext,
        routeKey: route.routeKey,
        ...(authorized.authorizer ? { authorizer: authorized.authorizer } : {}),
      },
    });
    reply(response, result.statusCode ?? 200, stringHeaders(result.headers), decodeBody(result));
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new PortInUseError('API', options.port, { cause: error }) : error),
    );
    server.listen(options.port, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

/** The event API Gateway would send for this request (payload format 2.0). */
export function toHttpApiEvent(request: IncomingMessage, url: URL, body: Buffer): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined) continue;
    if (name === 'cookie') cookies.push(...String(value).split(/;\s*/));
    else headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams)
    query[name] = name in query ? `${query[name]},${value}` : value;
  const method = request.method ?? 'GET';
  const textual = /json|text|xml|urlencoded/i.test(headers['content-type'] ?? '') || body.length === 0;
  const now = new Date();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.replace(/^\?/, ''),
    ...(cookies.length > 0 ? { cookies } : {}),
    headers,
    ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: headers.host ?? '127.0.0.1',
      domainPrefix: 'local',
      http: {
        method,
        path: url.pathname,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...(body.length > 0 ? { body: textual ? body.toString('utf8') : body.toString('base64') } : {}),
    isBase64Encoded: !textual,
  };
}

interface Route {
  readonly routeKey: string;
  readonly group: RouteGroup;
  /** Path parameters as sent (percent-encoded). */
  readonly params: Record<string, string>;
}

const ROUTES = Object.values(API_ROUTES).map((route) => ({
  method: route.method as ApiMethod,
  routeKey: `${route.method} ${route.path}`,
  group: route.group as RouteGroup,
  ...compileRoutePath(route.path),
}));

/** The API route of a request, as API Gateway picks a route key; undefined when none matches. */
function matchRoute(method: string, path: string): Route | undefined {
  for (const route of ROUTES) {
    if (route.method !== method) continue;
    const match = route.pattern.exec(path);
    if (!match) continue;
    const params: Record<string, string> = {};
    route.params.forEach((name, index) => {
      params[name] = match[index + 1] ?? '';
    });
    return { routeKey: route.routeKey, group: route.group, params };
  }
  return undefined;
}

/** API Gateway hands path parameters over decoded (one that does not decode, as sent). */
function decodedParams(params: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(params).map(([name, value]) => {
      try {
        return [name, decodeURIComponent(value)];
      } catch {
        return [name, value];
      }
    }),
  );
}

/** The JWT authorizer's context (payload 2.0): every claim as a string. */
interface JwtAuthorizerContext {
  readonly jwt: { readonly claims: Record<string, string>; readonly scopes: null };
}

/** The IAM authorizer's context (payload 2.0). */
interface IamAuthorizerContext {
  readonly iam: {
    readonly accessKey: string;
    readonly accountId: string;
    readonly callerId: string;
    readonly cognitoIdentity: null;
    readonly principalOrgId: null;
    readonly userArn: string;
    readonly userId: string;
  };
}

type Authorization =
  | { readonly status: 200; readonly authorizer?: JwtAuthorizerContext | IamAuthorizerContext }
  | { readonly status: 401 | 403; readonly message: string; readonly headers?: Record<string, string> };

const FORBIDDEN = { status: 403, message: 'Forbidden' } as const;

/** What the route group's authorizer decides, and the context it hands the integration. */
async function authorize(
  options: LocalApiGatewayOptions,
  route: Route,
  request: IncomingMessage,
  url: URL,
  body: Buffer,
): Promise<Authorization> {
  const headers = request.headers as Record<string, string | undefined>;
  if (ROUTE_GROUP_AUTH[route.group] === 'jwt') {
    const token = /^(?:Bearer\s+)?(\S+)\s*$/i.exec(headers.authorization ?? '')?.[1];
    if (!token) return { status: 401, message: 'Unauthorized', headers: { 'www-authenticate': 'Bearer' } };
    const check = await verifyLocalToken(options.auth, token);
    if (!check.ok)
      return {
        status: 401,
        message: 'Unauthorized',
        headers: {
          'www-authenticate': `Bearer scope="" error="invalid_token" error_description="${check.reason}"`,
        },
      };
    return { status: 200, authorizer: { jwt: { claims: gatewayClaims(check.claims), scopes: null } } };
  }
  if (options.authorization === 'none') return { status: 200 };
  const rawUrl = request.url ?? '/';
  const query = rawUrl.indexOf('?');
  const check = await verifySignedRequest(options.auth, {
    method: request.method ?? 'GET',
    rawPath: query < 0 ? rawUrl : rawUrl.slice(0, query),
    query: url.searchParams,
    headers,
    body,
  });
  if (!check.ok || !mayInvoke(check.principal, route)) return FORBIDDEN;
  const userId = principalUserId(check.principal.arn);
  return {
    status: 200,
    authorizer: {
      iam: {
        accessKey: check.principal.accessKeyId,
        accountId: LOCAL_ACCOUNT_ID,
        callerId: userId,
        cognitoIdentity: null,
        principalOrgId: null,
        userArn: check.principal.arn,
        userId,
      },
    },
  };
}

/** Claims as API Gateway passes them: strings; a list as `[a b]`, an object as JSON. */
function gatewayClaims(payload: JWTPayload): Record<string, string> {
  const claims: Record<string, string> = {};
  for (const [name, value] of Object.entries(payload)) {
    claims[name] = Array.isArray(value)
      ? `[${value.map(String).join(' ')}]`
      : typeof value === 'object' && value !== null
        ? JSON.stringify(value)
        : String(value);
  }
  return claims;
}

function replyMessage(
  response: ServerResponse,
  status: number,
  message: string,
  headers: Record<string, string> = {},
): void {
  reply(response, status, { 'content-type': 'application/json', ...headers }, JSON.stringify({ message }));
}

function stringHeaders(headers: APIGatewayProxyStructuredResultV2['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) out[name] = String(value);
  return out;
}

function decodeBody(result: APIGatewayProxyStructuredResultV2): string | Buffer {
  if (result.body === undefined) return '';
  return result.isBase64Encoded ? Buffer.from(result.body, 'base64') : result.body;
}

function reply(
  response: ServerResponse,
  status: number,
  headers: Record<string, string>,
  body: string | Buffer,
): void {
  if (response.headersSent) return;
  response.writeHead(status, headers);
  response.end(body);
}
