/**
 * Replay at most once in effect (issue 16, item 4), on DynamoDB Local and the SQS emulator with the
 * real lane worker: the replay's commandId is fixed by the dead letter, the original's run is
 * checked first, and body → link → send → delete leaves, at every crash point, a state from which
 * the next drill ends with the command executed once and the dead letter gone.
 *
 * Faults are injected at the replay steps' ports (never in the AWS SDK clients): a DLQ whose delete
 * fails once, and a "process death" after one side effect — every later port call of that drill
 * throws, so nothing (not even the put-back of the dead letter) happens after it, and the dead
 * letter stays hidden until its drill lock lapses, which the test then brings forward.
 */
import { randomUUID } from 'node:crypto';
import { ChangeMessageVisibilityCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoDbApprovalStore } from '#adapters/dynamodb/approval-store.js';
import { recordToItem } from '#adapters/dynamodb/items.js';
import { DynamoDbReplayRecords } from '#adapters/dynamodb/replay-records.js';
import { EventBridgeEventPublisher } from '#adapters/eventbridge/event-publisher.js';
import { SqsCommandQueue } from '#adapters/sqs/command-queue.js';
import { SqsDeadLetterQueue } from '#adapters/sqs/dead-letter-queue.js';
import type { CommandEnvelope } from '#contracts/envelope.js';
import { LANES, type LaneName } from '#contracts/lanes.js';
import type { DeadLetterItem, ReplayDrillInput } from '#contracts/replay-drill.js';
import type { ApiRequest } from '#core/api/command-api.js';
import { systemClock } from '#core/base/clock.js';
import type { ActionExecutor } from '#core/commands/ports.js';
import { DEFAULT_COMMAND_SETTINGS } from '#core/commands/types.js';
import { replayCommandIdFor } from '#core/replay/replay-command-id.js';
import { runDrillDirectly } from '#core/replay/run-drill.js';
import { type ReplayDependencies, replaySteps } from '#core/replay/steps.js';
import { localEventBridgeClient } from '#local/emulators/clients.js';
import { type LocalEventBus, startLocalEventBus } from '#local/emulators/event-bus.js';
import { aLambdaContext, anEnvelope, anIngestionEnvelope, anSqsRecord } from '../support/factories.js';
import { createPipeline, type Pipeline } from '../support/pipeline.js';
import { TEST_LANE, TestCommandProbe, testCommands } from '../support/test-commands.js';

const AGENT_LANE = 'runtime-agent-message-posted' as const;

/** Thrown by every port call of a drill whose process "died". */
class ProcessDied extends Error {}

describe('replay at most once in effect (issue 16 item 4), on the emulators', () => {
  let pipeline: Pipeline;
  let bus: LocalEventBus;
  const probe = new TestCommandProbe();
  /** The approved action's integration: throws while this is set (a bug a later deploy fixes). */
  let actionBug: string | undefined;

  beforeAll(async () => {
    const commands = testCommands(probe);
    let approvals: DynamoDbApprovalStore | undefined;
    const actions: ActionExecutor = {
      execute: async (request) => {
        if (actionBug) throw new Error(actionBug);
        return pipeline.actions.execute(request);
      },
    };
    pipeline = await createPipeline({
      maxReceiveCount: 2,
      visibilityTimeoutSeconds: 1,
      workerOverrides: {
        ...commands,
        dependencies: {
          approvals: {
            decide: (input) => {
              approvals ??= new DynamoDbApprovalStore({
                client: pipeline.documents,
                tableName: pipeline.tableName,
              });
              return approvals.decide(input);
            },
          },
          actions,
          settings: DEFAULT_COMMAND_SETTINGS,
        },
      },
    });
    bus = await startLocalEventBus();
  });
  afterAll(async () => {
    await pipeline?.stop();
    await bus?.stop();
  });
  beforeEach(() => {
    probe.broken = true;
    actionBug = undefined;
  });

  /** The replay steps' ports, all real, on this pipeline's table and queues. */
  function realDeps(): ReplayDependencies {
    return {
      deadLetterQueue: (lane) =>
        new SqsDeadLetterQueue({ client: pipeline.sqs, queueUrl: pipeline.queues[lane as LaneName].dlqUrl }),
      queue: new SqsCommandQueue({
        client: pipeline.sqs,
        queueUrls: Object.fromEntries(LANES.map((l) => [l.name, pipeline.queues[l.name].queueUrl])),
      }),
      store: pipeline.store,
      records: new DynamoDbReplayRecords({
        client: pipeline.documents,
        tableName: pipeline.tableName,
        retentionDays: 30,
      }),
      events: new EventBridgeEventPublisher({
        client: localEventBridgeClient(bus.endpoint),
        busName: 'runlane-test-telemetry',
      }),
      clock: systemClock,
    };
  }

  /**
   * The ports of a drill process that dies right after `point` succeeded: every later call throws,
   * so the dead letter is neither deleted nor put back.
   */
  function dyingAfter(point: 'link' | 'send'): ReplayDependencies {
    const deps = realDeps();
    let dead = false;
    /** `call`, unless the process is dead. */
    const alive = <T>(call: () => Promise<T>): Promise<T> =>
      dead ? Promise.reject(new ProcessDied('the drill process is dead')) : call();
    /** `call`, then the process dies. */
    const lastCall = async <T>(call: () => Promise<T>, at: typeof point): Promise<T> => {
      const result = await alive(call);
      if (point === at) {
        dead = true;
        throw new ProcessDied(`the drill process died right after the ${point}`);
      }
      return result;
    };
    return {
      ...deps,
      deadLetterQueue: (lane) => {
        const dlq = deps.deadLetterQueue(lane);
        return {
          receive: (max, seconds) => alive(() => dlq.receive(max, seconds)),
          restore: (handle) => alive(() => dlq.restore(handle)),
          delete: (handle) => alive(() => dlq.delete(handle)),
        };
      },
      records: {
        saveReplayBodyOnce: (id, body) => alive(() => deps.records.saveReplayBodyOnce(id, body)),
        getReplayBody: (id) => alive(() => deps.records.getReplayBody(id)),
        recordDiscardedDeadLetter: (r) => alive(() => deps.records.recordDiscardedDeadLetter(r)),
        saveEvidence: (e) => alive(() => deps.records.saveEvidence(e)),
      },
      store: {
        getRun: (id) => alive(() => deps.store.getRun(id)),
        recordReplayLink: (oldId, newId) => lastCall(() => deps.store.recordReplayLink(oldId, newId), 'link'),
      },
      queue: { send: (envelope) => lastCall(() => deps.queue.send(envelope), 'send') },
    };
  }

  /** Real ports, except a DLQ whose first delete fails (an SQS error after the send). */
  function deleteFailsOnce(): ReplayDependencies {
    const deps = realDeps();
    let failed = false;
    return {
      ...deps,
      deadLetterQueue: (lane) => {
        const dlq = deps.deadLetterQueue(lane);
        return {
          receive: (max, seconds) => dlq.receive(max, seconds),
          restore: (handle) => dlq.restore(handle),
          delete: async (handle) => {
            if (!failed) {
              failed = true;
              throw new Error('DeleteMessage failed (injected)');
            }
            return dlq.delete(handle);
          },
        };
      },
    };
  }

  /** Reads the one dead letter of `commandId` and replays it with `deps`: the drill's replay part. */
  async function replayPart(
    deps: ReplayDependencies,
    commandId: string,
    lane: LaneName = TEST_LANE,
  ): Promise<{
    item: DeadLetterItem;
    output: Awaited<ReturnType<ReturnType<typeof replaySteps>['replayMessage']>>;
  }> {
    const steps = replaySteps(deps);
    const drillId = `partial-${randomUUID()}`;
    const read = await steps.readDeadLetters({
      lane,
      maxMessages: 10,
      dryRun: false,
      verifyTimeoutSeconds: 5,
      drillId,
      commandIds: [commandId],
    });
    expect(read.items.map((i) => i.commandId)).toEqual([commandId]);
    const item = read.items[0] as DeadLetterItem;
    return { item, output: await steps.replayMessage({ drillId, dryRun: false, item }) };
  }

  /** What the dead letter's drill lock does when it lapses after a crash: the message is visible again. */
  async function lockLapses(item: DeadLetterItem, lane: LaneName = TEST_LANE) {
    await pipeline.sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: pipeline.queues[lane].dlqUrl,
        ReceiptHandle: item.receiptHandle,
        VisibilityTimeout: 0,
      }),
    );
  }

  /**
   * A whole drill over the dead letters of `commandIds`, with real ports. The lane is consumed only
   * while the drill waits for verification; `laneDepthAtFirstWait` is how many messages were on the
   * lane then (what the drill had sent and nobody consumed yet).
   */
  async function drill(commandIds: readonly string[], lane: LaneName = TEST_LANE) {
    let laneDepthAtFirstWait: number | undefined;
    const input: ReplayDrillInput = {
      lane,
      maxMessages: 10,
      dryRun: false,
      verifyTimeoutSeconds: 20,
      drillId: `drill-${randomUUID()}`,
      commandIds,
    };
    const result = await runDrillDirectly(replaySteps(realDeps()), input, {
      now: Date.now,
      sleep: async () => {
        if (laneDepthAtFirstWait === undefined) {
          const depth = await pipeline.mapping(lane).depth();
          laneDepthAtFirstWait = depth.visible + depth.inFlight + depth.delayed;
        }
        await pipeline.drain(lane);
      },
    });
    return { ...result, laneDepthAtFirstWait };
  }

  async function laneDepth(lane: LaneName = TEST_LANE): Promise<number> {
    const depth = await pipeline.mapping(lane).depth();
    return depth.visible + depth.inFlight + depth.delayed;
  }

  /** The dead letters of `commandId` still in the lane's DLQ (peeked, left there). */
  async function deadLettersOf(commandId: string, lane: LaneName = TEST_LANE): Promise<number> {
    const peeked = await realDeps().deadLetterQueue(lane).receive(100, 0);
    return peeked.filter((m) => m.body.includes(commandId)).length;
  }

  /** A test.switch command dead-lettered while the bug is there (key Rejected, one dead letter). */
  async function deadLettered(): Promise<CommandEnvelope> {
    probe.broken = true;
    const commandId = randomUUID();
    const envelope = anIngestionEnvelope(
      {},
      { commandId, commandType: 'test.switch', correlationId: `at-most-once:${commandId}`, payload: {} },
    );
    await pipeline.send(TEST_LANE, envelope);
    await pipeline.drain(TEST_LANE);
    expect((await pipeline.store.getRun(commandId))?.run.keyStatus).toBe('Rejected');
    expect(await deadLettersOf(commandId)).toBe(1);
    return envelope;
  }

  async function run(commandId: string) {
    return (await pipeline.store.getRun(commandId))?.run;
  }

  it('a re-run drill re-sends the same commandId after the first one failed to delete the dead letter (DLQ delete fails once, injected), and the command executes once', async () => {
    const original = await deadLettered();
    probe.broken = false; // the fix is deployed
    const replayId = replayCommandIdFor(original.commandId);

    const first = await replayPart(deleteFailsOnce(), original.commandId);
    expect(first.output).toMatchObject({ status: 'failed', newCommandId: replayId });
    expect(first.output.detail).toContain('DeleteMessage failed');
    expect(await laneDepth()).toBe(1); // the replay was sent
    expect(await deadLettersOf(original.commandId)).toBe(1); // and the dead letter put back

    const again = await drill([original.commandId]);
    expect(again.replays).toEqual([
      expect.objectContaining({
        status: 'replayed',
        oldCommandId: original.commandId,
        newCommandId: replayId,
      }),
    ]);
    expect(again.laneDepthAtFirstWait).toBe(2); // the same command, sent a second time
    expect(again.evidence).toMatchObject({ replayed: 1, verified: { completed: 1 }, passed: true });
    expect(probe.executions.get(replayId)).toBe(1);
    // Attempts 1: the re-sent copy and the drill's duplicate probe were acknowledged without running.
    expect(await run(replayId)).toMatchObject({
      status: 'Completed',
      attempts: 1,
      replayOf: original.commandId,
      duplicateDeliveries: 2,
    });
    expect((await run(original.commandId))?.replayedAs).toEqual([replayId]);
    expect(await deadLettersOf(original.commandId)).toBe(0);
  });

  it('does not re-send a dead letter whose original already completed: reports already_completed, records the discard, deletes the dead letter', async () => {
    probe.broken = false;
    const commandId = randomUUID();
    const envelope = anIngestionEnvelope(
      {},
      { commandId, commandType: 'test.switch', correlationId: `at-most-once:${commandId}`, payload: {} },
    );
    await pipeline.send(TEST_LANE, envelope);
    await pipeline.drain(TEST_LANE);
    expect(await run(commandId)).toMatchObject({ status: 'Completed', keyStatus: 'Completed' });
    // A copy of the command in the DLQ without attributes, as SQS redrives it by itself (e.g. a
    // duplicate delivery whose Lambda kept timing out).
    await pipeline.sqs.send(
      new SendMessageCommand({
        QueueUrl: pipeline.queues[TEST_LANE].dlqUrl,
        MessageBody: JSON.stringify(envelope),
      }),
    );

    const result = await drill([commandId]);
    expect(result.replays).toEqual([
      expect.objectContaining({ status: 'already_completed', oldCommandId: commandId, newCommandId: null }),
    ]);
    expect(result.replays[0]?.detail).toContain('not re-sent');
    expect(result.evidence).toMatchObject({
      found: 1,
      replayed: 0,
      alreadyCompleted: 1,
      failed: 0,
      passed: true,
    });
    expect(result.laneDepthAtFirstWait).toBeUndefined(); // nothing to verify: nothing was sent
    expect(await laneDepth()).toBe(0);
    expect(await run(replayCommandIdFor(commandId))).toBeUndefined();
    expect(probe.executions.get(commandId)).toBe(1);
    expect(await deadLettersOf(commandId)).toBe(0);
    const discarded = await pipeline.documents.send(
      new GetCommand({
        TableName: pipeline.tableName,
        Key: { pk: `DEADLETTER#${commandId}`, sk: `DISCARDED#${result.replays[0]?.messageId}` },
      }),
    );
    expect(discarded.Item).toMatchObject({
      drillId: result.evidence.drillId,
      reason: 'redriven_without_reason',
      runStatus: 'Completed',
      keyStatus: 'Completed',
    });
  });

  it('crash between link and send (process dies after recordReplayLink): the next drill sends the linked id, executes it once, deletes the dead letter', async () => {
    const original = await deadLettered();
    probe.broken = false;
    const replayId = replayCommandIdFor(original.commandId);

    const crashed = await replayPart(dyingAfter('link'), original.commandId);
    expect(crashed.output).toMatchObject({ status: 'failed', newCommandId: replayId });
    expect((await run(original.commandId))?.replayedAs).toEqual([replayId]);
    expect(await laneDepth()).toBe(0); // never sent
    expect(await deadLettersOf(original.commandId)).toBe(0); // hidden by the dead drill's lock
    await lockLapses(crashed.item);

    const next = await drill([original.commandId]);
    expect(next.replays).toEqual([expect.objectContaining({ status: 'replayed', newCommandId: replayId })]);
    expect(next.laneDepthAtFirstWait).toBe(1);
    expect(next.evidence).toMatchObject({ verified: { completed: 1 }, passed: true });
    expect(probe.executions.get(replayId)).toBe(1);
    expect(await run(replayId)).toMatchObject({ status: 'Completed', attempts: 1 });
    expect((await run(original.commandId))?.replayedAs).toEqual([replayId]);
    expect(await deadLettersOf(original.commandId)).toBe(0);
  });

  it('crash between send and delete (process dies after SendMessage), replay not consumed yet: the next drill re-sends the same id, it executes once, the dead letter is gone', async () => {
    const original = await deadLettered();
    probe.broken = false;
    const replayId = replayCommandIdFor(original.commandId);

    const crashed = await replayPart(dyingAfter('send'), original.commandId);
    expect(crashed.output).toMatchObject({ status: 'failed', newCommandId: replayId });
    expect(await laneDepth()).toBe(1);
    await lockLapses(crashed.item);

    const next = await drill([original.commandId]);
    expect(next.replays).toEqual([expect.objectContaining({ status: 'replayed', newCommandId: replayId })]);
    expect(next.laneDepthAtFirstWait).toBe(2);
    expect(next.evidence.passed).toBe(true);
    expect(probe.executions.get(replayId)).toBe(1);
    expect(await run(replayId)).toMatchObject({ status: 'Completed', attempts: 1, duplicateDeliveries: 2 });
    expect(await deadLettersOf(original.commandId)).toBe(0);
  });

  it('crash between send and delete (process dies after SendMessage), replay already completed: the next drill does not re-send it, reports it and deletes the dead letter', async () => {
    const original = await deadLettered();
    probe.broken = false;
    const replayId = replayCommandIdFor(original.commandId);

    const crashed = await replayPart(dyingAfter('send'), original.commandId);
    expect(crashed.output.status).toBe('failed');
    await pipeline.drain(TEST_LANE); // the replay runs while the dead letter is still locked
    expect(await run(replayId)).toMatchObject({ status: 'Completed', attempts: 1 });
    await lockLapses(crashed.item);

    const next = await drill([original.commandId]);
    expect(next.replays).toEqual([expect.objectContaining({ status: 'replayed', newCommandId: replayId })]);
    expect(next.replays[0]?.detail).toContain('already replayed');
    expect(next.laneDepthAtFirstWait).toBe(0); // not re-sent
    expect(next.evidence).toMatchObject({
      verified: { completed: 1 },
      duplicateProbe: 'passed',
      passed: true,
    });
    expect(probe.executions.get(replayId)).toBe(1);
    // Only the drill's own duplicate probe was a duplicate.
    expect(await run(replayId)).toMatchObject({ attempts: 1, duplicateDeliveries: 1 });
    expect((await run(original.commandId))?.replayedAs).toEqual([replayId]);
    expect(await deadLettersOf(original.commandId)).toBe(0);
  });

  it('leaves a dead letter whose original is still Reserved (an attempt could still finish it) and sends nothing', async () => {
    probe.broken = false;
    const commandId = randomUUID();
    const envelope = anIngestionEnvelope(
      {},
      { commandId, commandType: 'test.switch', correlationId: `at-most-once:${commandId}`, payload: {} },
    );
    // An attempt holds the key (its Lambda is still running, or died and nobody closed the run yet)
    // while SQS already redrove the message.
    await pipeline.store.reserveAttempt({
      envelope,
      attemptId: 'a-live',
      lockExpiresAt: Date.now() + 60_000,
      expiresAt: Math.floor(Date.now() / 1000) + 3600,
      now: new Date(),
    });
    await pipeline.sqs.send(
      new SendMessageCommand({
        QueueUrl: pipeline.queues[TEST_LANE].dlqUrl,
        MessageBody: JSON.stringify(envelope),
      }),
    );
    const result = await drill([commandId]);
    expect(result.replays).toEqual([expect.objectContaining({ status: 'skipped', oldCommandId: commandId })]);
    expect(result.evidence.skippedMessages.map((m) => m.reason)).toEqual(['original_not_closed']);
    expect(await laneDepth()).toBe(0);
    expect(await run(replayCommandIdFor(commandId))).toBeUndefined();
    expect((await run(commandId))?.replayedAs).toBeUndefined();
    expect(await deadLettersOf(commandId)).toBe(1);
    await pipeline.deadLetters(TEST_LANE);
  });

  it('replays a dead-lettered agent.approval.decided after the fix: the approval counts as decided by it, and the action executes exactly once', async () => {
    const api = (method: 'GET' | 'POST', path: string, body?: unknown): ApiRequest => ({
      method,
      path,
      headers: { 'content-type': 'application/json' },
      query: {},
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      requestId: randomUUID(),
      // The household's approver (what the JWT authorizer proves).
      caller: {
        kind: 'household',
        issuer: 'https://auth.runlane.test/',
        subject: 'alice',
        householdId: 'hh-replay',
        role: 'approver',
      },
    });
    const conversation = `conv-replay-${randomUUID().slice(0, 8)}`;
    const posted = await pipeline.api(
      api('POST', `/api/v1/agent/conversations/${conversation}/messages`, {
        householdId: 'hh-replay',
        text: 'transfer 40 to savings',
      }),
    );
    expect(posted.statusCode).toBe(202);
    await pipeline.drain(AGENT_LANE);
    const message = JSON.parse(posted.body) as { commandId: string };
    const approvalId = (await run(message.commandId))?.result?.approvalIds as string[];
    expect(approvalId).toHaveLength(1);
    const approval = approvalId[0] as string;

    actionBug = 'payments integration down';
    const decision = await pipeline.api(
      api('POST', `/api/v1/agent/conversations/${conversation}/approvals/${approval}`, {
        householdId: 'hh-replay',
        decision: 'approve',
        decidedBy: 'alice',
      }),
    );
    expect(decision.statusCode).toBe(202);
    const decisionId = (JSON.parse(decision.body) as { commandId: string }).commandId;
    await pipeline.drain(AGENT_LANE);
    // Decided by the dead-lettered command, the action never ran.
    expect(await run(decisionId)).toMatchObject({ keyStatus: 'Rejected', status: 'NeedsReview' });
    const history = async () =>
      (await pipeline.actions.history('hh-replay')).filter((h) => h.approvalId === approval);
    expect(await history()).toEqual([]);
    const approvalItem = async () =>
      (
        await pipeline.documents.send(
          new GetCommand({
            TableName: pipeline.tableName,
            Key: { pk: `APPROVAL#${approval}`, sk: 'APPROVAL' },
          }),
        )
      ).Item;
    expect(await approvalItem()).toMatchObject({ status: 'Approved', decidedByCommandId: decisionId });

    actionBug = undefined; // the fix is deployed
    const replayId = replayCommandIdFor(decisionId);
    const result = await drill([decisionId], AGENT_LANE);
    expect(result.replays).toEqual([expect.objectContaining({ status: 'replayed', newCommandId: replayId })]);
    expect(result.evidence).toMatchObject({
      verified: { completed: 1 },
      duplicateProbe: 'passed',
      passed: true,
    });
    const replayed = await run(replayId);
    expect(replayed).toMatchObject({ status: 'Completed', replayOf: decisionId, attempts: 1 });
    expect(replayed?.stages.at(-1)).toMatchObject({ outcomeCode: 'action_executed' });
    expect(replayed?.result).toMatchObject({ approvalId: approval, executedNow: true });
    expect(replayed?.signals).toEqual([]);
    expect(await history()).toEqual([expect.objectContaining({ approvalId: approval, commandId: replayId })]);
    const decided = await approvalItem();
    expect(decided).toMatchObject({ status: 'Approved', decidedByCommandId: decisionId });
    expect([...((decided?.decisionCommandIds as Set<string> | undefined) ?? [])].sort()).toEqual(
      [decisionId, replayId].sort(),
    );
    expect(await deadLettersOf(decisionId, AGENT_LANE)).toBe(0);
  });

  it('the approval store takes a replay (and a replay of a replay) of the deciding command as the same decision, nothing else', async () => {
    const store = new DynamoDbApprovalStore({ client: pipeline.documents, tableName: pipeline.tableName });
    const approvalId = `apr-${randomUUID().replaceAll('-', '').slice(0, 24)}`;
    // The requesting command's run is Completed: only then is its approval request decidable.
    const requester = anEnvelope({ householdId: 'hh-store' });
    await pipeline.worker('runtime-agent-message-posted')(
      [anSqsRecord(JSON.stringify(requester))],
      aLambdaContext(),
    );
    await pipeline.documents.send(
      new PutCommand({
        TableName: pipeline.tableName,
        Item: recordToItem({
          kind: 'approvalRequest',
          approvalId,
          conversationId: 'conv-store',
          householdId: 'hh-store',
          requestedByCommandId: requester.commandId,
          correlationId: 'c',
          requestedAt: new Date().toISOString(),
          action: { action: 'transfer_funds', impact: 'high', summary: 's', parameters: {} },
        }),
      }),
    );
    const decide = (commandId: string, replayOf?: string, decision: 'approve' | 'reject' = 'approve') =>
      store.decide({
        approvalId,
        householdId: 'hh-store',
        conversationId: 'conv-store',
        decision,
        commandId,
        replayOf,
        rationale: `by ${commandId}`,
        now: new Date(),
      });
    const decider = randomUUID();
    const replay = replayCommandIdFor(decider);
    const replayOfReplay = replayCommandIdFor(replay);
    const stranger = randomUUID();

    expect(await decide(decider)).toMatchObject({ outcome: 'decided' });
    expect(await decide(decider)).toMatchObject({ outcome: 'already_decided_by_this_command' });
    expect(await decide(replay, decider)).toMatchObject({
      outcome: 'already_decided_by_this_command',
      approval: { status: 'Approved', decidedByCommandId: decider, decisionRationale: `by ${decider}` },
    });
    expect(await decide(replayOfReplay, replay)).toMatchObject({
      outcome: 'already_decided_by_this_command',
    });
    // Not the same decision: another command, a replay of another command, the opposite decision.
    expect(await decide(stranger)).toMatchObject({
      outcome: 'already_decided',
      approval: { decidedByCommandId: decider },
    });
    expect(await decide(replayCommandIdFor(stranger), stranger)).toMatchObject({
      outcome: 'already_decided',
    });
    expect(await decide(replayCommandIdFor(replayOfReplay), replayOfReplay, 'reject')).toMatchObject({
      outcome: 'already_decided',
    });
    const item = (
      await pipeline.documents.send(
        new GetCommand({
          TableName: pipeline.tableName,
          Key: { pk: `APPROVAL#${approvalId}`, sk: 'APPROVAL' },
        }),
      )
    ).Item;
    expect([...((item?.decisionCommandIds as Set<string> | undefined) ?? [])].sort()).toEqual(
      [decider, replay, replayOfReplay].sort(),
    );
  });
});
