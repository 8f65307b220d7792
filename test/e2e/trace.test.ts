import { randomUUID } from 'node:crypto';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectLocalApi } from '#local/demo/local-api.js';
import { localSqsClient } from '#local/emulators/clients.js';
import { DRILL_FLAKY } from '#local/stack/drill-commands.js';
import type { LocalStack } from '#local/stack/start-local-stack.js';
import { runCli, startQuietLocalStack } from '../support/local-cli.js';

const INGESTION = 'runtime-ingestion-completed';

interface TraceJson {
  resolvedFrom: string;
  correlationId: string;
  runs: { run: { runId: string; status: string; keyStatus: string; replayOf?: string } }[];
  timeline: { kind: string; runId: string; text: string }[];
  logsInsightsQuery: string;
}

describe('runlane trace against the local stack', () => {
  let stack: LocalStack;
  const ids: Record<string, string> = {};
  let recoveredMessageId = '';

  const trace = (id: string, json = true) => runCli(stack, ['trace', id, ...(json ? ['--json'] : [])]);

  beforeAll(async () => {
    stack = await startQuietLocalStack({ maxReceiveCount: 2 });
    const sqs = localSqsClient(stack.info.sqsEndpoint);
    const produce = async (commandId: string, payload: object, extra: object = {}) => {
      const sent = await sqs.send(
        new SendMessageCommand({
          QueueUrl: stack.info.lanes[INGESTION]?.queueUrl,
          MessageBody: JSON.stringify({
            schemaVersion: 1,
            commandId,
            commandType: DRILL_FLAKY,
            lane: INGESTION,
            correlationId: `drill:${commandId}`,
            householdId: 'hh-trace',
            issuedAt: new Date().toISOString(),
            payload,
            ...extra,
          }),
        }),
      );
      return sent.MessageId ?? '';
    };
    const api = await connectLocalApi(stack.info.apiUrl, stack.info);
    const accepted = await api.household('hh-trace')('POST', '/api/v1/agent/conversations/c-trace/messages', {
      text: 'remind me about the dentist',
    });
    ids.completed = (accepted.body as { commandId: string }).commandId;
    ids.recovered = randomUUID();
    recoveredMessageId = await produce(ids.recovered, { failTimes: 1 });
    ids.deadLettered = randomUUID();
    await produce(ids.deadLettered, { failTimes: 9 });

    const terminal = async (id: string) => {
      const response = await api.operator('GET', `/api/v1/runs/${id}`);
      if (response.status !== 200) return false;
      return (response.body as { idempotencyKey: { status: string } }).idempotencyKey.status !== 'Reserved';
    };
    const waitFor = async (id: string) => {
      for (let i = 0; i < 120 && !(await terminal(id)); i++) await new Promise((r) => setTimeout(r, 250));
    };
    for (const id of Object.values(ids)) await waitFor(id);
    // The replay, after the fix: a new commandId, replayOf the old one, the same correlation chain.
    ids.replay = randomUUID();
    await produce(
      ids.replay,
      { failTimes: 0 },
      { replayOf: ids.deadLettered, correlationId: `drill:${ids.deadLettered}` },
    );
    await waitFor(ids.replay);
    sqs.destroy();
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it('traces a completed command from its commandId', async () => {
    const result = await trace(ids.completed ?? '');
    expect(result.status).toBe(0);
    const parsed = JSON.parse(result.stdout) as TraceJson;
    expect(parsed.resolvedFrom).toBe('commandId');
    expect(parsed.timeline.map((e) => e.kind)).toEqual([
      'accepted',
      'attempt_started',
      'attempt_ended',
      'finalized',
    ]);
    expect(parsed.timeline[2]?.text).toContain('message_recorded');
    expect(parsed.logsInsightsQuery).toContain(`filter correlationId = "${parsed.correlationId}"`);
  });

  it('traces a failed-then-recovered command from its SQS message id', async () => {
    const parsed = JSON.parse((await trace(recoveredMessageId)).stdout) as TraceJson;
    expect(parsed.resolvedFrom).toBe('messageId');
    const kinds = parsed.timeline.map((e) => e.kind);
    expect(kinds).toEqual([
      'accepted',
      'attempt_started',
      'signal',
      'attempt_ended',
      'attempt_started',
      'attempt_ended',
      'finalized',
    ]);
    expect(
      parsed.timeline
        .filter((e) => e.kind === 'attempt_ended')
        .map((e) => e.text.split(':')[1]?.trim().split(' ')[0]),
    ).toEqual(['handler_failed', 'drill_recovered']);
    expect(parsed.timeline.find((e) => e.kind === 'signal')?.text).toContain('worker_command_failed');
  });

  it('traces a dead-lettered command and its replay from the correlation id, linking old → new', async () => {
    const parsed = JSON.parse((await trace(`drill:${ids.deadLettered}`)).stdout) as TraceJson;
    expect(parsed.resolvedFrom).toBe('correlationId');
    expect(parsed.runs.map((r) => [r.run.runId, r.run.status, r.run.keyStatus])).toEqual([
      [ids.deadLettered, 'NeedsReview', 'Rejected'],
      [ids.replay, 'Completed', 'Completed'],
    ]);
    const old = parsed.timeline.filter((e) => e.runId === ids.deadLettered).map((e) => e.kind);
    expect(old).toContain('dead_lettered');
    expect(parsed.timeline.find((e) => e.kind === 'dead_lettered')?.text).toContain('handler_failed');
    expect(parsed.timeline.find((e) => e.kind === 'replayed_as')?.text).toBe(`replayed as ${ids.replay}`);
    expect(parsed.timeline.find((e) => e.kind === 'replay_of')?.text).toBe(
      `replay of ${ids.deadLettered} → ${ids.replay}`,
    );
  });

  it('traces the replayed command from its own commandId and prints a readable timeline', async () => {
    const result = await trace(ids.replay ?? '', false);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`Trace of ${ids.replay} (a commandId)`);
    expect(result.stdout).toContain(`replayed as ${ids.replay}`);
    expect(result.stdout).toContain('CloudWatch Logs Insights');
  });

  it('exits 4 when nothing matches', async () => {
    const result = await trace(randomUUID());
    expect(result.status).toBe(4);
    expect(result.stderr).toContain('no run found');
  });
});
