import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { DynamoDbRunnerEventStore } from '#adapters/dynamodb/runner-event-store.js';
import { readEvidence } from '#common/runner-evidence.js';
import { AGENT_DETAIL_TYPES, AGENT_EVENT_SOURCE } from '#contracts/agent-events.js';
import {
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  localEventBridgeClient,
  localSqsClient,
} from '#local/emulators/clients.js';
import { runAgent } from '../agent/fixtures/runner-harness.js';
import { runCli } from '../support/local-cli.js';
import { aRunSummaryEvent, aStallEvent } from '../support/runner-event-ingest-fixtures.js';
import { agentSenderTo, localStackTable, useTestLocalStack } from '../support/test-local-stack.js';

/**
 * The local stack as `npm start` runs it (its own DynamoDB Local, SQS emulator
 * and PutEvents endpoint): an agent's events, sent with the agent's own
 * EventBridge sender, go through the `runner-events` rule of `EVENT_RULES` to
 * the ingest handler code and end up in DynamoDB Local, readable with
 * `listEvents` as `runlane report daily --env` reads them.
 */
describe('runner events through the local stack', () => {
  const localStack = useTestLocalStack();

  it('stores what the agent sends once, a resend included, and dead-letters a bad event with its reason', async () => {
    const stack = localStack();
    const { info } = stack;
    const sender = agentSenderTo(stack);
    const base = Date.now() - 5 * 60_000;
    const stall = aStallEvent({ environment: 'dev', ts: new Date(base).toISOString(), rootCause: 'lock' });
    const run = aRunSummaryEvent({
      environment: 'dev',
      ts: new Date(base + 500).toISOString(),
      outcome: 'idle_timeout',
      exitCode: 124,
      stallId: stall.id,
    });

    const sent = await sender.send([
      { detailType: AGENT_DETAIL_TYPES.stall, detail: stall },
      { detailType: AGENT_DETAIL_TYPES.runSummary, detail: run },
    ]);
    expect(sent.deliveredIds).toEqual([stall.id, run.id]);
    // The spool's resend after a crash between acknowledgement and delete.
    await sender.send([{ detailType: AGENT_DETAIL_TYPES.stall, detail: stall }]);
    await localEventBridgeClient(info.eventsEndpoint).send(
      new PutEventsCommand({
        Entries: [
          {
            Source: AGENT_EVENT_SOURCE,
            DetailType: AGENT_DETAIL_TYPES.stall,
            Detail: JSON.stringify({ id: 'not-a-uuid', environment: 'dev' }),
            EventBusName: info.busName,
          },
        ],
      }),
    );

    const store = new DynamoDbRunnerEventStore(localStackTable(stack));
    const window = { environment: 'dev', from: new Date(base - 60_000), to: new Date() };
    await expect
      .poll(async () => store.listEvents(window), { timeout: 10_000, interval: 100 })
      .toEqual({ stalls: [stall], runs: [run] });

    const sqs = localSqsClient(info.sqsEndpoint);
    const received = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: info.runnerEventDeadLetterQueueUrl,
        MaxNumberOfMessages: 10,
        MessageAttributeNames: ['All'],
        WaitTimeSeconds: 2,
      }),
    );
    expect(received.Messages).toHaveLength(1);
    const [letter] = received.Messages ?? [];
    expect(letter?.MessageAttributes?.reason?.StringValue).toBe('invalid_detail');
    expect(letter?.MessageAttributes?.rationale?.StringValue).toContain('detail.id:');
    expect(JSON.parse(letter?.Body ?? '{}')).toMatchObject({ detail: { id: 'not-a-uuid' } });
    sqs.destroy();
  });

  it('runlane-agent run → local bus → ingest → store → runlane report daily --env staging --local', async () => {
    const stack = localStack();
    const dir = await mkdtemp(join(tmpdir(), 'watchdog-e2e-'));
    try {
      const agentArgs = (...command: string[]) => [
        'run',
        '--command-type',
        'deploy',
        '--environment',
        'staging',
        '--metrics-port',
        '0',
        '--evidence-file',
        join(dir, 'stall-events.jsonl'),
        '--spool-dir',
        join(dir, 'spool'),
        '--host',
        'e2e-host',
        ...command,
      ];
      const env = {
        AWS_ENDPOINT_URL_EVENTBRIDGE: stack.info.eventsEndpoint,
        AWS_REGION: LOCAL_REGION,
        AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      };
      const stalled = await runAgent(
        agentArgs(
          '--idle-ms',
          '300',
          '--',
          process.execPath,
          '-e',
          'console.error("Error: connect ECONNREFUSED 10.0.0.1:443"); setInterval(() => {}, 1 << 30)',
        ),
        { env },
      );
      const ok = await runAgent(agentArgs('--', process.execPath, '-e', 'console.log("deployed")'), { env });
      expect([stalled.status, ok.status]).toEqual([124, 0]);
      const [stall] = (await readEvidence(join(dir, 'stall-events.jsonl'))).events;
      expect(stall?.rootCause).toBe('network');

      const html = join(dir, 'report.html');
      const read = async () => {
        const result = await runCli(stack, [
          'report',
          'daily',
          '--env',
          'staging',
          '--local',
          '--json',
          '--html',
          html,
        ]);
        return JSON.parse(result.stdout || '{}') as {
          totals?: { stalls: number; runs: number };
          breakdowns?: { rootCause?: { value: string; count: number }[] };
        };
      };
      await expect
        .poll(async () => (await read()).totals, { timeout: 20_000, interval: 500 })
        .toMatchObject({
          stalls: 1,
          runs: 2,
        });
      const report = await read();
      expect(JSON.stringify(report.breakdowns)).toContain('network');
      expect(await readFile(html, 'utf8')).toContain('e2e-host');
      expect(await readdir(join(dir, 'spool')).catch(() => [])).not.toContainEqual(
        expect.stringMatching(/\.json$/),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
