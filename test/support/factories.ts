import { randomUUID } from 'node:crypto';
import type { Context, SQSRecord } from 'aws-lambda';
import {
  type CommandEnvelope,
  conversationalCorrelationId,
  ENVELOPE_SCHEMA_VERSION,
} from '#contracts/envelope.js';

/** A valid envelope; override any field. */
export function anEnvelope(overrides: Partial<CommandEnvelope> = {}): CommandEnvelope {
  const commandId = overrides.commandId ?? randomUUID();
  const householdId = overrides.householdId ?? 'hh-1';
  const conversationId = overrides.conversationId ?? 'conv-1';
  return {
    schemaVersion: ENVELOPE_SCHEMA_VERSION,
    commandId,
    commandType: 'agent.message.posted',
    lane: 'runtime-agent-message-posted',
    correlationId: conversationalCorrelationId(householdId, conversationId, commandId),
    householdId,
    conversationId,
    issuedAt: new Date().toISOString(),
    payload: { text: 'remind me to water the plants' },
    ...overrides,
  };
}

export function anIngestionEnvelope(
  payload: Record<string, unknown> = {},
  overrides: Partial<CommandEnvelope> = {},
) {
  const commandId = overrides.commandId ?? randomUUID();
  const { conversationId: _c, ...base } = anEnvelope({ commandId });
  return {
    ...base,
    commandType: 'ingestion.completed',
    lane: 'runtime-ingestion-completed',
    correlationId: `ingestion:bank-feed:${commandId}`,
    payload: {
      source: 'bank-feed',
      batchId: 'b-1',
      recordsReceived: 100,
      recordsImported: 99,
      errorCount: 1,
      ...payload,
    },
    ...overrides,
  } as CommandEnvelope;
}

let messageCounter = 0;

/** An SQS record as the event source mapping delivers it. */
export function anSqsRecord(
  body: string,
  overrides: { messageId?: string; receiveCount?: number } = {},
): SQSRecord {
  messageCounter += 1;
  return {
    messageId: overrides.messageId ?? `msg-${messageCounter}-${randomUUID()}`,
    receiptHandle: `rh-${messageCounter}`,
    body,
    attributes: {
      ApproximateReceiveCount: String(overrides.receiveCount ?? 1),
      SentTimestamp: String(Date.now()),
      SenderId: 'test',
      ApproximateFirstReceiveTimestamp: String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:test',
    awsRegion: 'us-east-1',
  };
}

/** A Lambda context whose remaining time is fixed (0 reproduces Powertools' no-expiry trap). */
export function aLambdaContext(remainingMs = 30_000): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'test-fn',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:test-fn',
    memoryLimitInMB: '256',
    awsRequestId: randomUUID(),
    logGroupName: '/aws/lambda/test-fn',
    logStreamName: 'stream',
    getRemainingTimeInMillis: () => remainingMs,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** A logger that keeps what it was told, for assertions on structured fields. */
export function aRecordingLogger() {
  const lines: { level: string; message: string; extra: Record<string, unknown> }[] = [];
  const log =
    (level: string) =>
    (message: string, extra: Record<string, unknown> = {}) => {
      lines.push({ level, message, extra });
    };
  return { lines, info: log('info'), warn: log('warn'), error: log('error') };
}
