import { randomUUID } from 'node:crypto';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runToItem } from '#adapters/dynamodb/items.js';
import type { RunRecord } from '#contracts/lifecycle.js';
import { nightlySweepEnvelope } from '#contracts/nightly-sweep.js';
import type { Caller } from '#core/api/caller.js';
import type { ApiRequest } from '#core/api/command-api.js';
import { aHouseholdCaller, anApprover, anOperatorCaller } from '../support/api-requests.js';
import { anEnvelope, anIngestionEnvelope } from '../support/factories.js';
import { createPipeline, type Pipeline } from '../support/pipeline.js';

const AGENT_LANE = 'runtime-agent-message-posted' as const;
const MEMBER = aHouseholdCaller('hh-9');
const ALICE = anApprover('hh-9', 'alice');
const OPERATOR = anOperatorCaller();

function post(path: string, body: unknown, caller: Caller = MEMBER): ApiRequest {
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

function get(path: string, query: Record<string, string> = {}, caller: Caller = MEMBER): ApiRequest {
  return { method: 'GET', path, headers: {}, query, requestId: randomUUID(), caller };
}

describe('command types end to end: API → lane → worker → lifecycle', () => {
  let pipeline: Pipeline;
  beforeAll(async () => {
    pipeline = await createPipeline({ maxReceiveCount: 3, visibilityTimeoutSeconds: 1 });
  });
  afterAll(async () => {
    await pipeline?.stop();
  });

  async function postMessage(conversationId: string, text: string) {
    const response = await pipeline.api(
      post(`/api/v1/agent/conversations/${conversationId}/messages`, { householdId: 'hh-9', text }),
    );
    expect(response.statusCode).toBe(202);
    await pipeline.drain(AGENT_LANE);
    return JSON.parse(response.body) as { commandId: string; correlationId: string; runUrl: string };
  }

  /** The run at the runUrl a household POST answered with: the household's own read route. */
  async function readRun(runUrl: string) {
    expect(runUrl).toMatch(/^\/api\/v1\/agent\/runs\//);
    const response = await pipeline.api(get(runUrl));
    expect(response.statusCode).toBe(200);
    return JSON.parse(response.body);
  }

  it('stores a message on its conversation, requests approval for a high-impact proposal and executes nothing', async () => {
    const accepted = await postMessage(
      'conv-approve',
      'please pay 250 to the landlord and remind me tomorrow',
    );
    expect(accepted.correlationId).toBe(`agent:hh-9:conv-approve:${accepted.commandId}`);
    const run = await readRun(accepted.runUrl);
    expect(run).toMatchObject({ status: 'Completed', idempotencyKey: { status: 'Completed' } });
    expect(run.stages.at(-1)).toMatchObject({ outcomeCode: 'approval_requested' });
    expect(run.result.proposals).toEqual(['transfer_funds:high', 'create_reminder:low']);
    expect(run.result.approvalIds).toHaveLength(1);
    expect(await pipeline.actions.history('hh-9')).toEqual([]);
  });

  it('executes an approved action once through the action port and records it in action history', async () => {
    const message = await postMessage('conv-exec', 'transfer 40 to savings');
    const approvalId = (await readRun(message.runUrl)).result.approvalIds[0] as string;
    const decision = await pipeline.api(
      post(
        `/api/v1/agent/conversations/conv-exec/approvals/${approvalId}`,
        { householdId: 'hh-9', decision: 'approve', decidedBy: 'alice' },
        ALICE,
      ),
    );
    expect(decision.statusCode).toBe(202);
    await pipeline.drain(AGENT_LANE);
    const run = await readRun(JSON.parse(decision.body).runUrl);
    expect(run).toMatchObject({ status: 'Completed', commandType: 'agent.approval.decided' });
    expect(run.result).toMatchObject({ approvalId, action: 'transfer_funds', executedNow: true });
    const history = (await pipeline.actions.history('hh-9')).filter((h) => h.approvalId === approvalId);
    expect(history).toHaveLength(1);
    expect(history[0]).toMatchObject({ action: 'transfer_funds' });
  });

  it('closes a rejected approval with its rationale and executes nothing', async () => {
    const message = await postMessage('conv-reject', 'email Bob the tax forms');
    const approvalId = (await readRun(message.runUrl)).result.approvalIds[0] as string;
    const decision = await pipeline.api(
      post(
        `/api/v1/agent/conversations/conv-reject/approvals/${approvalId}`,
        { householdId: 'hh-9', decision: 'reject', decidedBy: 'alice', rationale: 'not now' },
        ALICE,
      ),
    );
    await pipeline.drain(AGENT_LANE);
    const run = await readRun(JSON.parse(decision.body).runUrl);
    expect(run.stages.at(-1)).toMatchObject({ outcomeCode: 'approval_rejected', rationale: 'not now' });
    expect((await pipeline.actions.history('hh-9')).filter((h) => h.approvalId === approvalId)).toEqual([]);
  });

  it('sends a second decision to NeedsReview with a signal, without executing again', async () => {
    const message = await postMessage('conv-twice', 'pay 10 to the school');
    const approvalId = (await readRun(message.runUrl)).result.approvalIds[0] as string;
    const path = `/api/v1/agent/conversations/conv-twice/approvals/${approvalId}`;
    await pipeline.api(post(path, { householdId: 'hh-9', decision: 'approve', decidedBy: 'alice' }, ALICE));
    await pipeline.drain(AGENT_LANE);
    const second = await pipeline.api(post(path, { decision: 'reject' }, anApprover('hh-9', 'bob')));
    await pipeline.drain(AGENT_LANE);
    const run = await readRun(JSON.parse(second.body).runUrl);
    expect(run).toMatchObject({ status: 'NeedsReview', idempotencyKey: { status: 'Completed' } });
    expect(run.signals).toEqual([
      expect.objectContaining({ type: 'approval_already_decided', RequiresHumanReview: true }),
    ]);
    expect((await pipeline.actions.history('hh-9')).filter((h) => h.approvalId === approvalId)).toHaveLength(
      1,
    );
    const queue = JSON.parse((await pipeline.api(get('/api/v1/review-queue', {}, OPERATOR))).body);
    expect(queue.runs.map((r: { runId: string }) => r.runId)).toContain(run.runId);
  });

  it('refuses a decision on an unknown approval at the API (404); one that reaches the lane anyway goes to NeedsReview with a signal', async () => {
    const path = '/api/v1/agent/conversations/conv-x/approvals/apr-000000000000000000000001';
    const refused = await pipeline.api(post(path, { decision: 'approve' }, ALICE));
    expect(refused.statusCode).toBe(404);
    expect(JSON.parse(refused.body)).toMatchObject({
      error: 'approval_not_found',
      fieldPath: 'path.approvalId',
    });
    // A replayed or stranded decision is not checked by the API: the lane fails it closed.
    const decision = anEnvelope({
      commandType: 'agent.approval.decided',
      householdId: 'hh-9',
      conversationId: 'conv-x',
      payload: { approvalId: 'apr-000000000000000000000001', decision: 'approve', decidedBy: 'alice' },
    });
    await pipeline.send(AGENT_LANE, decision);
    await pipeline.drain(AGENT_LANE);
    const run = await readRun(`/api/v1/agent/runs/${decision.commandId}`);
    expect(run.status).toBe('NeedsReview');
    expect(run.signals.map((s: { type: string }) => s.type)).toEqual(['approval_unknown']);
  });

  it("sends a decision naming another conversation than the approval's to NeedsReview at the lane (the store's condition), executing nothing", async () => {
    const message = await postMessage('conv-own', 'transfer 15 to savings');
    const approvalId = (await readRun(message.runUrl)).result.approvalIds[0] as string;
    const decision = anEnvelope({
      commandType: 'agent.approval.decided',
      householdId: 'hh-9',
      conversationId: 'conv-other',
      payload: { approvalId, decision: 'approve', decidedBy: 'alice' },
    });
    await pipeline.send(AGENT_LANE, decision);
    await pipeline.drain(AGENT_LANE);
    const run = await readRun(`/api/v1/agent/runs/${decision.commandId}`);
    expect(run.status).toBe('NeedsReview');
    expect(run.signals.map((s: { type: string }) => s.type)).toEqual(['approval_unknown']);
    expect((await pipeline.actions.history('hh-9')).filter((h) => h.approvalId === approvalId)).toEqual([]);
    // The approval is still Pending: its own conversation's decision goes through.
    const own = await pipeline.api(
      post(`/api/v1/agent/conversations/conv-own/approvals/${approvalId}`, { decision: 'approve' }, ALICE),
    );
    expect(own.statusCode).toBe(202);
    await pipeline.drain(AGENT_LANE);
    expect((await readRun(JSON.parse(own.body).runUrl)).result).toMatchObject({
      approvalId,
      executedNow: true,
    });
  });

  it('records an ingestion batch and raises a signal when the error ratio is over the threshold', async () => {
    const ok = anIngestionEnvelope({ recordsReceived: 200, recordsImported: 198, errorCount: 2 });
    const bad = anIngestionEnvelope({ recordsReceived: 100, recordsImported: 80, errorCount: 20 });
    await pipeline.send('runtime-ingestion-completed', ok);
    await pipeline.send('runtime-ingestion-completed', bad);
    await pipeline.drain('runtime-ingestion-completed');
    const okRun = (await pipeline.store.getRun(ok.commandId))?.run;
    expect(okRun).toMatchObject({ status: 'Completed', result: { source: 'bank-feed', errorRatio: 0.01 } });
    expect(okRun?.signals).toEqual([]);
    const badRun = (await pipeline.store.getRun(bad.commandId))?.run;
    expect(badRun).toMatchObject({ status: 'NeedsReview', result: { recordsReceived: 100, errorCount: 20 } });
    expect(badRun?.signals.map((s) => s.type)).toEqual(['ingestion_error_ratio_exceeded']);
  });

  it('finds runs by correlation id, through the index only when the id does not name the run', async () => {
    const message = await postMessage('conv-corr', 'hello');
    const byConversation = JSON.parse(
      (await pipeline.api(get('/api/v1/runs', { correlationId: message.correlationId }, OPERATOR))).body,
    );
    expect(byConversation.runs.map((r: { runId: string }) => r.runId)).toEqual([message.commandId]);
    // The household's own route finds it too.
    const own = JSON.parse(
      (await pipeline.api(get('/api/v1/agent/runs', { correlationId: message.correlationId }))).body,
    );
    expect(own.runs.map((r: { runId: string }) => r.runId)).toEqual([message.commandId]);
    const ingestion = anIngestionEnvelope();
    await pipeline.send('runtime-ingestion-completed', ingestion);
    await pipeline.drain('runtime-ingestion-completed');
    const byIndex = JSON.parse(
      (await pipeline.api(get('/api/v1/runs', { correlationId: ingestion.correlationId }, OPERATOR))).body,
    );
    expect(byIndex.runs.map((r: { runId: string }) => r.runId)).toEqual([ingestion.commandId]);
  });

  it('sweeps for stuck runs, expired attempt locks and stale reviews: one signal per finding plus a summary', async () => {
    const sweepPipeline = await createPipeline({ maxReceiveCount: 3, visibilityTimeoutSeconds: 1 });
    try {
      const now = Date.now();
      const old = new Date(now - 3 * 24 * 3_600_000).toISOString();
      const base = {
        commandType: 'ingestion.completed',
        lane: 'runtime-ingestion-completed',
        householdId: 'hh',
        issuedAt: old,
        stages: [],
        signals: [],
        createdAt: old,
        updatedAt: old,
        expiresAt: Math.floor(now / 1000) + 3600,
      };
      // A retry (attempts 2) is in the openRuns index; a first attempt never is.
      const stuck = {
        ...base,
        runId: randomUUID(),
        status: 'Running',
        keyStatus: 'Reserved',
        attempts: 2,
        lockExpiresAt: now - 1,
      };
      const stale = {
        ...base,
        runId: randomUUID(),
        status: 'NeedsReview',
        keyStatus: 'Reserved',
        attempts: 1,
        needsReviewSince: old,
      };
      for (const run of [stuck, stale]) {
        await sweepPipeline.documents.send(
          new PutCommand({
            TableName: sweepPipeline.tableName,
            Item: runToItem({ commandId: run.runId, correlationId: `c:${run.runId}`, ...run } as RunRecord),
          }),
        );
      }
      const sweep = nightlySweepEnvelope(randomUUID(), new Date().toISOString());
      await sweepPipeline.send('runtime-nightly-anomaly-sweep', sweep);
      await sweepPipeline.drain('runtime-nightly-anomaly-sweep');
      const view = await sweepPipeline.store.getRun(String(sweep.commandId));
      expect(view?.run).toMatchObject({
        status: 'Completed',
        result: { stuckRunning: 1, expiredAttemptLocks: 1, staleReviews: 1 },
      });
      const types = view?.signals.map((s) => s.type).sort();
      expect(types).toEqual(
        [
          'anomaly_expired_attempt_lock',
          'anomaly_stale_review',
          'anomaly_stuck_run',
          'anomaly_sweep_summary',
        ].sort(),
      );
    } finally {
      await sweepPipeline.stop();
    }
  });
});
