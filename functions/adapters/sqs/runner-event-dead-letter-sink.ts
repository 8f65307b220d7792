import { type MessageAttributeValue, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { RunnerEventDeadLetter, RunnerEventDeadLetterSink } from '#core/runner/ports.js';
import { DEAD_LETTER_ATTRIBUTES } from './dead-letter-sink.js';

/** Message attributes of a refused runner event (`reason` and `rationale` as on the lane DLQs). */
export const RUNNER_EVENT_DEAD_LETTER_ATTRIBUTES = {
  reason: DEAD_LETTER_ATTRIBUTES.reason,
  rationale: DEAD_LETTER_ATTRIBUTES.rationale,
  detailType: 'detailType',
  busEventId: 'busEventId',
  eventId: 'eventId',
} as const;

/**
 * Writes refused runner events to the ingest DLQ: the EventBridge event as the
 * body, the reason and rationale as attributes.
 *
 * @example
 * const sink = new SqsRunnerEventDeadLetterSink({ client: sqs, queueUrl: process.env.RUNNER_EVENT_DLQ_URL });
 */
export class SqsRunnerEventDeadLetterSink implements RunnerEventDeadLetterSink {
  readonly #client: SQSClient;
  readonly #queueUrl: string;

  public constructor(options: { readonly client: SQSClient; readonly queueUrl: string }) {
    this.#client = options.client;
    this.#queueUrl = options.queueUrl;
  }

  public async send(message: RunnerEventDeadLetter): Promise<void> {
    const text = (value: string): MessageAttributeValue => ({ DataType: 'String', StringValue: value });
    const names = RUNNER_EVENT_DEAD_LETTER_ATTRIBUTES;
    const attributes: Record<string, MessageAttributeValue> = {
      [names.reason]: text(message.reason),
      [names.rationale]: text(message.rationale || '(none)'),
    };
    if (message.detailType) attributes[names.detailType] = text(message.detailType.slice(0, 256));
    if (message.busEventId) attributes[names.busEventId] = text(message.busEventId.slice(0, 256));
    if (message.eventId) attributes[names.eventId] = text(message.eventId.slice(0, 256));
    await this.#client.send(
      new SendMessageCommand({
        QueueUrl: this.#queueUrl,
        // SQS rejects an empty body.
        MessageBody: message.body.length > 0 ? message.body : '(empty event)',
        MessageAttributes: attributes,
      }),
    );
  }
}
