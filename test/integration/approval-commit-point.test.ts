import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbApprovalStore } from '#adapters/dynamodb/approval-store.js';
import type { CommandEnvelope } from '#contracts/envelope.js';
import { conversationalCorrelationId } from '#contracts/envelope.js';
import { completeRun } from '#core/lifecycle/run.js';
import { aLambdaContext, anEnvelope, anSqsRecord } from '../support/factories.js';
import { createPipeline, type Pipeline } from '../support/pipeline.js';

const LANE = 'runtime-agent-message-posted';
const HOUSEHOLD = 'hh-commit';

function aDecision(approvalId: string, overrides: Partial<CommandEnvelope> = {}): CommandEnvelope {
  const commandId = overrides.commandId ?? randomUUID();
  return anEnvelope({
    commandId,
    commandType: 'agent.approval.decided',
    householdId: HOUSEHOLD,
    correlationId: conversationalCorrelationId(HOUSEHOLD, 'conv-1', commandId),
    payload: { approvalId, decision: 'approve', decidedBy: 'parent-1' },
    ...overrides,
  });
}

/**
 * Handler records are written before the run's conditional completion, the commit point: an
 * approval request belongs to its command only once that run is Completed. And an approved action
 * is keyed on the command that first made the decision, so a replay of that decision does not run
 * the action a second time.
 */
describe('approvals and the completion commit point (DynamoDB Local + SQS emulator)', () => {
  let pipeline: Pipeline;
  let approvals: DynamoDbApprovalStore;

  beforeAll(async () => {
    pipeline = await createPipeline({ maxReceiveCount: 3 });
    approvals = new DynamoDbApprovalStore({ client: pipeline.documents, tableName: pipeline.tableName });
  });
  afterAll(async () => {
    await pipeline?.stop();
  });

  it('an approval request whose requesting run never completed cannot be decided; once the run completes it can', async () => {
    const message = anEnvelope({ householdId: HOUSEHOLD, payload: { text: 'pay 30 to the window cleaner' } });
    const now = new Date();
    const reserved = await pipeline.store.reserveAttempt({
      envelope: message,
      attemptId: 'a-1',
      lockExpiresAt: now.getTime() + 60_000,
      expiresAt: Math.floor(now.getTime() / 1000) + 3600,
      now,
    });
    const approvalId = 'apr-0123456789abcdef01234567';
    const records = [
      {
        kind: 'approvalRequest' as const,
        approvalId,
        conversationId: 'conv-1',
        householdId: HOUSEHOLD,
        requestedByCommandId: message.commandId,
        correlationId: message.correlationId,
        action: {
          action: 'pay_invoice',
          impact: 'high' as const,
          summary: 'pay 30',
          parameters: { amount: 30 },
        },
        requestedAt: message.issuedAt,
      },
    ];
    // The attempt dies at the commit point: its records are written, its run is not.
    const done = completeRun(reserved.run, { status: 'Completed', outcomeCode: 'x', rationale: 'x' }, now);
    await expect(pipeline.store.saveAttemptResult(done, 'someone-else', records)).rejects.toThrow(/lock/);
    const decide = (commandId: string) =>
      approvals.decide({
        approvalId,
        householdId: HOUSEHOLD,
        conversationId: message.conversationId,
        decision: 'approve',
        commandId,
        rationale: 'ok',
        now: new Date(),
      });
    expect(await decide(randomUUID())).toEqual({ outcome: 'not_found' });

    await pipeline.store.saveAttemptResult(done, 'a-1', records);
    expect((await decide(randomUUID())).outcome).toBe('decided');
  });

  it('a replayed decision whose original executed the action and then died does not execute it again', async () => {
    const message = anEnvelope({ householdId: HOUSEHOLD, payload: { text: 'pay 30 to the window cleaner' } });
    await pipeline.worker(LANE)([anSqsRecord(JSON.stringify(message))], aLambdaContext());
    const requested = (await pipeline.store.getRun(message.commandId))?.run.result as
      | { approvalIds?: string[] }
      | undefined;
    const approvalId = requested?.approvalIds?.[0] ?? 'missing';

    // The original decision decided the approval and ran the action, then its process died.
    const original = aDecision(approvalId);
    await approvals.decide({
      approvalId,
      householdId: HOUSEHOLD,
      conversationId: message.conversationId,
      decision: 'approve',
      commandId: original.commandId,
      rationale: 'approve by parent-1',
      now: new Date(),
    });
    const approval = { action: 'pay_invoice', impact: 'high' as const, summary: 'pay', parameters: {} };
    await pipeline.actions.execute({
      idempotencyKey: `${original.commandId}:${approvalId}`,
      householdId: HOUSEHOLD,
      approvalId,
      action: approval,
      commandId: original.commandId,
      now: new Date(),
    });

    const replay = aDecision(approvalId, { replayOf: original.commandId });
    const response = await pipeline.worker(LANE)([anSqsRecord(JSON.stringify(replay))], aLambdaContext());
    expect(response.batchItemFailures).toEqual([]);
    expect((await pipeline.store.getRun(replay.commandId))?.run).toMatchObject({
      status: 'Completed',
      result: { approvalId, executedNow: false },
    });
    const history = (await pipeline.actions.history(HOUSEHOLD)).filter((e) => e.approvalId === approvalId);
    expect(history).toHaveLength(1);
  });
});
