import { type MessageAttributeValue, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DeadLetterMessage, DeadLetterSink } from '#core/queues/ports.js';

/** SQS limits a message attribute value; a rationale is evidence, not a log dump. */
const MAX_RATIONALE_CHARS = 1000;

/** Names of the attributes every dead letter carries (read by `runlane dlq` and the replay drill). */
export const DEAD_LETTER_ATTRIBUTES = {
  reason: 'reason',
  rationale: 'rationale',
  lane: 'lane',
  sourceMessageId: 'sourceMessageId',
  receiveCount: 'receiveCount',
  commandId: 'commandId',
  correlationId: 'correlationId',
} as const;

/** Writes dead letters to the lane's DLQ with the original body and the reason attached. */
export class SqsDeadLetterSink implements DeadLetterSink {
  readonly #client: SQSClient;
  readonly #queueUrl: string;

  public constructor(options: { readonly client: SQSClient; readonly queueUrl: string }) {
    this.#client = options.client;
    this.#queueUrl = options.queueUrl;
  }

  public async send(message: DeadLetterMessage): Promise<void> {
    const text = (value: string): MessageAttributeValue => ({ DataType: 'String', StringValue: value });
    const attributes: Record<string, MessageAttributeValue> = {
      [DEAD_LETTER_ATTRIBUTES.reason]: text(message.reason),
      [DEAD_LETTER_ATTRIBUTES.rationale]: text(message.rationale.slice(0, MAX_RATIONALE_CHARS) || '(none)'),
      [DEAD_LETTER_ATTRIBUTES.lane]: text(message.lane),
      [DEAD_LETTER_ATTRIBUTES.sourceMessageId]: text(message.sourceMessageId),
      [DEAD_LETTER_ATTRIBUTES.receiveCount]: {
        DataType: 'Number',
        StringValue: String(message.receiveCount),
      },
    };
    if (message.commandId) attributes[DEAD_LETTER_ATTRIBUTES.commandId] = text(message.commandId);
    if (message.correlationId) attributes[DEAD_LETTER_ATTRIBUTES.correlationId] = text(message.correlationId);
    // SQS rejects an empty body; a poison message may have been empty.
    await this.#client.send(
      new SendMessageCommand({
        QueueUrl: this.#queueUrl,
        MessageBody: message.body.length > 0 ? message.body : '(empty body)',
        MessageAttributes: attributes,
      }),
    );
  }
}
