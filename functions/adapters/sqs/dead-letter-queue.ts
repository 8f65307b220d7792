import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { DeadLetterMessageRead, DeadLetterQueue } from '#core/queues/ports.js';

/** A lane's DLQ on SQS, for `runlane dlq` and the replay drill. */
export class SqsDeadLetterQueue implements DeadLetterQueue {
  readonly #client: SQSClient;
  readonly #queueUrl: string;

  public constructor(options: { readonly client: SQSClient; readonly queueUrl: string }) {
    this.#client = options.client;
    this.#queueUrl = options.queueUrl;
  }

  public async receive(max: number, visibilitySeconds: number): Promise<DeadLetterMessageRead[]> {
    const read: DeadLetterMessageRead[] = [];
    const seen = new Set<string>();
    // SQS returns at most 10 per call; keep asking until enough or nothing new.
    while (read.length < max) {
      const result = await this.#client.send(
        new ReceiveMessageCommand({
          QueueUrl: this.#queueUrl,
          MaxNumberOfMessages: Math.min(10, max - read.length),
          // Held long enough to restore it ourselves; a peek puts it back at once.
          VisibilityTimeout: Math.max(visibilitySeconds, 30),
          MessageAttributeNames: ['All'],
          MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'],
          WaitTimeSeconds: 0,
        }),
      );
      const fresh = (result.Messages ?? []).filter(
        (m) => m.MessageId && m.ReceiptHandle && !seen.has(m.MessageId),
      );
      if (fresh.length === 0) break;
      for (const message of fresh) {
        seen.add(message.MessageId ?? '');
        const attributes: Record<string, string> = {};
        for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
          if (value.StringValue !== undefined) attributes[name] = value.StringValue;
        }
        read.push({
          messageId: message.MessageId ?? '',
          receiptHandle: message.ReceiptHandle ?? '',
          body: message.Body ?? '',
          attributes,
          receiveCount: Number(message.Attributes?.ApproximateReceiveCount ?? 1),
          sentAt: Number(message.Attributes?.SentTimestamp ?? 0),
        });
      }
    }
    if (visibilitySeconds === 0) await Promise.all(read.map((m) => this.restore(m.receiptHandle)));
    return read;
  }

  public async restore(receiptHandle: string): Promise<void> {
    await this.#client.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: this.#queueUrl,
        ReceiptHandle: receiptHandle,
        VisibilityTimeout: 0,
      }),
    );
  }

  public async delete(receiptHandle: string): Promise<void> {
    await this.#client.send(
      new DeleteMessageCommand({ QueueUrl: this.#queueUrl, ReceiptHandle: receiptHandle }),
    );
  }
}
