/**
 * The final check of the soak, a pure function of what was accepted and what the stores hold:
 * every accepted command must end in exactly one terminal state (DESIGN §3, the invariant) —
 * Completed; NeedsReview with a RequiresHumanReview signal; or dead-lettered with a reason (key
 * Rejected with its reason, or, for poison, a message in the lane DLQ with its `reason`
 * attribute) — and its side effect must have happened at most once.
 *
 * - lost: accepted, yet no run and nothing in a DLQ.
 * - stuck: something exists but is not terminal (a run Running or Reserved, NeedsReview without
 *   a signal, a command only in a DLQ without a reason).
 * - duplicate effects: a command whose effect happened more than once — a drill command with two
 *   side-effect records, one client request (Idempotency-Key) that became two commands, an
 *   approval whose action was executed twice. An effect recorded by an attempt that died with a
 *   killed stack before it could record its completion (its stage is left open or closed
 *   `attempt_abandoned`) is at-least-once delivery meeting a handler that is not idempotent, not
 *   the platform running a finished command again: it is counted apart ("effects of attempts that
 *   died") and does not count as a duplicate.
 * - conflicting: two terminal states at once (a finished run and a dead letter with a reason, or
 *   a dead-lettered command whose effect happened).
 * - missing effects: Completed, yet its effect is not there.
 */
import { FAILURE_CODES, KEY_STATUS, RUN_STATUS, type RunRecord } from '#contracts/lifecycle.js';
import type { DrillExecution } from '#local/stack/drill-commands.js';
import type { DeadLetter, Observed } from './collect.js';
import type { AcceptedCommand } from './ledger.js';
import type { AnyKind } from './plan.js';

export type Problem = 'lost' | 'stuck' | 'duplicate effect' | 'conflicting' | 'missing effect';

export interface Finding {
  readonly problem: Problem;
  readonly commandId: string;
  readonly kind: AnyKind | 'client request' | 'approval';
  readonly detail: string;
}

export interface Verdict {
  readonly accepted: number;
  readonly acceptedByKind: Readonly<Record<string, number>>;
  /** How each kind ended: `completed`, `needs review`, `dead-lettered <reason>`, `stuck`, `lost`. */
  readonly outcomesByKind: Readonly<Record<string, Readonly<Record<string, number>>>>;
  readonly completed: number;
  readonly needsReview: number;
  /** Dead-lettered commands (Rejected runs and poison), by reason. */
  readonly deadLettered: Readonly<Record<string, number>>;
  readonly lost: number;
  readonly stuck: number;
  readonly duplicateEffects: number;
  readonly conflicting: number;
  readonly missingEffects: number;
  /** Stuck commands by what was found: `Running/Reserved`, `in a DLQ without a reason`, … */
  readonly stuckByState: Readonly<Record<string, number>>;
  /** Effects recorded by attempts that died with a killed stack before recording their completion. */
  readonly effectsOfDeadAttempts: number;
  readonly drillExecutions: number;
  /** Messages in the lane DLQs. */
  readonly deadLetters: number;
  readonly reasonlessDeadLetters: number;
  /** Rejected runs with no dead letter carrying their reason (a replay would not find them). */
  readonly rejectedWithoutDeadLetter: number;
  /** Dead letters with a reason beyond the first, for one command. */
  readonly extraDeadLetters: number;
  /** Dead letters that name no accepted command (e.g. a send that was never acknowledged). */
  readonly unmatchedDeadLetters: number;
  /** Runs waiting on a worker host (the soak creates none). */
  readonly delegated: number;
  readonly findings: readonly Finding[];
  /** Examples of what is counted but does not fail the soak (extra dead letters, effects of attempts that died, …). */
  readonly notes: readonly string[];
}

type Terminal =
  | { readonly state: 'completed' }
  | { readonly state: 'needs_review' }
  | { readonly state: 'dead_lettered'; readonly reason: string }
  | { readonly state: 'stuck'; readonly what: string }
  | { readonly state: 'lost' };

const MAX_NOTES = 30;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
const DRILL_KINDS: ReadonlySet<AnyKind> = new Set([
  'drill.ok',
  'drill.flaky',
  'drill.failing',
  'drill.hang_final',
  'drill.hang_first',
]);

/**
 * @example
 * const verdict = checkSoak({ accepted: [...ledger.accepted.values()], clientKeys: ledger.clientKeys,
 *   observed, killedPids: new Set(stack.killedPids) });
 * verdict.lost + verdict.stuck + verdict.duplicateEffects; // 0 when the invariant held
 */
export function checkSoak(input: {
  readonly accepted: readonly AcceptedCommand[];
  readonly clientKeys: ReadonlyMap<string, ReadonlySet<string>>;
  readonly observed: Observed;
  readonly killedPids: ReadonlySet<number>;
}): Verdict {
  const { accepted, observed, killedPids } = input;
  const findings: Finding[] = [];
  const notes: string[] = [];
  const noteOnce = (text: string) => {
    if (notes.length < MAX_NOTES) notes.push(text);
  };
  const letters = indexDeadLetters(observed.deadLetters);
  const effectsByKey = new Map<string, DrillExecution[]>();
  for (const execution of observed.executions) {
    if (execution.kind !== 'effect') continue;
    effectsByKey.set(execution.effectKey, [...(effectsByKey.get(execution.effectKey) ?? []), execution]);
  }
  const approvalRequesters = new Set([...observed.approvals.values()].map((a) => a.requestedByCommandId));
  const acceptedByKind: Record<string, number> = {};
  const outcomesByKind: Record<string, Record<string, number>> = {};
  const deadLettered: Record<string, number> = {};
  const stuckByState: Record<string, number> = {};
  const matchedLetters = new Set<string>();
  let completed = 0;
  let needsReview = 0;
  let extraDeadLetters = 0;
  let rejectedWithoutDeadLetter = 0;
  let delegated = 0;
  let effectsOfDeadAttempts = 0;

  for (const command of accepted) {
    acceptedByKind[command.kind] = (acceptedByKind[command.kind] ?? 0) + 1;
    const mine = letters.get(command.commandId.toLowerCase()) ?? [];
    for (const letter of mine) matchedLetters.add(letter.messageId);
    const withReason = mine.filter((letter) => letter.reason !== undefined);
    extraDeadLetters += Math.max(0, withReason.length - 1);
    if (withReason.length > 1) {
      noteOnce(
        `${command.kind} ${command.commandId}: ${withReason.length} dead letters (${withReason.map((l) => l.reason).join(', ')})`,
      );
    }
    const run = command.poison ? undefined : observed.runs.get(command.commandId);
    if (run?.delegation) delegated += 1;
    const terminal = terminalOf(command, run, mine, observed);
    const outcome =
      terminal.state === 'dead_lettered'
        ? `dead-lettered ${terminal.reason}`
        : terminal.state.replace('_', ' ');
    const outcomes = outcomesByKind[command.kind] ?? {};
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    outcomesByKind[command.kind] = outcomes;
    const note = (problem: Problem, detail: string) =>
      findings.push({ problem, commandId: command.commandId, kind: command.kind, detail });
    switch (terminal.state) {
      case 'completed':
        completed += 1;
        break;
      case 'needs_review':
        needsReview += 1;
        break;
      case 'dead_lettered':
        deadLettered[terminal.reason] = (deadLettered[terminal.reason] ?? 0) + 1;
        if (run && withReason.length === 0) rejectedWithoutDeadLetter += 1;
        break;
      case 'stuck':
        stuckByState[terminal.what] = (stuckByState[terminal.what] ?? 0) + 1;
        note('stuck', `${terminal.what}${run ? `; ${describeRun(run)}` : ''}`);
        break;
      case 'lost':
        note('lost', command.poison ? 'poison not in any lane DLQ' : 'no run and nothing in a DLQ');
        break;
    }
    const finished = terminal.state === 'completed' || terminal.state === 'needs_review';
    if (finished && withReason.length > 0) {
      note(
        'conflicting',
        `${terminal.state} and dead-lettered ${withReason.map((l) => l.reason).join(', ')}`,
      );
    }
    if (DRILL_KINDS.has(command.kind)) {
      const effects = effectsByKey.get(command.commandId) ?? [];
      const died = effects.filter((e) => killedPids.has(e.pid) && attemptDied(run, e.attempt));
      const live = effects.filter((e) => !died.includes(e));
      effectsOfDeadAttempts += died.length;
      for (const e of died) {
        noteOnce(
          `${command.kind} ${command.commandId}: effect of attempt ${e.attempt} in killed pid ${e.pid} at ${e.at}, run ${run ? describeRun(run) : 'none'}`,
        );
      }
      if (live.length > 1) {
        note(
          'duplicate effect',
          `${live.length} side effects: ${live.map((e) => `attempt ${e.attempt} in pid ${e.pid} at ${e.at}`).join('; ')}` +
            (run ? `; ${describeRun(run)}` : ''),
        );
      }
      if (terminal.state === 'completed' && live.length === 0) {
        note('missing effect', `Completed without a side effect; ${run ? describeRun(run) : ''}`);
      }
      if (terminal.state === 'dead_lettered' && live.length > 0) {
        note(
          'conflicting',
          `dead-lettered ${terminal.reason} although its side effect happened (attempt ${live[0]?.attempt})`,
        );
      }
    }
    if (
      (command.kind === 'api.message' || command.kind === 'api.message.keyed') &&
      terminal.state === 'completed'
    ) {
      if ((observed.conversationMessages.get(command.commandId) ?? 0) === 0) {
        note('missing effect', 'Completed message without its conversation message item');
      }
      if (command.highImpact && !approvalRequesters.has(command.commandId))
        note('missing effect', 'Completed high-impact message without its approval request');
    }
    if (
      command.approvalId &&
      terminal.state === 'completed' &&
      run?.stages.at(-1)?.outcomeCode === 'action_executed'
    ) {
      if ((observed.actions.get(command.approvalId) ?? []).length === 0) {
        note('missing effect', `action_executed without an action history item for ${command.approvalId}`);
      }
    }
  }

  checkClientKeys(input.clientKeys, findings);
  checkActions(accepted, observed, findings);

  const count = (problem: Problem) => findings.filter((f) => f.problem === problem).length;
  return {
    accepted: accepted.length,
    acceptedByKind,
    outcomesByKind,
    completed,
    needsReview,
    deadLettered,
    lost: count('lost'),
    stuck: count('stuck'),
    duplicateEffects: count('duplicate effect'),
    conflicting: count('conflicting'),
    missingEffects: count('missing effect'),
    stuckByState,
    effectsOfDeadAttempts,
    drillExecutions: observed.executions.length,
    deadLetters: observed.deadLetters.length,
    reasonlessDeadLetters: observed.deadLetters.filter((l) => l.reason === undefined).length,
    rejectedWithoutDeadLetter,
    extraDeadLetters,
    unmatchedDeadLetters: observed.deadLetters.filter((l) => !matchedLetters.has(l.messageId)).length,
    delegated,
    findings,
    notes,
  };
}

function terminalOf(
  command: AcceptedCommand,
  run: RunRecord | undefined,
  letters: readonly DeadLetter[],
  observed: Observed,
): Terminal {
  const reason = letters.find((letter) => letter.reason !== undefined)?.reason;
  if (command.poison || !run) {
    if (reason !== undefined) return { state: 'dead_lettered', reason };
    if (letters.length > 0) return { state: 'stuck', what: 'in a DLQ without a reason, no run' };
    return { state: 'lost' };
  }
  if (run.keyStatus === KEY_STATUS.Rejected) {
    return run.deadLetter?.reason
      ? { state: 'dead_lettered', reason: run.deadLetter.reason }
      : { state: 'stuck', what: 'Rejected without a dead-letter reason' };
  }
  if (run.keyStatus === KEY_STATUS.Completed && run.status === RUN_STATUS.Completed)
    return { state: 'completed' };
  if (run.keyStatus === KEY_STATUS.Completed && run.status === RUN_STATUS.NeedsReview) {
    const signals = [...run.signals, ...(observed.findingSignals.get(run.runId) ?? [])];
    return signals.some((s) => s.RequiresHumanReview === true)
      ? { state: 'needs_review' }
      : { state: 'stuck', what: 'NeedsReview without a RequiresHumanReview signal' };
  }
  const where = letters.length > 0 ? ', and in a DLQ without a reason' : '';
  return {
    state: 'stuck',
    what: `${run.status}/${run.keyStatus}${run.delegation ? ' (delegated)' : ''}${where}`,
  };
}

/** An attempt whose process died before it recorded an end: its stage is open or closed as abandoned. */
function attemptDied(run: RunRecord | undefined, attempt: number): boolean {
  return (
    run?.stages.some(
      (stage) =>
        stage.attempt === attempt &&
        (stage.endedAt === undefined || stage.outcomeCode === FAILURE_CODES.attemptAbandoned),
    ) ?? false
  );
}

/** One client request (Idempotency-Key) must become one command, however often it was retried. */
function checkClientKeys(clientKeys: ReadonlyMap<string, ReadonlySet<string>>, findings: Finding[]): void {
  for (const [key, commandIds] of clientKeys) {
    if (commandIds.size <= 1) continue;
    findings.push({
      problem: 'duplicate effect',
      commandId: [...commandIds].join(','),
      kind: 'client request',
      detail: `Idempotency-Key ${key} was answered with ${commandIds.size} different commandIds`,
    });
  }
}

/** An approved action runs once, whichever decision (or retry, or second decision) executed it. */
function checkActions(accepted: readonly AcceptedCommand[], observed: Observed, findings: Finding[]): void {
  const approvalIds = new Set(accepted.flatMap((c) => (c.approvalId ? [c.approvalId] : [])));
  for (const approvalId of approvalIds) {
    const executions = observed.actions.get(approvalId) ?? [];
    if (executions.length > 1) {
      findings.push({
        problem: 'duplicate effect',
        commandId: executions.map((e) => e.commandId).join(','),
        kind: 'approval',
        detail: `approval ${approvalId}: its action was executed ${executions.length} times`,
      });
    }
    for (const execution of executions) {
      const run = observed.runs.get(execution.commandId);
      if (run?.keyStatus === KEY_STATUS.Rejected) {
        findings.push({
          problem: 'conflicting',
          commandId: execution.commandId,
          kind: 'approval',
          detail: `approval ${approvalId}: the action was executed, yet its decision was dead-lettered ${run.deadLetter?.reason ?? ''}`,
        });
      }
    }
  }
}

/** Dead letters by every UUID they carry (commandId attribute, or any UUID in the body: poison tokens). */
function indexDeadLetters(letters: readonly DeadLetter[]): Map<string, DeadLetter[]> {
  const index = new Map<string, DeadLetter[]>();
  for (const letter of letters) {
    const ids = new Set<string>([
      ...(letter.commandId ? [letter.commandId.toLowerCase()] : []),
      ...(letter.body.match(UUID) ?? []).map((id) => id.toLowerCase()),
    ]);
    for (const id of ids) index.set(id, [...(index.get(id) ?? []), letter]);
  }
  return index;
}

function describeRun(run: RunRecord): string {
  const stages = run.stages
    .map((s) => `${s.attempt}:${s.outcomeCode ?? (s.endedAt ? 'ended' : 'open')}`)
    .join(' ');
  const lock = run.lockExpiresAt ? `, lock until ${new Date(run.lockExpiresAt).toISOString()}` : '';
  return `run ${run.status}/${run.keyStatus}, attempts ${run.attempts}, stages [${stages}]${lock}, updated ${run.updatedAt}`;
}
