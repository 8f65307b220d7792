import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { asciiJson, type CommandEnvelope, serializeEnvelope } from '#contracts/envelope.js';
import type { CommandQueue, SendResult } from '#core/queues/ports.js';

/**
 * Sends envelopes to their lane's queue; queue URLs come from configuration, never hard-coded.
 * The body is `serializeEnvelope` (printable ASCII), so SQS takes it whatever the user typed.
 */
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
        MessageBody: serializeEnvelope(envelope),
        MessageAttributes: {
          commandType: { DataType: 'String', StringValue: attributeText(envelope.commandType) },
          correlationId: { DataType: 'String', StringValue: attributeText(envelope.correlationId) },
        },
      }),
    );
    if (!result.MessageId) throw new Error(`SQS returned no MessageId for command ${envelope.commandId}`);
    return { messageId: result.MessageId };
  }
}

/**
 * An attribute value SQS takes: printable ASCII as is, anything else JSON-escaped (attributes
 * obey the body's character rules; a replayed correlationId may carry any character).
 */
function attributeText(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : asciiJson(value).slice(1, -1);
}
