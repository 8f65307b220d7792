import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LANES } from '#contracts/lanes.js';
import type { ApiRequest } from '#core/api/command-api.js';
import { systemClock } from '#core/base/clock.js';
import { buildCommandApi } from '#wiring/api.js';
import { aHouseholdCaller } from '../support/api-requests.js';
import { aRecordingLogger } from '../support/factories.js';
import { createPipeline, type Pipeline } from '../support/pipeline.js';
import { RecordingMetrics } from '../support/recording-metrics.js';

const LANE = 'runtime-agent-message-posted';

function post(body: unknown, headers: Record<string, string> = {}): ApiRequest {
  return {
    method: 'POST',
    path: '/api/v1/agent/conversations/conv-obs/messages',
    headers: { 'content-type': 'application/json', ...headers },
    query: {},
    body: JSON.stringify(body),
    requestId: randomUUID(),
    caller: aHouseholdCaller('hh-1'),
  };
}

/** What the API tells operators: CommandsAccepted per lane, and log lines carrying the trace keys. */
describe('API metrics and logs', () => {
  let pipeline: Pipeline;
  const metrics = new RecordingMetrics();
  const logger = aRecordingLogger();
  let api: ReturnType<typeof buildCommandApi>;

  beforeAll(async () => {
    pipeline = await createPipeline();
    api = buildCommandApi(
      {
        tableName: pipeline.tableName,
        queueUrls: Object.fromEntries(LANES.map((lane) => [lane.name, pipeline.queues[lane.name].queueUrl])),
        maxBodyBytes: 32_768,
      },
      { documents: pipeline.documents, sqs: pipeline.sqs },
      logger,
      systemClock,
      metrics,
    );
  });
  afterAll(async () => {
    await pipeline?.stop();
  });

  it('counts an enqueued command on its lane and logs correlationId, commandId, runId, lane and messageId', async () => {
    const response = await api(post({ householdId: 'hh-1', text: 'hello' }));
    expect(response.statusCode).toBe(202);
    const { commandId, correlationId } = JSON.parse(response.body);
    expect(metrics.points).toEqual([{ metric: 'commandsAccepted', value: 1, dimensions: { Lane: LANE } }]);
    const line = logger.lines.find(
      (l) => l.message === 'command accepted' && l.extra.commandId === commandId,
    );
    expect(line?.extra).toMatchObject({
      correlationId,
      runId: commandId,
      lane: LANE,
      messageId: expect.any(String),
    });
  });

  it('does not count a retry answered from its Idempotency-Key, and logs it with the trace keys', async () => {
    metrics.clear();
    const key = `k-${randomUUID()}`;
    const first = await api(post({ householdId: 'hh-1', text: 'once' }, { 'idempotency-key': key }));
    const again = await api(post({ householdId: 'hh-1', text: 'once' }, { 'idempotency-key': key }));
    expect(JSON.parse(again.body).commandId).toBe(JSON.parse(first.body).commandId);
    expect(metrics.sum('commandsAccepted')).toBe(1);
    const { commandId, correlationId } = JSON.parse(first.body);
    const line = logger.lines.find((l) => l.message === 'client retry answered from its idempotency key');
    expect(line?.extra).toMatchObject({ commandId, correlationId, runId: commandId, lane: LANE });
  });

  it('counts nothing for a request it refuses', async () => {
    metrics.clear();
    expect((await api(post({ householdId: 'hh-1' }))).statusCode).toBe(400);
    expect(metrics.points).toEqual([]);
  });
});
