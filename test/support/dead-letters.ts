import { type Message, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';

/**
 * Up to 10 messages from the DLQ at `queueUrl` with all their attributes, waiting up to
 * `waitSeconds` for the first. Received, not deleted: the tests only read what was dead-lettered.
 */
export async function receiveDeadLetterMessages(
  sqs: SQSClient,
  queueUrl: string,
  waitSeconds = 1,
): Promise<Message[]> {
  const received = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: 10,
      MessageAttributeNames: ['All'],
      WaitTimeSeconds: waitSeconds,
    }),
  );
  return received.Messages ?? [];
}

/** A dead-lettered message as the tests compare it: its body and its string attributes by name. */
export interface DeadLetterContents {
  readonly body: string;
  readonly attributes: Record<string, string | undefined>;
}

export function deadLetterContents(messages: readonly Message[]): DeadLetterContents[] {
  return messages.map((message) => ({
    body: message.Body ?? '',
    attributes: Object.fromEntries(
      Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [name, value.StringValue]),
    ),
  }));
}
