import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { CommandEnvelope } from '#contracts/envelope.js';
import type { CommandQueue, SendResult } from '#core/queues/ports.js';

/** Sends envelopes to their lane's queue; queue URLs come from configuration, never hard-coded. */
export class SqsCommandQueue implements CommandQueue {
  readonly #client: SQSClient;
  readonly #queueUrls: Readonly<Record<string, string>>;

  public constructor(options: {
    readonly client: SQSClient;
    readonly queueUrls: Readonly<Record<string, string>>;
  }) {
    this.#client = options.client;
    this.#queueUrls = options.queueUrls;
  }

  public async send(envelope: CommandEnvelope): Promise<SendResult> {
    const queueUrl = this.#queueUrls[envelope.lane];
    if (!queueUrl) throw new Error(`no queue URL configured for lane ${envelope.lane}`);
    const result = await this.#client.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify(envelope),
        MessageAttributes: {
          commandType: { DataType: 'String', StringValue: envelope.commandType },
          correlationId: { DataType: 'String', StringValue: envelope.correlationId },
        },
      }),
    );
    if (!result.MessageId) throw new Error(`SQS returned no MessageId for command ${envelope.commandId}`);
    return { messageId: result.MessageId };
  }
}
