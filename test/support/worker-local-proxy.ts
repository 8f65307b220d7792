import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A small HTTP proxy in front of the local API for a worker, standing in for the network between
 * a host and the control plane: claims and heartbeats always pass; results (`POST
 * /api/workers/sites/<site>/results`) pass, meet a dead connection (`down`: the socket is
 * destroyed, as an outage looks to the worker), or wait until released (`hold`). Requests are
 * forwarded with their headers as sent (`host` included), so the worker's SigV4 signature —
 * made for the proxy's address — still holds at the API.
 */
export type ResultsMode = 'pass' | 'down' | 'hold';

export interface ForwardedResult {
  readonly payloadType: string;
  readonly taskId: string | undefined;
  readonly status: number;
  readonly body: unknown;
}

export interface ResultsProxy {
  readonly url: string;
  /** Results the API answered, in the order they reached it. */
  readonly forwarded: readonly ForwardedResult[];
  /** Result requests whose connection was dropped (`down`). */
  readonly dropped: () => number;
  /** Result requests waiting (`hold`). */
  readonly held: () => number;
  setResults(mode: ResultsMode): void;
  /** Forwards the held requests, in arrival order, and lets later ones pass. */
  release(): void;
  stop(): Promise<void>;
}

const RESULTS_PATH = /^\/api\/workers\/sites\/[^/]+\/results$/;

export async function startResultsProxy(target: string): Promise<ResultsProxy> {
  let mode: ResultsMode = 'pass';
  let dropped = 0;
  const forwarded: ForwardedResult[] = [];
  const waiting: (() => void)[] = [];

  const forward = async (request: IncomingMessage, body: Buffer, response: ServerResponse) => {
    const upstream = await send(target, request, body);
    const text = upstream.text;
    if (RESULTS_PATH.test(request.url ?? '')) {
      const envelope = JSON.parse(body.toString('utf8')) as { payload_type: string; task_id?: string };
      forwarded.push({
        payloadType: envelope.payload_type,
        taskId: envelope.task_id,
        status: upstream.status,
        body: text === '' ? undefined : JSON.parse(text),
      });
    }
    response.writeHead(upstream.status, { 'content-type': 'application/json' });
    response.end(text);
  };

  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      const isResult = request.method === 'POST' && RESULTS_PATH.test(request.url ?? '');
      if (isResult && mode === 'down') {
        dropped++;
        request.socket.destroy();
        return;
      }
      const go = () =>
        forward(request, body, response).catch(() => {
          response.writeHead(502);
          response.end();
        });
      if (isResult && mode === 'hold') waiting.push(go);
      else void go();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    forwarded,
    dropped: () => dropped,
    held: () => waiting.length,
    setResults: (next) => {
      mode = next;
    },
    release: () => {
      mode = 'pass';
      for (const go of waiting.splice(0)) go();
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The request to `target` as it came (method, path, headers with `host`, body); the answer's status and text. */
function send(
  target: string,
  request: IncomingMessage,
  body: Buffer,
): Promise<{ status: number; text: string }> {
  const url = new URL(target);
  const headers = { ...request.headers };
  delete headers.connection;
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      {
        hostname: url.hostname,
        port: url.port,
        method: request.method ?? 'GET',
        path: request.url ?? '/',
        headers,
      },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.once('end', () =>
          resolve({ status: answer.statusCode ?? 502, text: Buffer.concat(chunks).toString('utf8') }),
        );
        answer.once('error', reject);
      },
    );
    outgoing.once('error', reject);
    outgoing.end(body);
  });
}
