import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
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
 * Serves an HTTP API (payload format 2.0) on 127.0.0.1: each request becomes
 * an `APIGatewayProxyEventV2` for the same handler code that runs in Lambda.
 * Authorization (IAM/SigV4) is not emulated.
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
    const result = await options.handler(toHttpApiEvent(request, url, body));
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
