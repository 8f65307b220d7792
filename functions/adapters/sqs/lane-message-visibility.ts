import { ChangeMessageVisibilityCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { LaneMessageVisibility } from '#core/queues/ports.js';

/** The lane worker's own queue: hides a received message (the event source mapping's grant allows it). */
export class SqsLaneMessageVisibility implements LaneMessageVisibility {
  readonly #client: SQSClient;
  readonly #queueUrl: string;

  public constructor(options: { readonly client: SQSClient; readonly queueUrl: string }) {
    this.#client = options.client;
    this.#queueUrl = options.queueUrl;
  }

  public async hideFor(receiptHandle: string, seconds: number): Promise<void> {
    await this.#client.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: this.#queueUrl,
        ReceiptHandle: receiptHandle,
        VisibilityTimeout: seconds,
      }),
    );
  }
}
