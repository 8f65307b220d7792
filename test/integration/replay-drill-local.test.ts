/**
 * The synthesized ReplayDrill definition (from a stack template with every lane, tokens
 * joined with placeholder ARNs) executed by aws-local-stepfunctions with every
 * Task state bound to a FAKE dispatcher: pure functions returning
 * contract-shaped outputs. Proves the control flow only; the real dispatcher
 * against the local stack is tested elsewhere.
 */
import { Template } from 'aws-cdk-lib/assertions';
import type { StateMachineDefinition } from 'aws-local-stepfunctions';
import { beforeAll, describe, expect, it } from 'vitest';
import { LANES } from '#contracts/lanes.js';
import type {
  DeadLetterItem,
  DrillEvidence,
  DuplicateProbeInput,
  DuplicateProbeOutput,
  ReadDeadLettersOutput,
  RecordEvidenceInput,
  ReplayDrillInput,
  ReplayMessageInput,
  ReplayMessageOutput,
  VerifyProbeOutput,
  VerifyRunsInput,
  VerifyRunsOutput,
} from '#contracts/replay-drill.js';
import { CommandLane } from '#lib/lanes/command-lane.js';
import { NO_DEADLINE, ReplayDrill, REPLAY_DRILL_STATES as S } from '#lib/replay/replay-drill.js';
import {
  type DispatcherCall,
  LocalDrillExecutionError,
  type LocalDrillRun,
  type ReplayDrillEvent,
  replayDrillDefinitionFromTemplate,
  runReplayDrillLocally,
  statesOfType,
} from '#local/emulators/replay-drill-runner.js';
import { laneFixture } from '../infra/support.js';

const LANE = 'runtime-ingestion-completed';

interface Scenario {
  readonly items: readonly DeadLetterItem[];
  /** Verify polls after which a run is finished (default 1); Infinity = never. */
  readonly pollsUntilDone?: number;
  /** Message ids whose replay throws. */
  readonly throwOn?: readonly string[];
  /** VerifyProbe answers pending this many times before passing (default 0). */
  readonly probePendingPolls?: number;
}

function item(n: number, overrides: Partial<DeadLetterItem> = {}): DeadLetterItem {
  return {
    lane: LANE,
    messageId: `m${n}`,
    receiptHandle: `r${n}`,
    body: JSON.stringify({ commandId: `c${n}` }),
    reason: 'handler_failed',
    rationale: 'boom',
    commandId: `c${n}`,
    correlationId: `corr${n}`,
    receiveCount: 5,
    sentAt: 1_700_000_000_000,
    ...overrides,
  };
}

/** A dispatcher made of pure functions over the scenario; keeps the calls. */
function fakeDispatcher(scenario: Scenario) {
  let verifyPolls = 0;
  let probePolls = 0;
  const steps = {
    readDeadLetters: (input: ReplayDrillInput): ReadDeadLettersOutput => ({
      drillId: input.drillId,
      lane: input.lane,
      dryRun: input.dryRun,
      verifyTimeoutSeconds: input.verifyTimeoutSeconds,
      items: scenario.items.slice(0, input.maxMessages),
    }),
    replayMessage: (input: ReplayMessageInput): ReplayMessageOutput => {
      const { item: dl } = input;
      if (scenario.throwOn?.includes(dl.messageId)) throw new Error(`cannot replay ${dl.messageId}`);
      const base = { messageId: dl.messageId, oldCommandId: dl.commandId ?? null };
      if (dl.reason === 'invalid_json' || dl.reason === 'invalid_envelope') {
        return { ...base, newCommandId: null, status: 'skipped', detail: dl.reason };
      }
      if (input.dryRun) return { ...base, newCommandId: null, status: 'would_replay', detail: 'dry run' };
      return { ...base, newCommandId: `new-${dl.commandId}`, status: 'replayed', detail: 'replayed' };
    },
    verifyRuns: (input: VerifyRunsInput): VerifyRunsOutput => {
      verifyPolls += 1;
      const finished = verifyPolls >= (scenario.pollsUntilDone ?? 1);
      const timedOut = !finished && input.deadline === 0;
      const runs = input.newCommandIds.map((commandId) => ({
        commandId,
        status: finished ? 'Completed' : 'Running',
        keyStatus: finished ? 'Completed' : 'Reserved',
        verdict: finished ? ('completed' as const) : timedOut ? ('timed_out' as const) : ('pending' as const),
      }));
      return {
        done: runs.every((run) => run.verdict !== 'pending'),
        runs,
        nextWaitSeconds: Math.min(30, input.waitSeconds * 2),
        deadline: input.deadline,
      };
    },
    duplicateProbe: (input: DuplicateProbeInput): DuplicateProbeOutput => {
      const target = input.dryRun ? undefined : input.runs.find((run) => run.verdict === 'completed');
      if (!target) return { commandId: null, before: null, deadline: input.deadline, waitSeconds: 1 };
      return {
        commandId: target.commandId,
        before: { attempts: 1, FinalizedAtUtc: '2026-01-01T00:00:00.000Z', duplicateDeliveries: 0 },
        deadline: input.deadline,
        waitSeconds: 1,
      };
    },
    verifyProbe: (input: DuplicateProbeOutput): VerifyProbeOutput => {
      probePolls += 1;
      const next = Math.min(30, input.waitSeconds * 2);
      if (!input.commandId)
        return { ...input, waitSeconds: next, done: true, verdict: 'skipped', detail: '' };
      if (probePolls > (scenario.probePendingPolls ?? 0)) {
        return { ...input, waitSeconds: next, done: true, verdict: 'passed', detail: 'duplicate seen' };
      }
      if (input.deadline === 0) {
        return { ...input, waitSeconds: next, done: true, verdict: 'failed', detail: 'not seen in time' };
      }
      return { ...input, waitSeconds: next, done: false, verdict: 'pending', detail: '' };
    },
    recordEvidence: (input: RecordEvidenceInput): DrillEvidence => {
      const count = (status: ReplayMessageOutput['status']) =>
        input.replays.filter((r) => r.status === status).length;
      const verdicts = input.verification?.runs.map((run) => run.verdict) ?? [];
      const verified = {
        completed: verdicts.filter((v) => v === 'completed').length,
        needsReview: verdicts.filter((v) => v === 'needs_review').length,
        deadLettered: verdicts.filter((v) => v === 'dead_lettered').length,
        timedOut: verdicts.filter((v) => v === 'timed_out').length,
      };
      const duplicateProbe = input.probe?.verdict ?? 'skipped';
      return {
        drillId: input.drillId,
        lane: input.lane,
        dryRun: input.dryRun,
        finishedAt: '2026-01-01T00:00:00.000Z',
        found: input.replays.length,
        replayed: count('replayed'),
        alreadyCompleted: count('already_completed'),
        skipped: count('skipped'),
        failed: count('failed'),
        verified,
        duplicateProbe,
        passed:
          verified.completed === count('replayed') &&
          count('failed') === 0 &&
          (duplicateProbe === 'passed' || duplicateProbe === 'skipped'),
        links: input.replays.flatMap((r) =>
          r.status === 'replayed' && r.oldCommandId && r.newCommandId
            ? [{ old: r.oldCommandId, new: r.newCommandId }]
            : [],
        ),
        skippedMessages: input.replays.flatMap((r) =>
          r.status === 'skipped' ? [{ messageId: r.messageId, reason: r.detail }] : [],
        ),
      };
    },
  };
  const handler = (event: ReplayDrillEvent): unknown => {
    const step = steps[event.step] as ((input: unknown) => unknown) | undefined;
    if (!step) throw new Error(`unknown step ${event.step}`);
    return step(event.input);
  };
  return { handler };
}

function drillInput(overrides: Partial<ReplayDrillInput> = {}): ReplayDrillInput {
  return {
    drillId: 'drill-1',
    lane: LANE,
    maxMessages: 10,
    dryRun: false,
    verifyTimeoutSeconds: 60,
    ...overrides,
  };
}

const callsOf = (calls: readonly DispatcherCall[], step: string) =>
  calls.filter((call) => call.step === step);

describe('ReplayDrill definition executed locally (fake dispatcher)', () => {
  let definition: StateMachineDefinition;

  beforeAll(() => {
    const { stack, lifecycle, telemetry } = laneFixture();
    const lanes = LANES.map(
      (definition) =>
        new CommandLane(stack, definition.id, {
          lane: definition,
          environmentName: 'dev',
          lifecycle,
          telemetry,
        }),
    );
    new ReplayDrill(stack, 'ReplayDrill', { environmentName: 'dev', lanes, lifecycle, telemetry });
    definition = replayDrillDefinitionFromTemplate(Template.fromStack(stack).toJSON());
  });

  async function run(scenario: Scenario, input: Partial<ReplayDrillInput> = {}): Promise<LocalDrillRun> {
    return runReplayDrillLocally({
      definition,
      handler: fakeDispatcher(scenario).handler,
      input: drillInput(input),
    });
  }

  it('binds every Task state, inside the Map too, with placeholder ARNs for the tokens', () => {
    expect(statesOfType(definition, 'Task').sort()).toEqual(
      [
        S.readDeadLetters,
        S.replayMessage,
        S.verifyRuns,
        S.duplicateProbe,
        S.verifyProbe,
        S.recordEvidence,
      ].sort(),
    );
    expect(JSON.stringify(definition)).toMatch(/arn:aws:lambda:us-east-1:123456789012:function:ReplayDrill/);
  });

  it('happy path: replays every message, verifies, probes the duplicate, records the evidence', async () => {
    const result = await run({ items: [item(1), item(2), item(3)] });
    const evidence = result.output as DrillEvidence;
    expect(evidence).toMatchObject({
      drillId: 'drill-1',
      found: 3,
      replayed: 3,
      failed: 0,
      verified: { completed: 3, timedOut: 0 },
      duplicateProbe: 'passed',
      passed: true,
    });
    expect(evidence.links).toEqual([
      { old: 'c1', new: 'new-c1' },
      { old: 'c2', new: 'new-c2' },
      { old: 'c3', new: 'new-c3' },
    ]);
    // The payload is { step, input } with the step's contract input.
    expect(result.calls[0]).toEqual({
      state: S.readDeadLetters,
      step: 'readDeadLetters',
      input: drillInput(),
    });
    expect(callsOf(result.calls, 'replayMessage').map((call) => call.input)).toEqual(
      [1, 2, 3].map((n) => ({ drillId: 'drill-1', dryRun: false, item: item(n) })),
    );
    expect(callsOf(result.calls, 'verifyRuns').map((call) => call.input)).toEqual([
      { newCommandIds: ['new-c1', 'new-c2', 'new-c3'], deadline: NO_DEADLINE, waitSeconds: 1 },
    ]);
    expect(callsOf(result.calls, 'duplicateProbe')[0]?.input).toMatchObject({
      lane: LANE,
      dryRun: false,
      deadline: NO_DEADLINE,
    });
    expect(callsOf(result.calls, 'recordEvidence')).toHaveLength(1);
    expect(result.statesEntered.at(-1)).toBe(S.done);
  });

  it('a replay that throws is caught, reported failed with its ids, and the drill goes on', async () => {
    const result = await run({
      items: [item(1), item(2), item(3, { commandId: undefined })],
      throwOn: ['m2', 'm3'],
    });
    const recorded = callsOf(result.calls, 'recordEvidence')[0]?.input as RecordEvidenceInput;
    expect(recorded.replays).toEqual([
      { messageId: 'm1', oldCommandId: 'c1', newCommandId: 'new-c1', status: 'replayed', detail: 'replayed' },
      expect.objectContaining({
        messageId: 'm2',
        oldCommandId: 'c2',
        newCommandId: null,
        status: 'failed',
        detail: expect.stringMatching(/^replayMessage failed: /),
      }),
      expect.objectContaining({ messageId: 'm3', oldCommandId: null, newCommandId: null, status: 'failed' }),
    ]);
    expect(callsOf(result.calls, 'verifyRuns')[0]?.input).toMatchObject({ newCommandIds: ['new-c1'] });
    expect(result.output).toMatchObject({ found: 3, replayed: 1, failed: 2, passed: false });
    expect(result.statesEntered).toContain(S.replayFailed);
  });

  it('skipped (non-replayable) messages are reported and never verified', async () => {
    const result = await run({ items: [item(1), item(2, { reason: 'invalid_json', commandId: undefined })] });
    expect(result.output).toMatchObject({
      replayed: 1,
      skipped: 1,
      skippedMessages: [{ messageId: 'm2', reason: 'invalid_json' }],
    });
    expect(callsOf(result.calls, 'verifyRuns')[0]?.input).toMatchObject({ newCommandIds: ['new-c1'] });
  });

  it('polls until the runs are done, with the wait each poll returned', async () => {
    const result = await run({ items: [item(1)], pollsUntilDone: 3, probePendingPolls: 2 });
    const polls = callsOf(result.calls, 'verifyRuns').map((call) => call.input as VerifyRunsInput);
    expect(polls.map((poll) => poll.waitSeconds)).toEqual([1, 2, 4]);
    expect(polls.every((poll) => poll.deadline === NO_DEADLINE)).toBe(true);
    expect(result.statesEntered.filter((state) => state === S.waitForRuns)).toHaveLength(3);
    expect(callsOf(result.calls, 'verifyProbe')).toHaveLength(3);
    expect(result.output).toMatchObject({
      verified: { completed: 1 },
      duplicateProbe: 'passed',
      passed: true,
    });
  });

  it('verify timeout: once the waits reach verifyTimeoutSeconds the last poll gets deadline 0', async () => {
    const result = await run(
      { items: [item(1), item(2)], pollsUntilDone: Infinity },
      { verifyTimeoutSeconds: 10 },
    );
    const polls = callsOf(result.calls, 'verifyRuns').map((call) => call.input as VerifyRunsInput);
    // waits 1, 2, 4 (7 s) stay under 10 s; after the wait of 8 (15 s) comes the last poll.
    expect(polls.map((poll) => [poll.waitSeconds, poll.deadline])).toEqual([
      [1, NO_DEADLINE],
      [2, NO_DEADLINE],
      [4, NO_DEADLINE],
      [8, 0],
    ]);
    expect(result.statesEntered).toContain(S.lastRunsPoll);
    expect(result.output).toMatchObject({
      replayed: 2,
      verified: { completed: 0, timedOut: 2 },
      duplicateProbe: 'skipped',
      passed: false,
    });
  });

  it('probe timeout: a duplicate never seen fails the probe after its own budget', async () => {
    const result = await run({ items: [item(1)], probePendingPolls: Infinity }, { verifyTimeoutSeconds: 3 });
    const probes = callsOf(result.calls, 'verifyProbe').map((call) => call.input as DuplicateProbeOutput);
    expect(probes.map((probe) => probe.deadline)).toEqual([NO_DEADLINE, 0]);
    expect(result.output).toMatchObject({ duplicateProbe: 'failed', passed: false });
  });

  it('empty DLQ: no replay, no verification, no probe; evidence with nulls', async () => {
    const result = await run({ items: [] });
    expect(result.calls.map((call) => call.step)).toEqual(['readDeadLetters', 'recordEvidence']);
    expect(result.calls[1]?.input).toEqual({
      drillId: 'drill-1',
      lane: LANE,
      dryRun: false,
      replays: [],
      verification: null,
      probe: null,
    });
    expect(result.output).toMatchObject({ found: 0, passed: true });
  });

  it('dry run: would_replay results, nothing to verify', async () => {
    const result = await run({ items: [item(1), item(2)] }, { dryRun: true });
    expect(result.calls.map((call) => call.step)).toEqual([
      'readDeadLetters',
      'replayMessage',
      'replayMessage',
      'recordEvidence',
    ]);
    expect(result.output).toMatchObject({ found: 2, replayed: 0 });
  });

  it('a failing step outside the Map fails the execution with what ran so far', async () => {
    const failing = (event: ReplayDrillEvent) => {
      if (event.step === 'readDeadLetters') throw new Error('DLQ unreachable');
      return null;
    };
    const error = await runReplayDrillLocally({ definition, handler: failing, input: drillInput() }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(LocalDrillExecutionError);
    expect((error as LocalDrillExecutionError).run.calls.map((call) => call.step)).toEqual([
      'readDeadLetters',
    ]);
  });
});
