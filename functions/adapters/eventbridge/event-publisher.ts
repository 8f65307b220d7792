import { type EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { EventPublisher } from '#core/telemetry/ports.js';

/** Puts single events on the telemetry bus (e.g. ReplayDrillCompleted). */
export class EventBridgeEventPublisher implements EventPublisher {
  readonly #client: EventBridgeClient;
  readonly #busName: string;

  public constructor(options: { readonly client: EventBridgeClient; readonly busName: string }) {
    this.#client = options.client;
    this.#busName = options.busName;
  }

  public async publish(event: {
    readonly source: string;
    readonly detailType: string;
    readonly detail: unknown;
  }): Promise<void> {
    const result = await this.#client.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: this.#busName,
            Source: event.source,
            DetailType: event.detailType,
            Detail: JSON.stringify(event.detail),
          },
        ],
      }),
    );
    if ((result.FailedEntryCount ?? 0) > 0) {
      throw new Error(
        `EventBridge refused ${event.detailType}: ${result.Entries?.[0]?.ErrorCode ?? 'unknown'}`,
      );
    }
  }
}
