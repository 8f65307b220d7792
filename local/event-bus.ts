import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One event as PutEvents received it. */
export interface ReceivedEvent {
  readonly id: string;
  readonly source: string;
  readonly detailType: string;
  readonly eventBusName: string;
  readonly detail: unknown;
  readonly time: string;
}

export interface LocalEventBus {
  /** `http://127.0.0.1:<port>`, for `AWS_ENDPOINT_URL_EVENTBRIDGE` or a client's `endpoint`. */
  readonly endpoint: string;
  readonly events: readonly ReceivedEvent[];
  /** Makes the next PutEvents calls fail (HTTP 500), to exercise telemetry failure paths. */
  failRequests(fail: boolean): void;
  stop(): Promise<void>;
}

const MAX_ENTRIES = 10;

/**
 * A small EventBridge `PutEvents` endpoint (JSON 1.1 protocol) on 127.0.0.1,
 * so the same SDK client code publishes over the wire locally. It records the
 * entries; routing events to rules belongs to the local stack.
 */
export async function startLocalEventBus(options: { readonly port?: number } = {}): Promise<LocalEventBus> {
  const events: ReceivedEvent[] = [];
  let failing = false;
  const server: Server = createServer(async (request, response) => {
    const reply = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
      response.end(JSON.stringify(body));
    };
    const target = request.headers['x-amz-target'];
    if (request.method !== 'POST' || target !== 'AWSEvents.PutEvents') {
      return reply(400, {
        __type: 'UnknownOperationException',
        message: `unsupported operation ${String(target)}`,
      });
    }
    if (failing) return reply(500, { __type: 'InternalException', message: 'local bus told to fail' });
    let input: { Entries?: Record<string, unknown>[] };
    try {
      input = JSON.parse(await readBody(request));
    } catch {
      return reply(400, { __type: 'ValidationException', message: 'body is not JSON' });
    }
    const entries = input.Entries ?? [];
    if (entries.length === 0 || entries.length > MAX_ENTRIES) {
      return reply(400, {
        __type: 'ValidationException',
        message: `Entries must hold 1-${MAX_ENTRIES} items`,
      });
    }
    const results = entries.map((entry) => {
      const id = randomUUID();
      let detail: unknown;
      try {
        detail = JSON.parse(String(entry.Detail ?? '{}'));
      } catch {
        return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is not valid JSON' };
      }
      events.push({
        id,
        source: String(entry.Source ?? ''),
        detailType: String(entry.DetailType ?? ''),
        eventBusName: String(entry.EventBusName ?? 'default'),
        detail,
        time:
          typeof entry.Time === 'number'
            ? new Date(entry.Time * 1000).toISOString()
            : new Date().toISOString(),
      });
      return { EventId: id };
    });
    reply(200, { FailedEntryCount: results.filter((r) => 'ErrorCode' in r).length, Entries: results });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    events,
    failRequests: (fail) => {
      failing = fail;
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}
