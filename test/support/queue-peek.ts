import {
  ChangeMessageVisibilityCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';

/**
 * Every message visible on the queue right now, left on it: received (hidden for a moment), then
 * made visible again. Each peek adds one to the messages' receive counts.
 */
export async function peekQueue(sqs: SQSClient, queueUrl: string): Promise<Message[]> {
  const seen = new Map<string, Message>();
  for (;;) {
    const page = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 30,
        WaitTimeSeconds: 0,
      }),
    );
    const messages = page.Messages ?? [];
    if (messages.length === 0) break;
    for (const message of messages) seen.set(message.MessageId ?? '', message);
  }
  await Promise.all(
    [...seen.values()].map((message) =>
      sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: queueUrl,
          ReceiptHandle: message.ReceiptHandle,
          VisibilityTimeout: 0,
        }),
      ),
    ),
  );
  return [...seen.values()];
}
