import { randomUUID } from 'node:crypto';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqsCommandQueue } from '#adapters/sqs/command-queue.js';
import { parseEnvelope } from '#contracts/envelope.js';
import { LANES } from '#contracts/lanes.js';
import { keys } from '#contracts/tables.js';
import type { ApiRequest } from '#core/api/command-api.js';
import { aHouseholdCaller, anApprover } from '../support/api-requests.js';
import { anEnvelope } from '../support/factories.js';
import { createPipeline, type Pipeline } from '../support/pipeline.js';
import { peekQueue } from '../support/queue-peek.js';

const LANE = 'runtime-agent-message-posted';
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** Text SQS refuses as is (U+FFFE, U+FFFF, lone surrogates, most controls) or the emulator does (emoji). */
const TEXTS: [string, string][] = [
  ['emoji', 'pay the plumber \u{1F9FE} \u{1F600}\u{1F44D}\u{1F3FD}'],
  ['U+FFFE and U+FFFF', 'before \uFFFE between \uFFFF after'],
  ['control characters', 'bell\u0007 backspace\u0008 unit\u001F delete\u007F nul\u0000'],
  ['accents, CJK and RTL', 'caf\u00E9 \u6C34\u3092\u3084\u308B \u05E9\u05DC\u05D5\u05DD'],
  ['a lone high surrogate', 'broken \uD83D pair'],
  ['a lone low surrogate', 'broken \uDE00 pair'],
];

function post(path: string, body: unknown, caller = aHouseholdCaller('hh-1')): ApiRequest {
  return {
    method: 'POST',
    path,
    headers: { 'content-type': 'application/json' },
    query: {},
    body: JSON.stringify(body),
    requestId: randomUUID(),
    caller,
  };
}

describe('command bodies SQS can always carry', () => {
  let pipeline: Pipeline;
  beforeAll(async () => {
    // Peeking at the queue counts as a receive: leave the lane worker room for its own.
    pipeline = await createPipeline({ maxReceiveCount: 5 });
  });
  afterAll(async () => {
    await pipeline?.stop();
  });

  /** The one body on the lane queue, left there for the worker. */
  async function theQueuedBody(): Promise<string> {
    const messages = await peekQueue(pipeline.sqs, pipeline.queues[LANE].queueUrl);
    expect(messages).toHaveLength(1);
    return messages[0]?.Body ?? '';
  }

  it.each(TEXTS)(
    'accepts a message with %s; the queued body is ASCII and the lane worker reads the same text',
    async (_name, text) => {
      const conversationId = `conv-${randomUUID().slice(0, 8)}`;
      const response = await pipeline.api(
        post(`/api/v1/agent/conversations/${conversationId}/messages`, { householdId: 'hh-1', text }),
      );
      expect(response.statusCode).toBe(202);
      const { commandId } = JSON.parse(response.body);

      const body = await theQueuedBody();
      expect(body).toMatch(PRINTABLE_ASCII);
      const parsed = parseEnvelope(body);
      if (!parsed.ok) throw new Error(`queued body is not an envelope: ${parsed.rationale}`);
      expect(parsed.envelope).toMatchObject({ commandId, payload: { text } });

      await pipeline.drain(LANE);
      expect((await pipeline.store.getRun(commandId))?.run).toMatchObject({
        status: 'Completed',
        attempts: 1,
      });
      const stored = await pipeline.documents.send(
        new GetCommand({
          TableName: pipeline.tableName,
          Key: keys.conversationMessage(conversationId, parsed.envelope.issuedAt, commandId),
          ConsistentRead: true,
        }),
      );
      expect(stored.Item?.text).toBe(text);
    },
  );

  it('accepts an approval decision whose rationale has emoji and U+FFFF, and queues an ASCII body', async () => {
    const rationale = 'ok \u{1F44C} \uFFFF';
    const requested = await pipeline.api(
      post('/api/v1/agent/conversations/conv-u/messages', { text: 'transfer 40 to savings' }),
    );
    await pipeline.drain(LANE);
    const { commandId } = JSON.parse(requested.body);
    const approvalId = (
      (await pipeline.store.getRun(commandId))?.run.result as { approvalIds: string[] } | undefined
    )?.approvalIds[0];
    const response = await pipeline.api(
      post(
        `/api/v1/agent/conversations/conv-u/approvals/${approvalId}`,
        { householdId: 'hh-1', decision: 'reject', decidedBy: 'ana', rationale },
        anApprover('hh-1', 'ana'),
      ),
    );
    expect(response.statusCode).toBe(202);
    const body = await theQueuedBody();
    expect(body).toMatch(PRINTABLE_ASCII);
    const parsed = parseEnvelope(body);
    expect(parsed.ok && parsed.envelope.payload.rationale).toBe(rationale);
    await pipeline.drain(LANE);
  });

  it('still answers an invalid field holding such characters with 400 and its field path', async () => {
    const response = await pipeline.api(
      post('/api/v1/agent/conversations/conv-u/messages', { householdId: 'hh-\u{1F600}', text: 'x' }),
    );
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body)).toMatchObject({ fieldPath: 'body.householdId' });
  });

  it('sends an envelope (as a replay would) whose correlationId holds U+FFFE: the attribute is escaped, the body reads back exactly', async () => {
    const queue = new SqsCommandQueue({
      client: pipeline.sqs,
      queueUrls: Object.fromEntries(LANES.map((lane) => [lane.name, pipeline.queues[lane.name].queueUrl])),
    });
    const envelope = anEnvelope({ correlationId: 'ops:\uFFFE:\u{1F600}', payload: { text: '\uFFFF' } });
    await queue.send(envelope);
    const received = await pipeline.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: pipeline.queues[LANE].queueUrl,
        MessageAttributeNames: ['All'],
        WaitTimeSeconds: 0,
      }),
    );
    const message = received.Messages?.[0];
    expect(message?.Body).toMatch(PRINTABLE_ASCII);
    expect(parseEnvelope(message?.Body ?? '')).toEqual({ ok: true, envelope });
    expect(message?.MessageAttributes?.correlationId?.StringValue).toBe('ops:\\ufffe:\\ud83d\\ude00');
  });
});
