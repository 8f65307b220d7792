/**
 * Converts SQS `ReceiveMessage` results into the records Lambda's SQS
 * event-source mapping delivers (`aws-lambda`'s `SQSRecord`).
 */
import { createHash } from 'node:crypto';
import type { Message, MessageAttributeValue } from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSMessageAttribute, SQSRecord, SQSRecordAttributes } from 'aws-lambda';

export interface SqsEventSource {
  /** `arn:aws:sqs:<region>:<account>:<queue>`; the region is read from it. */
  readonly queueArn: string;
}

/**
 * Builds the Lambda record for one received message. Expects the message to
 * have been received with `MessageSystemAttributeNames: ['All']` and
 * `MessageAttributeNames: ['All']`; a system attribute SQS did not return is
 * an empty string.
 *
 * @example
 * const record = toSqsRecord(message, { queueArn });
 * record.attributes.ApproximateReceiveCount; // '1'
 */
export function toSqsRecord(message: Message, source: SqsEventSource): SQSRecord {
  const body = message.Body ?? '';
  const received = message.Attributes ?? {};
  const attributes: SQSRecordAttributes = {
    ...received,
    ApproximateReceiveCount: received.ApproximateReceiveCount ?? '',
    SentTimestamp: received.SentTimestamp ?? '',
    SenderId: received.SenderId ?? '',
    ApproximateFirstReceiveTimestamp: received.ApproximateFirstReceiveTimestamp ?? '',
  };
  const record: SQSRecord = {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body,
    attributes,
    messageAttributes: Object.fromEntries(
      Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [
        name,
        toLambdaAttribute(value),
      ]),
    ),
    md5OfBody: message.MD5OfBody ?? createHash('md5').update(body, 'utf8').digest('hex'),
    eventSource: 'aws:sqs',
    eventSourceARN: source.queueArn,
    awsRegion: regionOf(source.queueArn),
  };
  if (message.MD5OfMessageAttributes) record.md5OfMessageAttributes = message.MD5OfMessageAttributes;
  return record;
}

/** @example const event = toSqsEvent(messages, { queueArn }); */
export function toSqsEvent(messages: readonly Message[], source: SqsEventSource): SQSEvent {
  return { Records: messages.map((message) => toSqsRecord(message, source)) };
}

/** Lambda's shape: camelCase, binary as base64, both list fields always present and empty. */
function toLambdaAttribute(value: MessageAttributeValue): SQSMessageAttribute {
  const attribute: SQSMessageAttribute = {
    dataType: value.DataType ?? 'String',
    stringListValues: [],
    binaryListValues: [],
  };
  if (value.StringValue !== undefined) attribute.stringValue = value.StringValue;
  if (value.BinaryValue !== undefined)
    attribute.binaryValue = Buffer.from(value.BinaryValue).toString('base64');
  return attribute;
}

function regionOf(queueArn: string): string {
  const region = queueArn.split(':')[3];
  if (!region) throw new Error(`Not an SQS queue ARN: ${queueArn}`);
  return region;
}
