import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { RunRecord, Stage } from '#contracts/lifecycle.js';
import type { DrillExecution } from '#local/stack/drill-commands.js';
import { checkSoak } from '../../soak/check.js';
import type { DeadLetter, Observed } from '../../soak/collect.js';
import type { AcceptedCommand } from '../../soak/ledger.js';

/**
 * The soak's final check (soak/check.ts) on made-up store contents: it must find what is lost,
 * stuck or done twice, and must not blame at-least-once delivery on the platform.
 */
const KILLED_PID = 111;
const LIVE_PID = 222;

function aRun(commandId: string, overrides: Partial<RunRecord> = {}): RunRecord {
  return {
    runId: commandId,
    commandId,
    commandType: 'drill.flaky',
    lane: 'runtime-ingestion-completed',
    correlationId: `soak:${commandId}`,
    householdId: 'soak-hh-1',
    issuedAt: '2026-01-01T00:00:00.000Z',
    status: 'Completed',
    keyStatus: 'Completed',
    attempts: 1,
    stages: [stage(1, 'drill_recovered')],
    signals: [],
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:01.000Z',
    expiresAt: 0,
    ...overrides,
  };
}

function stage(attempt: number, outcomeCode: string | undefined): Stage {
  return {
    name: 'execute',
    attempt,
    startedAt: '2026-01-01T00:00:00.000Z',
    ...(outcomeCode ? { endedAt: '2026-01-01T00:00:01.000Z', outcomeCode } : {}),
  };
}

function effect(commandId: string, attempt: number, pid: number): DrillExecution {
  return {
    kind: 'effect',
    commandId,
    effectKey: commandId,
    commandType: 'drill.flaky',
    attempt,
    pid,
    at: '2026-01-01T00:00:00.500Z',
  };
}

function drill(commandId: string): AcceptedCommand {
  return { commandId, kind: 'drill.ok', via: 'producer', poison: false };
}

function observed(parts: Partial<Observed>): Observed {
  return {
    runs: new Map(),
    findingSignals: new Map(),
    conversationMessages: new Map(),
    approvals: new Map(),
    actions: new Map(),
    deadLetters: [],
    executions: [],
    unreadableExecutionLines: 0,
    ...parts,
  };
}

function check(
  accepted: AcceptedCommand[],
  parts: Partial<Observed>,
  clientKeys = new Map<string, Set<string>>(),
) {
  return checkSoak({ accepted, clientKeys, observed: observed(parts), killedPids: new Set([KILLED_PID]) });
}

function letter(body: string, reason: string | undefined, commandId?: string): DeadLetter {
  return { lane: 'runtime-ingestion-completed', messageId: randomUUID(), body, reason, commandId };
}

describe('the soak check', () => {
  it('passes a drill command that completed with one side effect', () => {
    const id = randomUUID();
    const verdict = check([drill(id)], {
      runs: new Map([[id, aRun(id)]]),
      executions: [effect(id, 1, LIVE_PID)],
    });
    expect(verdict.findings).toEqual([]);
    expect(verdict.completed).toBe(1);
  });

  it('counts an accepted command with no run and nothing in a DLQ as lost', () => {
    const verdict = check([drill(randomUUID())], {});
    expect(verdict.lost).toBe(1);
  });

  it('counts a run left Running with its key Reserved as stuck', () => {
    const id = randomUUID();
    const run = aRun(id, { status: 'Running', keyStatus: 'Reserved', stages: [stage(1, undefined)] });
    const verdict = check([drill(id)], { runs: new Map([[id, run]]) });
    expect(verdict.stuck).toBe(1);
    expect(verdict.stuckByState).toEqual({ 'Running/Reserved': 1 });
  });

  it('counts NeedsReview without a RequiresHumanReview signal as stuck, and with one as needs review', () => {
    const withSignal = randomUUID();
    const without = randomUUID();
    const signal = {
      type: 'ingestion_error_ratio_exceeded',
      RequiresHumanReview: true,
      code: 'x',
      rationale: 'x',
      raisedAt: '2026-01-01T00:00:00.000Z',
      attempt: 1,
    };
    const runs = new Map([
      [withSignal, aRun(withSignal, { status: 'NeedsReview', signals: [signal] })],
      [without, aRun(without, { status: 'NeedsReview' })],
    ]);
    const verdict = check(
      [
        { commandId: withSignal, kind: 'ingestion.over_threshold', via: 'producer', poison: false },
        { commandId: without, kind: 'ingestion.over_threshold', via: 'producer', poison: false },
      ],
      { runs },
    );
    expect(verdict.needsReview).toBe(1);
    expect(verdict.stuck).toBe(1);
  });

  it('counts two side effects of one command in a live stack as a duplicate effect', () => {
    const id = randomUUID();
    const run = aRun(id, { attempts: 2, stages: [stage(1, 'drill_recovered'), stage(2, 'drill_recovered')] });
    const verdict = check([drill(id)], {
      runs: new Map([[id, run]]),
      executions: [effect(id, 1, LIVE_PID), effect(id, 2, LIVE_PID)],
    });
    expect(verdict.duplicateEffects).toBe(1);
  });

  it('does not count the effect of an attempt that died with a killed stack before recording its end', () => {
    const id = randomUUID();
    const run = aRun(id, {
      attempts: 2,
      stages: [stage(1, 'attempt_abandoned'), stage(2, 'drill_recovered')],
    });
    const verdict = check([drill(id)], {
      runs: new Map([[id, run]]),
      executions: [effect(id, 1, KILLED_PID), effect(id, 2, LIVE_PID)],
    });
    expect(verdict.duplicateEffects).toBe(0);
    expect(verdict.effectsOfDeadAttempts).toBe(1);
  });

  it('still counts a duplicate when the killed attempt had recorded its completion', () => {
    const id = randomUUID();
    const run = aRun(id, { attempts: 2, stages: [stage(1, 'drill_recovered'), stage(2, 'drill_recovered')] });
    const verdict = check([drill(id)], {
      runs: new Map([[id, run]]),
      executions: [effect(id, 1, KILLED_PID), effect(id, 2, LIVE_PID)],
    });
    expect(verdict.duplicateEffects).toBe(1);
  });

  it('counts a Completed drill command without its side effect as a missing effect', () => {
    const id = randomUUID();
    expect(check([drill(id)], { runs: new Map([[id, aRun(id)]]) }).missingEffects).toBe(1);
  });

  it('finds poison by the token in its body: with a reason it is dead-lettered, without one stuck, absent lost', () => {
    const [found, reasonless, absent] = [randomUUID(), randomUUID(), randomUUID()];
    const poison = (token: string): AcceptedCommand => ({
      commandId: token,
      kind: 'poison.invalid_json',
      via: 'producer',
      poison: true,
    });
    const verdict = check([poison(found), poison(reasonless), poison(absent)], {
      deadLetters: [letter(`not json ${found}`, 'invalid_json'), letter(`{"x":"${reasonless}"`, undefined)],
    });
    expect(verdict.deadLettered).toEqual({ invalid_json: 1 });
    expect(verdict.stuck).toBe(1);
    expect(verdict.lost).toBe(1);
  });

  it('counts a finished run that is also dead-lettered with a reason as conflicting', () => {
    const id = randomUUID();
    const verdict = check([drill(id)], {
      runs: new Map([[id, aRun(id)]]),
      executions: [effect(id, 1, LIVE_PID)],
      deadLetters: [letter('{}', 'handler_failed', id)],
    });
    expect(verdict.conflicting).toBe(1);
  });

  it('counts one Idempotency-Key answered with two commandIds as a duplicate effect', () => {
    const verdict = check([], {}, new Map([['soak-key', new Set([randomUUID(), randomUUID()])]]));
    expect(verdict.duplicateEffects).toBe(1);
  });

  it('counts an approval whose action was executed twice as a duplicate effect', () => {
    const [first, second] = [randomUUID(), randomUUID()];
    const approvalId = 'apr-000000000000000000000001';
    const decision = (commandId: string): AcceptedCommand => ({
      commandId,
      kind: 'api.approval',
      via: 'api',
      poison: false,
      approvalId,
      decision: 'approve',
    });
    const executed = (commandId: string) => ({
      approvalId,
      commandId,
      idempotencyKey: `${commandId}:${approvalId}`,
    });
    const verdict = check([decision(first), decision(second)], {
      runs: new Map([
        [
          first,
          aRun(first, { commandType: 'agent.approval.decided', stages: [stage(1, 'action_executed')] }),
        ],
        [
          second,
          aRun(second, { commandType: 'agent.approval.decided', stages: [stage(1, 'action_executed')] }),
        ],
      ]),
      actions: new Map([[approvalId, [executed(first), executed(second)]]]),
    });
    expect(verdict.duplicateEffects).toBe(1);
  });
});
