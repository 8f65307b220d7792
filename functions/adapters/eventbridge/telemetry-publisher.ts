import { type EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { BatchTelemetry, TelemetryPublisher } from '#core/telemetry/ports.js';

export const TELEMETRY_SOURCE = 'runlane.lanes';
export const BATCH_SUMMARY_DETAIL_TYPE = 'LaneBatchProcessed';

/** One EventBridge entry per processed batch (EventBridge bills per entry). */
export class EventBridgeTelemetryPublisher implements TelemetryPublisher {
  readonly #client: EventBridgeClient;
  readonly #busName: string;

  public constructor(options: { readonly client: EventBridgeClient; readonly busName: string }) {
    this.#client = options.client;
    this.#busName = options.busName;
  }

  public async publishBatchSummary(summary: BatchTelemetry): Promise<void> {
    const result = await this.#client.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: this.#busName,
            Source: TELEMETRY_SOURCE,
            DetailType: BATCH_SUMMARY_DETAIL_TYPE,
            Detail: JSON.stringify(summary),
            Time: new Date(summary.at),
          },
        ],
      }),
    );
    if ((result.FailedEntryCount ?? 0) > 0) {
      const entry = result.Entries?.find((e) => e.ErrorCode);
      throw new Error(
        `EventBridge refused the batch summary: ${entry?.ErrorCode ?? 'unknown'} ${entry?.ErrorMessage ?? ''}`,
      );
    }
  }
}
