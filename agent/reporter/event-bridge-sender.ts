import type {
  PutEventsCommand,
  PutEventsCommandOutput,
  PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge';
import { AGENT_EVENT_SOURCE } from '#contracts/agent-event-names.js';
import type { AgentBusEvent } from '#contracts/agent-events.js';

/** PutEvents takes at most 10 entries per call. */
export const PUT_EVENTS_MAX_ENTRIES = 10;

/** Why one event was not delivered. */
export interface UndeliveredEvent {
  readonly id: string;
  /** EventBridge's per-entry `ErrorCode`, or the error of the whole request. */
  readonly reason: string;
}

export interface SendResult {
  /** Ids of the events EventBridge gave an event id: the only acknowledgement. */
  readonly deliveredIds: readonly string[];
  readonly undelivered: readonly UndeliveredEvent[];
}

/**
 * What the sender sends PutEvents through: an SDK EventBridgeClient, or the agent's
 * LazyEventBridgeClient (setup.ts), which loads the SDK on its first send.
 */
export interface PutEventsClient {
  send(command: PutEventsCommand): Promise<PutEventsCommandOutput>;
}

/**
 * Sends agent events to one EventBridge bus with PutEvents, 10 entries per call.
 *
 * A 200 is not an acknowledgement: with `FailedEntryCount > 0` only the entries that
 * came back with an `EventId` were delivered; the others (and every entry of a request
 * that failed outright — a 5xx, a dropped connection, a timeout, missing credentials)
 * are reported as undelivered so the caller can spool them. Never throws.
 *
 * @example
 * const sender = new EventBridgeSender({ client: new EventBridgeClient({}), busName: 'runlane-dev-telemetry' });
 * const { deliveredIds, undelivered } = await sender.send([{ detailType: 'RunnerStall', detail: stall }]);
 */
export class EventBridgeSender {
  readonly #client: PutEventsClient;
  public readonly busName: string;

  public constructor(options: { readonly client: PutEventsClient; readonly busName: string }) {
    this.#client = options.client;
    this.busName = options.busName;
  }

  public async send(events: readonly AgentBusEvent[]): Promise<SendResult> {
    const deliveredIds: string[] = [];
    const undelivered: UndeliveredEvent[] = [];
    for (let start = 0; start < events.length; start += PUT_EVENTS_MAX_ENTRIES) {
      const batch = events.slice(start, start + PUT_EVENTS_MAX_ENTRIES);
      const result = await this.sendBatch(batch);
      deliveredIds.push(...result.deliveredIds);
      undelivered.push(...result.undelivered);
    }
    return { deliveredIds, undelivered };
  }

  private async sendBatch(batch: readonly AgentBusEvent[]): Promise<SendResult> {
    const entries: PutEventsRequestEntry[] = batch.map((event) => ({
      EventBusName: this.busName,
      Source: AGENT_EVENT_SOURCE,
      DetailType: event.detailType,
      Detail: JSON.stringify(event.detail),
      Time: new Date(event.detail.ts),
    }));
    let response: PutEventsCommandOutput;
    try {
      // The SDK is loaded on the first send (an idle `runlane-agent run` never pays for it).
      const { PutEventsCommand } = await import('@aws-sdk/client-eventbridge');
      response = await this.#client.send(new PutEventsCommand({ Entries: entries }));
    } catch (error) {
      const reason = describeError(error);
      return { deliveredIds: [], undelivered: batch.map((event) => ({ id: event.detail.id, reason })) };
    }
    // Result entries are in request order; an entry without an EventId was not taken.
    const deliveredIds: string[] = [];
    const undelivered: UndeliveredEvent[] = [];
    batch.forEach((event, index) => {
      const entry = response.Entries?.[index];
      if (entry?.EventId) deliveredIds.push(event.detail.id);
      else
        undelivered.push({
          id: event.detail.id,
          reason: entry?.ErrorCode
            ? `${entry.ErrorCode}: ${entry.ErrorMessage ?? ''}`.trim()
            : 'no event id returned',
        });
    });
    return { deliveredIds, undelivered };
  }
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    const code = (error as NodeJS.ErrnoException).code;
    return [error.name, status === undefined ? undefined : `HTTP ${status}`, code, error.message]
      .filter((part) => part !== undefined && part !== '')
      .join(': ');
  }
  return String(error);
}
