import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type EventPattern, matchesEventPattern } from '#contracts/event-pattern.js';
import { PortInUseError } from '../errors.js';

/** One event as PutEvents received it. */
export interface ReceivedEvent {
  readonly id: string;
  readonly source: string;
  readonly detailType: string;
  readonly eventBusName: string;
  readonly detail: unknown;
  readonly time: string;
}

/** The event as EventBridge hands it to a rule's target. */
export interface BusEvent {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': string;
  readonly source: string;
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: readonly string[];
  readonly detail: unknown;
}

export interface LocalEventRule {
  readonly name: string;
  readonly pattern: EventPattern;
  /** Called for every matching event; a failure is reported, never returned to the publisher. */
  readonly deliver: (event: BusEvent) => Promise<void>;
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
export async function startLocalEventBus(
  options: {
    readonly port?: number;
    /** Rules routing accepted events to targets, with EventBridge pattern semantics. */
    readonly rules?: readonly LocalEventRule[];
    readonly onDeliveryError?: (rule: string, error: unknown) => void;
  } = {},
): Promise<LocalEventBus> {
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
      const received: ReceivedEvent = {
        id,
        source: String(entry.Source ?? ''),
        detailType: String(entry.DetailType ?? ''),
        eventBusName: String(entry.EventBusName ?? 'default'),
        detail,
        time:
          typeof entry.Time === 'number'
            ? new Date(entry.Time * 1000).toISOString()
            : new Date().toISOString(),
      };
      events.push(received);
      route(received);
      return { EventId: id };
    });
    reply(200, { FailedEntryCount: results.filter((r) => 'ErrorCode' in r).length, Entries: results });
  });
  function route(received: ReceivedEvent): void {
    const event: BusEvent = {
      version: '0',
      id: received.id,
      'detail-type': received.detailType,
      source: received.source,
      account: '000000000000',
      time: received.time,
      region: 'us-east-1',
      resources: [],
      detail: received.detail,
    };
    for (const rule of options.rules ?? []) {
      if (!matchesEventPattern(rule.pattern, event)) continue;
      rule.deliver(event).catch((error: unknown) => options.onDeliveryError?.(rule.name, error));
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new PortInUseError('EventBridge endpoint', options.port ?? 0, { cause: error })
          : error,
      ),
    );
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
