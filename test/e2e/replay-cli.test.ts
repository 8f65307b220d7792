import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectLocalApi } from '#local/demo/local-api.js';
import { localSqsClient } from '#local/emulators/clients.js';
import { DRILL_FLAKY } from '#local/stack/drill-commands.js';
import type { LocalStack } from '#local/stack/start-local-stack.js';
import { runCli, startQuietLocalStack } from '../support/local-cli.js';

const LANE = 'runtime-ingestion-completed';

describe('runlane dlq and runlane replay against the local stack', () => {
  let stack: LocalStack;
  let failedCommandId = '';

  const cli = (args: string[]) => runCli(stack, args);

  beforeAll(async () => {
    stack = await startQuietLocalStack({ maxReceiveCount: 2 });
    const sqs = localSqsClient(stack.info.sqsEndpoint);
    failedCommandId = randomUUID();
    const queueUrl = stack.info.lanes[LANE]?.queueUrl;
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify({
          schemaVersion: 1,
          commandId: failedCommandId,
          commandType: DRILL_FLAKY,
          lane: LANE,
          correlationId: `drill:${failedCommandId}`,
          householdId: 'hh-replay',
          issuedAt: new Date().toISOString(),
          payload: { failTimes: 2 },
        }),
      }),
    );
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'garbage, not JSON' }));
    sqs.destroy();
    // Both end in the DLQ: the drill command after its 2 receives, the garbage at once.
    for (let i = 0; i < 80; i++) {
      const listed = await cli(['dlq', 'list', '--lane', LANE, '--json']);
      if (listed.status === 0 && (JSON.parse(listed.stdout) as unknown[]).length === 2) break;
      await new Promise((r) => setTimeout(r, 250));
    }
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it('lists dead letters with their reasons without consuming them, and shows one', async () => {
    const first = await cli(['dlq', 'list', '--lane', LANE, '--json']);
    const second = await cli(['dlq', 'list', '--lane', LANE, '--json']);
    expect(first.status).toBe(0);
    const rows = JSON.parse(first.stdout) as {
      messageId: string;
      reason: string;
      commandId: string | null;
      receiveCount: number;
    }[];
    expect(rows.map((r) => r.reason).sort()).toEqual(['handler_failed', 'invalid_json']);
    expect(rows.find((r) => r.reason === 'handler_failed')).toMatchObject({
      commandId: failedCommandId,
      receiveCount: 2,
    });
    expect((JSON.parse(second.stdout) as unknown[]).length).toBe(2);
    const shown = await cli([
      'dlq',
      'show',
      rows.find((r) => r.reason === 'invalid_json')?.messageId ?? '',
      '--lane',
      LANE,
    ]);
    expect(shown.status).toBe(0);
    expect(shown.stdout).toContain('garbage, not JSON');
    expect((await cli(['dlq', 'show', randomUUID(), '--lane', LANE])).status).toBe(4);
  }, 60_000);

  it('refuses a bulk replay without --confirm', async () => {
    const result = await cli(['replay', '--lane', LANE, '--max', '50']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('without --confirm');
    const lowered = await cli(['replay', '--lane', LANE, '--max', '3', '--bulk-limit', '2']);
    expect(lowered.status).toBe(2);
    expect(lowered.stderr).toContain('up to 3 messages without --confirm');
  });

  it('replays the dead-lettered command with a new commandId, leaves the poison, and proves the duplicate', async () => {
    const result = await cli(['replay', '--lane', LANE, '--json', '--verify-timeout', '30']);
    expect(result.status, result.stderr).toBe(0);
    const evidence = JSON.parse(result.stdout) as {
      replayed: number;
      skipped: number;
      duplicateProbe: string;
      passed: boolean;
      links: { old: string; new: string }[];
    };
    expect(evidence).toMatchObject({ replayed: 1, skipped: 1, duplicateProbe: 'passed', passed: true });
    expect(evidence.links[0]?.old).toBe(failedCommandId);
    const operator = (await connectLocalApi(stack.info.apiUrl, stack.info)).operator;
    const run = (await operator('GET', `/api/v1/runs/${evidence.links[0]?.new}`)).body as {
      status: string;
      replayOf: string;
    };
    expect(run).toMatchObject({ status: 'Completed', replayOf: failedCommandId });
    const left = JSON.parse((await cli(['dlq', 'list', '--lane', LANE, '--json'])).stdout) as {
      reason: string;
    }[];
    expect(left.map((r) => r.reason)).toEqual(['invalid_json']);
  }, 120_000);

  it('runs the four release-gate scenarios and writes their evidence', async () => {
    const out = mkdtempSync(join(tmpdir(), 'runlane-gate-'));
    try {
      const result = await cli(['gate', '--out', out, '--json', '--timeout', '60']);
      expect(result.status, result.stderr).toBe(0);
      const report = JSON.parse(result.stdout) as {
        folder: string;
        passed: boolean;
        scenarios: { scenario: string; passed: boolean }[];
      };
      expect(report.passed).toBe(true);
      expect(report.scenarios.map((s) => [s.scenario, s.passed])).toEqual([
        ['queue-retry-recovery', true],
        ['dead-letter-fail-closed', true],
        ['replay-idempotent-duplicate', true],
        ['correlated-trace', true],
      ]);
      const files = readdirSync(report.folder).sort();
      expect(files).toEqual(
        [...report.scenarios.flatMap((s) => [`${s.scenario}.json`, `${s.scenario}.md`]), 'index.md'].sort(),
      );
      expect(readFileSync(join(report.folder, 'index.md'), 'utf8')).toContain('PASSED');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 180_000);

  it('runs the drill through the synthesized state machine, and refuses the same drill id twice', async () => {
    const sqs = localSqsClient(stack.info.sqsEndpoint);
    const commandId = randomUUID();
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: stack.info.lanes[LANE]?.queueUrl,
        MessageBody: JSON.stringify({
          schemaVersion: 1,
          commandId,
          commandType: DRILL_FLAKY,
          lane: LANE,
          correlationId: `drill:${commandId}`,
          householdId: 'hh-replay',
          issuedAt: new Date().toISOString(),
          payload: { failTimes: 2 },
        }),
      }),
    );
    sqs.destroy();
    for (let i = 0; i < 80; i++) {
      const listed = JSON.parse((await cli(['dlq', 'list', '--lane', LANE, '--json'])).stdout) as {
        commandId: string;
      }[];
      if (listed.some((r) => r.commandId === commandId)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const drillId = `sfn-cli-${randomUUID().slice(0, 8)}`;
    const result = await cli([
      'replay',
      '--lane',
      LANE,
      '--via-step-functions',
      '--drill-id',
      drillId,
      '--json',
      '--verify-timeout',
      '30',
    ]);
    expect(result.status, result.stderr).toBe(0);
    const evidence = JSON.parse(result.stdout) as {
      drillId: string;
      passed: boolean;
      links: { old: string }[];
    };
    expect(evidence).toMatchObject({ drillId, passed: true });
    expect(evidence.links.map((l) => l.old)).toContain(commandId);
    const again = await cli(['replay', '--lane', LANE, '--via-step-functions', '--drill-id', drillId]);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('ExecutionAlreadyExists');
  }, 180_000);
});
